/**
 * Which partition of a topic a message goes to: the publisher decides, as Kafka producers do, and
 * stamps the decision on the message (the `msgport-partition` header) for the broker to route by.
 */
import { keyPartition, murmur2 } from '@msgport/core/adapter';

/** Smallest and largest partition count the adapter accepts. */
export const MIN_PARTITIONS = 1;
export const MAX_PARTITIONS = 1_000;

/** Default partition count of a topic: up to four instances of a group share its messages. */
export const DEFAULT_PARTITIONS = 4;

/**
 * The partition of `key` among `partitions`: what Kafka's default partitioner computes (core's
 * `keyPartition`, positive murmur2 modulo the count), so a key lands on the same partition number
 * on both brokers for the same partition count.
 */
export const partitionOfKey = keyPartition;
export { murmur2 };

/** Picks the partition of each published message. */
export type Partitioner = (key: Uint8Array | null) => number;

/**
 * A partitioner over `partitions`: a keyed message goes to the partition of its key hash
 * ({@link partitionOfKey}); messages without a key take the partitions in turn (round-robin per
 * partitioner), so they spread evenly and no partition is favoured.
 */
export function createPartitioner(partitions: number): Partitioner {
  let next = 0;
  return (key) => {
    if (key !== null) return partitionOfKey(key, partitions);
    const partition = next;
    next = next + 1 === partitions ? 0 : next + 1;
    return partition;
  };
}
