import { silentLogger } from '@msgport/core';
import { InMemoryMessageBroker } from '@msgport/memory';
import { runConformanceSuite } from '@msgport/testkit';

runConformanceSuite({
  name: 'InMemoryMessageBroker',
  createBroker: (overrides) => new InMemoryMessageBroker({ logger: silentLogger, ...overrides }),
  deadLetterTopic: (topic) => `${topic}.DLT`,
  capabilities: {
    retry: true,
    deadLetter: true,
    ordering: true,
    drainOnStop: true,
    restart: true,
    publishResolvesAfterHandling: true,
    // One in-memory broker is one process's broker: nothing outlives its last member, and two
    // instances never share topics, so the cases that need several instances do not apply.
    durableGroups: false,
    sharedInstances: false,
  },
});
