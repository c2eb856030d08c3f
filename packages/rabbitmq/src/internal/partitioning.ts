/**
 * Which partition of a topic a message goes to: the publisher decides, as Kafka producers do, and
 * stamps the decision on the message (the `msgport-partition` header) for the broker to route by.
 */

/** Smallest and largest partition count the adapter accepts. */
export const MIN_PARTITIONS = 1;
export const MAX_PARTITIONS = 1_000;

/** Default partition count of a topic: up to four instances of a group share its messages. */
export const DEFAULT_PARTITIONS = 4;

/**
 * Kafka's murmur2 (the hash of its Java client's default partitioner and of kafkajs'), 32-bit,
 * seed `0x9747b28c`, as a signed integer. Same input, same value as `Utils.murmur2` in Kafka.
 */
export function murmur2(data: Uint8Array): number {
  const m = 0x5bd1e995;
  const length = data.length;
  let h = (0x9747b28c ^ length) | 0;
  const words = length >>> 2;
  for (let i = 0; i < words; i++) {
    const at = i * 4;
    let k = data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16) | (data[at + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = length & ~3;
  const rest = length & 3;
  if (rest === 3) h ^= data[tail + 2]! << 16;
  if (rest >= 2) h ^= data[tail + 1]! << 8;
  if (rest >= 1) {
    h ^= data[tail]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The partition of `key` among `partitions`: `(murmur2(key) & 0x7fffffff) % partitions`, exactly
 * what Kafka's default partitioner computes, so a key lands on the same partition number on both
 * brokers for the same partition count.
 */
export function partitionOfKey(key: Uint8Array, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

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
