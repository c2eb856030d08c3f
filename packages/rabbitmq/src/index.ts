export {
  RabbitMQAdapter,
  type RabbitMQAdapterOptions,
  type RabbitMQReconnectOptions,
  type RabbitMQTlsOptions,
} from './rabbitmq-adapter.js';
