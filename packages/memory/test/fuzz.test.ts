import { InMemoryMessageBroker } from '@msgport/memory';
import { runFuzzSuite } from '@msgport/testkit';

runFuzzSuite({
  name: 'InMemoryMessageBroker',
  createBroker: (logger) => new InMemoryMessageBroker({ logger, recordPublished: false }),
  deadLetterTopic: (topic) => `${topic}.DLT`,
  options: {
    create: (options) => new InMemoryMessageBroker(options as ConstructorParameters<typeof InMemoryMessageBroker>[0]),
    base: { recordPublished: false },
    keys: ['retry', 'shutdownTimeoutMs', 'concurrency', 'logger', 'recordPublished'],
  },
});
