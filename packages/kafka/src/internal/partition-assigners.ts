import type { Logger } from '@msgport/core';
import kafkajs, { type Assigner, type Cluster, type GroupMember, type PartitionAssigner } from 'kafkajs';

// kafkajs is CommonJS and Node cannot see all of its named exports: take them off the default export.
const { AssignerProtocol } = kafkajs;

/**
 * Assignment strategies, by the protocol names every Kafka client uses (Java's `RangeAssignor`
 * and `RoundRobinAssignor`, librdkafka, aiokafka), so that msgport members can share a group
 * with them. Both are subscription-aware: a partition only goes to a member subscribed to its topic.
 */
export const ASSIGNMENT_STRATEGIES = ['roundrobin', 'range'] as const;
export type AssignmentStrategy = (typeof ASSIGNMENT_STRATEGIES)[number];

/**
 * The protocol name of kafkajs' own round-robin assigner, which msgport announced before it had
 * its own. Still announced, last, so that instances of an earlier msgport version and this one
 * can share a group during a rolling upgrade (same round-robin semantics, subscription-aware).
 */
const LEGACY_KAFKAJS_NAME = 'RoundRobinAssigner';

/** A member's subscription, as decoded from its join request. */
export interface GroupSubscription {
  readonly memberId: string;
  readonly topics: readonly string[];
}

/** Partitions per topic, per member id. Every member is present, possibly with nothing. */
export type GroupAssignment = Map<string, Record<string, number[]>>;

/**
 * Assigns `partitions` (per topic) to `members` with `strategy`, exactly as Java's assignors do,
 * except that a topic nobody subscribes to is left out and a member only gets partitions of the
 * topics it subscribes to.
 *
 * - `roundrobin`: every partition of every topic, sorted by topic then partition, is dealt in turn
 *   to the members sorted by id, skipping members not subscribed to its topic.
 * - `range`: per topic, the members subscribed to it, sorted by id, get consecutive ranges of
 *   partitions; the first `partitions % members` get one more.
 */
export function assignPartitions(
  strategy: AssignmentStrategy,
  members: readonly GroupSubscription[],
  partitions: ReadonlyMap<string, readonly number[]>,
): GroupAssignment {
  const sorted = [...members].sort((a, b) => compare(a.memberId, b.memberId));
  const assignment: GroupAssignment = new Map(sorted.map(({ memberId }) => [memberId, {}]));
  const give = (memberId: string, topic: string, partition: number): void => {
    const topics = assignment.get(memberId)!;
    (topics[topic] ??= []).push(partition);
  };
  const subscribers = (topic: string): GroupSubscription[] => sorted.filter((member) => member.topics.includes(topic));
  const topics = [...new Set(sorted.flatMap((member) => member.topics))].filter((topic) => partitions.has(topic)).sort(compare);

  if (strategy === 'range') {
    for (const topic of topics) {
      const owners = subscribers(topic);
      const ids = [...partitions.get(topic)!].sort((a, b) => a - b);
      const base = Math.floor(ids.length / owners.length);
      const extra = ids.length % owners.length;
      let next = 0;
      owners.forEach((owner, index) => {
        const count = base + (index < extra ? 1 : 0);
        for (const partition of ids.slice(next, next + count)) give(owner.memberId, topic, partition);
        next += count;
      });
    }
    return assignment;
  }

  let turn = 0;
  for (const topic of topics) {
    for (const partition of [...partitions.get(topic)!].sort((a, b) => a - b)) {
      // Every topic in `topics` has at least one subscriber, so this finds one within a lap.
      while (!sorted[turn % sorted.length]!.topics.includes(topic)) turn++;
      give(sorted[turn % sorted.length]!.memberId, topic, partition);
      turn++;
    }
  }
  return assignment;
}

/** Protocol names announced for `strategies`, in order of preference. */
export function protocolNames(strategies: readonly AssignmentStrategy[]): string[] {
  return [...strategies, ...(strategies.includes('roundrobin') ? [LEGACY_KAFKAJS_NAME] : [])];
}

