import type { Admin } from 'kafkajs';
import { fetchCommittedOffsets, fetchEndOffsets } from './retry-transient.js';

/** Offsets to start from, per topic, per partition. */
export type StartPositions = Map<string, Map<number, string>>;

/**
 * For the partitions of `topics` that the group `groupId` has no committed offset on, where it
 * starts: the position pinned earlier (`known`), else the current end offset; per topic, `null`
 * when there is none (the group resumes where it left off). A broadcast subscription (`groupId`
 * null) has a throwaway group: every partition is pinned, to its `known` position if any.
 *
 * A pin stays `known` until the group has committed an offset on its partition: a session can end
 * before kafkajs applied its seek (the next session must start there, not at a later end offset).
 */
export async function uncommittedEndOffsets(
  admin: Admin,
  groupId: string | null,
  topics: readonly string[],
  requestTimeoutMs: number,
  known: StartPositions = new Map(),
): Promise<StartPositions | null> {
  if (topics.length === 0) return null;
  // Per topic, the partitions without a committed offset; a topic missing here has none at all.
  const missing = new Map<string, Set<number>>();
  if (groupId !== null) {
    const committed = await fetchCommittedOffsets(admin, groupId, topics, requestTimeoutMs);
    for (const entry of committed) {
      missing.set(
        entry.topic,
        new Set(entry.partitions.filter(({ offset }) => Number(offset) < 0).map(({ partition }) => partition)),
      );
    }
  }
  const pins: StartPositions = new Map();
  await Promise.all(
    topics.map(async (topic) => {
      const uncommitted = missing.get(topic);
      if (uncommitted !== undefined && uncommitted.size === 0) return;
      const pinned = known.get(topic);
      const needed = (partition: number): boolean => uncommitted?.has(partition) ?? true;
      const offsets = new Map([...(pinned ?? [])].filter(([partition]) => needed(partition)));
      // Every uncommitted partition pinned already: no need for the end offsets.
      const complete = uncommitted !== undefined && [...uncommitted].every((partition) => offsets.has(partition));
      if (!complete) {
        for (const { partition, high } of await fetchEndOffsets(admin, topic, requestTimeoutMs)) {
          if (needed(partition) && !offsets.has(partition)) offsets.set(partition, high);
        }
      }
      if (offsets.size > 0) pins.set(topic, offsets);
    }),
  );
  return pins.size === 0 ? null : pins;
}
