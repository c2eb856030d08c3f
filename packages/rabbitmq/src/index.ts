export { RabbitMQAdapter, type RabbitMQAdapterOptions, type RabbitMQReconnectOptions } from './rabbitmq-adapter.js';
