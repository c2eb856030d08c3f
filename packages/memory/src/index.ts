export { InMemoryMessageBroker, type InMemoryMessageBrokerOptions } from './in-memory-message-broker.js';
