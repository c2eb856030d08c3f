export {
  RabbitMQAdapter,
  type RabbitMQAdapterOptions,
  type RabbitMQQueueType,
  type RabbitMQReconnectOptions,
  type RabbitMQTlsOptions,
} from './rabbitmq-adapter.js';