/**
 * kafkajs partition assigners for `strategies` (in order of preference), subscription-aware, that
 * log a warning when the members of a group subscribe to different topics.
 */
export function createPartitionAssigners(strategies: readonly AssignmentStrategy[], logger: Logger): PartitionAssigner[] {
  return protocolNames(strategies).map((name) => {
    const strategy: AssignmentStrategy = name === LEGACY_KAFKAJS_NAME ? 'roundrobin' : (name as AssignmentStrategy);
    return ({ cluster, groupId }): Assigner => ({
      name,
      version: 0,
      async assign({ members }) {
        const subscriptions = members.map(decodeSubscription);
        warnOnDisagreement(groupId, subscriptions, logger);
        // The leader may not subscribe to every topic of the group: learn the partitions of all of them.
        const topics = [...new Set(subscriptions.flatMap((member) => member.topics))];
        await cluster.addMultipleTargetTopics(topics);
        const partitions = await knownPartitions(cluster, topics);
        const unknown = topics.filter((topic) => !partitions.has(topic));
        if (unknown.length > 0) {
          logger.warn(
            `Kafka group "${groupId}": no partitions are known yet for ${unknown.map((t) => `"${t}"`).join(', ')} after ` +
              `${METADATA_ATTEMPTS} metadata requests; no member gets them until the group rebalances again.`,
          );
        }
        return [...assignPartitions(strategy, subscriptions, partitions)].map(([memberId, assignment]) => ({
          memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment, userData: Buffer.alloc(0) }),
        }));
      },
      protocol({ topics }) {
        return { name, metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
      },
    });
  });
}

/** Metadata requests made for topics with no partitions known, and the wait between two. */
const METADATA_ATTEMPTS = 6;
const METADATA_RETRY_MS = 250;

/**
 * The partitions of each topic, per the leader's metadata. A topic created a moment ago may not be
 * in the metadata a broker of a cluster returns yet (its partitions reach the brokers one by one);
 * kafkajs refreshes the metadata only when the set of topics changes, so a topic without
 * partitions would get no member until the next rebalance, and its messages would wait that long:
 * the metadata is requested again, a few times, before the assignment is made.
 */
async function knownPartitions(cluster: Cluster, topics: readonly string[]): Promise<Map<string, number[]>> {
  const partitions = new Map<string, number[]>();
  for (let attempt = 1; ; attempt++) {
    for (const topic of topics) {
      if (partitions.has(topic)) continue;
      const ids = cluster.findTopicPartitionMetadata(topic).map(({ partitionId }) => partitionId);
      if (ids.length > 0) partitions.set(topic, ids);
    }
    if (partitions.size === topics.length || attempt >= METADATA_ATTEMPTS) return partitions;
    await new Promise((resolve) => setTimeout(resolve, METADATA_RETRY_MS));
    await cluster.refreshMetadata().catch(() => undefined);
  }
}

/** The subscription in a member's metadata (the standard consumer protocol, any version). */
function decodeSubscription({ memberId, memberMetadata }: GroupMember): GroupSubscription {
  const decoded = AssignerProtocol.MemberMetadata.decode(memberMetadata);
  return { memberId, topics: decoded?.topics ?? [] };
}

function warnOnDisagreement(groupId: string, members: readonly GroupSubscription[], logger: Logger): void {
  const sets = new Map<string, string[]>();
  for (const member of members) {
    const topics = [...member.topics].sort(compare).join(', ');
    const ids = sets.get(topics) ?? [];
    ids.push(member.memberId);
    sets.set(topics, ids);
  }
  if (sets.size <= 1) return;
  const described = [...sets].map(([topics, ids]) => `${ids.length} member(s) on [${topics}]`).join('; ');
  logger.warn(
    `The members of Kafka group "${groupId}" subscribe to different topics (${described}). Each topic's partitions go only ` +
      'to members subscribed to it; if this is not a rolling deploy, give the services different group names.',
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
