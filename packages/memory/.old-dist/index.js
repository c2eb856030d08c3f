export { InMemoryMessageBroker } from './in-memory-message-broker.js';
//# sourceMappingURL=index.js.map