import { silentLogger } from '@msgport/core';
import { InMemoryMessageBroker } from '@msgport/memory';
import { runConformanceSuite } from '@msgport/testkit';

runConformanceSuite({
  name: 'InMemoryMessageBroker',
  createBroker: () => new InMemoryMessageBroker({ logger: silentLogger }),
  deadLetterTopic: (topic) => `${topic}.DLT`,
  capabilities: {
    retry: true,
    deadLetter: true,
    ordering: true,
    drainOnStop: true,
    restart: true,
    publishResolvesAfterHandling: true,
  },
});
