export { KafkaAdapter } from './kafka-adapter.js';
export type { KafkaAdapterOptions, KafkaSaslOptions } from './kafka-adapter-options.js';
