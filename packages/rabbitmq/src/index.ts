export {
  RabbitMQAdapter,
  type RabbitMQAdapterOptions,
  type RabbitMQLegacyPhase,
  type RabbitMQLegacyQueue,
  type RabbitMQQueueType,
  type RabbitMQReconnectOptions,
  type RabbitMQTlsOptions,
} from './rabbitmq-adapter.js';
