import type { Admin } from 'kafkajs';
import { backoffDelay, type Backoff } from '@msgport/core/adapter';
import { errorChain } from './errors.js';

/**
 * Broker answers that only mean "not ready yet": on KRaft a topic that was just created (even
 * after `createTopics({ waitForLeaders: true })`) can answer these for a short while.
 */
export const TRANSIENT_TYPES: ReadonlySet<string> = new Set([
  'UNKNOWN_TOPIC_OR_PARTITION',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'NOT_LEADER_OR_FOLLOWER',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR',
  'NOT_COORDINATOR_FOR_GROUP',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'GROUP_LOAD_IN_PROGRESS',
]);

/** Pauses between tries of {@link retryTransient}. */
const TRANSIENT_BACKOFF: Backoff = { initialDelayMs: 25, multiplier: 2, maxDelayMs: 500, jitter: 0 };

/** True when `error` is a broker answer that goes away by itself within moments. */
export function isTransient(error: unknown): boolean {
  return errorChain(error).some((e) => typeof e.type === 'string' && TRANSIENT_TYPES.has(e.type));
}

/**
 * Runs `operation` again while it fails with a {@link isTransient} error, with a short growing
 * pause, for at most `timeoutMs`; then rethrows the last error.
 */
export async function retryTransient<T>(operation: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      const pause = backoffDelay(TRANSIENT_BACKOFF, attempt + 1);
      if (!isTransient(error) || Date.now() + pause > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

/** A "not ready yet" answer of our own, retried by {@link retryTransient}. */
function notReady(topic: string, what: string): Error {
  return Object.assign(new Error(`Topic "${topic}" is not ready yet: ${what}`), { type: 'LEADER_NOT_AVAILABLE' });
}

/*
 * kafkajs keeps one metadata snapshot per client, and two refreshes running at once (several
 * topics looked up together) can end in the older answer: a topic then has no partitions in it
 * for a moment. kafkajs' offset reads do not notice: `fetchTopicOffsets` answers with no
 * partitions (or fails with a TypeError), `fetchOffsets` gives the topic no partitions, which would
 * read as "nothing to do". The reads below ask again until the topic has its partitions.
 */

/** End (and start) offsets of every partition of `topic`; see {@link retryTransient}. */
export async function fetchEndOffsets(admin: Admin, topic: string, timeoutMs: number): ReturnType<Admin['fetchTopicOffsets']> {
  return retryTransient(async () => {
    let offsets: Awaited<ReturnType<Admin['fetchTopicOffsets']>>;
    try {
      offsets = await admin.fetchTopicOffsets(topic);
    } catch (error) {
      if (error instanceof TypeError) throw notReady(topic, error.message);
      throw error;
    }
    if (offsets.length === 0) throw notReady(topic, 'no partitions in the client metadata');
    return offsets;
  }, timeoutMs);
}

/** Committed offsets of `groupId` on every partition of `topics`; see {@link retryTransient}. */
export async function fetchCommittedOffsets(
  admin: Admin,
  groupId: string,
  topics: readonly string[],
  timeoutMs: number,
): ReturnType<Admin['fetchOffsets']> {
  return retryTransient(async () => {
    const entries = await admin.fetchOffsets({ groupId, topics: [...topics] });
    const empty = entries.find((entry) => entry.partitions.length === 0);
    if (empty !== undefined) throw notReady(empty.topic, 'no partitions in the client metadata');
    return entries;
  }, timeoutMs);
}

/**
 * Resolves once every one of the `partitions` partitions of `topic` (just created) has a leader
 * that answers a ListOffsets request, trying again for at most `timeoutMs` while the cluster is
 * not there yet (on a cluster, the broker asked may not know the new topic for a moment).
 */
export async function waitUntilServing(admin: Admin, topic: string, partitions: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await retryTransient(async () => {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const found = topics.find((metadata) => metadata.name === topic)?.partitions ?? [];
    if (found.length < partitions) throw notReady(topic, `${found.length} of ${partitions} partitions known`);
    if (found.some((partition) => partition.leader < 0)) throw notReady(topic, 'a partition has no leader');
  }, timeoutMs);
  await fetchEndOffsets(admin, topic, Math.max(0, deadline - Date.now()));
}
