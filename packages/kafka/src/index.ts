export { KafkaAdapter, type KafkaAdapterOptions, type KafkaSaslOptions } from './kafka-adapter.js';
