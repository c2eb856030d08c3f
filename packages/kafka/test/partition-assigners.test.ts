import { describe, expect, it } from '@jest/globals';
import kafkajs, { type Cluster, type PartitionAssigner } from 'kafkajs';
import {
  assignPartitions,
  createPartitionAssigners,
  protocolNames,
  type GroupSubscription,
} from '../src/internal/partition-assigners.js';

const partitions = (counts: Record<string, number>): Map<string, number[]> =>
  new Map(Object.entries(counts).map(([topic, count]) => [topic, Array.from({ length: count }, (_, i) => i)]));

const plain = (assignment: Map<string, Record<string, number[]>>): Record<string, Record<string, number[]>> =>
  Object.fromEntries(assignment);

describe('partition assigners', () => {
  it('roundrobin deals every partition of every topic in turn, like Java RoundRobinAssignor', () => {
    const members: GroupSubscription[] = [
      { memberId: 'c1', topics: ['t0', 't1'] },
      { memberId: 'c0', topics: ['t1', 't0'] },
    ];
    expect(plain(assignPartitions('roundrobin', members, partitions({ t0: 3, t1: 3 })))).toEqual({
      c0: { t0: [0, 2], t1: [1] },
      c1: { t0: [1], t1: [0, 2] },
    });
  });

  it('roundrobin spreads many single-partition topics over the members', () => {
    const topics = Array.from({ length: 5 }, (_, i) => `t${i}`);
    const members = ['a', 'b'].map((memberId) => ({ memberId, topics }));
    const result = assignPartitions('roundrobin', members, partitions(Object.fromEntries(topics.map((t) => [t, 1]))));
    expect(Object.keys(result.get('a')!)).toEqual(['t0', 't2', 't4']);
    expect(Object.keys(result.get('b')!)).toEqual(['t1', 't3']);
  });

  it('range gives each subscribed member consecutive partitions per topic, the first ones one more', () => {
    const members: GroupSubscription[] = [
      { memberId: 'c0', topics: ['t0', 't1'] },
      { memberId: 'c1', topics: ['t0', 't1'] },
    ];
    expect(plain(assignPartitions('range', members, partitions({ t0: 3, t1: 3 })))).toEqual({
      c0: { t0: [0, 1], t1: [0, 1] },
      c1: { t0: [2], t1: [2] },
    });
  });

  it.each(['roundrobin', 'range'] as const)(
    '%s gives a partition only to members subscribed to its topic, and every partition of every subscribed topic to someone',
    (strategy) => {
      const members: GroupSubscription[] = [
        { memberId: 'm1', topics: ['a', 'b'] },
        { memberId: 'm2', topics: ['b', 'c'] },
        { memberId: 'm3', topics: ['c'] },
      ];
      const counts = { a: 3, b: 5, c: 4, unused: 2 };
      const result = assignPartitions(strategy, members, partitions(counts));
      const owners = new Map<string, string[]>();
      for (const [memberId, assignment] of result) {
        const member = members.find((m) => m.memberId === memberId)!;
        for (const [topic, ids] of Object.entries(assignment)) {
          expect(member.topics).toContain(topic);
          for (const id of ids) owners.set(`${topic}-${id}`, [...(owners.get(`${topic}-${id}`) ?? []), memberId]);
        }
      }
      const expected = ['a', 'b', 'c'].flatMap((topic) =>
        Array.from({ length: counts[topic as 'a'] }, (_, i) => `${topic}-${i}`),
      );
      expect([...owners.keys()].sort()).toEqual(expected.sort());
      expect([...owners.values()].every((ids) => ids.length === 1)).toBe(true);
      expect([...result.keys()].sort()).toEqual(['m1', 'm2', 'm3']);
    },
  );

  it('announces the standard protocol names in order of preference, and kafkajs round-robin last for rolling upgrades', () => {
    expect(protocolNames(['roundrobin', 'range'])).toEqual(['roundrobin', 'range', 'RoundRobinAssigner']);
    expect(protocolNames(['range'])).toEqual(['range']);
  });
});

describe('createPartitionAssigners with a cluster whose metadata lags', () => {
  const member = (memberId: string, topics: string[]): { memberId: string; memberMetadata: Buffer } => ({
    memberId,
    memberMetadata: kafkajs.AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
  });
  // The assigners log through msgport's logger, not kafkajs' one.
  const kafkaLogger = {} as Parameters<PartitionAssigner>[0]['logger'];
  const decode = (assignment: Buffer): Record<string, number[]> =>
    kafkajs.AssignerProtocol.MemberAssignment.decode(assignment)?.assignment ?? {};

  // A topic created a moment ago: the first metadata has no partitions for "fresh", a later refresh has.
  const laggingCluster = (refreshesBeforeKnown: number): { cluster: Cluster; refreshes: () => number } => {
    let refreshes = 0;
    const cluster = {
      addMultipleTargetTopics: async () => {},
      refreshMetadata: async () => {
        refreshes++;
      },
      findTopicPartitionMetadata: (topic: string) =>
        topic === 'fresh' && refreshes < refreshesBeforeKnown ? [] : [{ partitionId: 0 }, { partitionId: 1 }],
    } as unknown as Cluster;
    return { cluster, refreshes: () => refreshes };
  };

  it('asks for the metadata again until every subscribed topic has partitions, then assigns them all', async () => {
    const { cluster, refreshes } = laggingCluster(2);
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (message: string) => void warnings.push(message), error() {} };
    const [roundrobin] = createPartitionAssigners(['roundrobin'], logger);
    const assigner = roundrobin!({ cluster, groupId: 'g', logger: kafkaLogger });
    const result = await assigner.assign({ members: [member('m1', ['old', 'fresh'])], topics: ['old', 'fresh'] });
    expect(refreshes()).toBe(2);
    expect(decode(result[0]!.memberAssignment)).toEqual({ old: [0, 1], fresh: [0, 1] });
    expect(warnings).toEqual([]);
  });

  it('gives up after a bounded number of requests and says which topic got no member', async () => {
    const { cluster, refreshes } = laggingCluster(Number.POSITIVE_INFINITY);
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (message: string) => void warnings.push(message), error() {} };
    const [roundrobin] = createPartitionAssigners(['roundrobin'], logger);
    const assigner = roundrobin!({ cluster, groupId: 'g', logger: kafkaLogger });
    const result = await assigner.assign({ members: [member('m1', ['old', 'fresh'])], topics: ['old', 'fresh'] });
    expect(refreshes()).toBe(5);
    expect(decode(result[0]!.memberAssignment)).toEqual({ old: [0, 1] });
    expect(warnings).toEqual([expect.stringContaining('"fresh"')]);
  });
});
