export { InMemoryMessageBroker, type InMemoryMessageBrokerOptions } from './in-memory-message-broker.js';
//# sourceMappingURL=index.d.ts.map