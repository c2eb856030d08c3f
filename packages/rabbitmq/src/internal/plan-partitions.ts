/** What one instance of a group knows when it decides which partitions to own. */
export interface PartitionPlanInput {
  /** Partitions of the topic. */
  readonly partitions: number;
  /** Instances of the group running now, this one included (values below 1 count as 1). */
  readonly members: number;
  /** Partitions this instance owns. */
  readonly owned: ReadonlySet<number>;
  /**
   * Where this instance starts in the ring of partitions, so that instances prefer different
   * partitions and rarely contend for the same one.
   */
  readonly offset: number;
}

/** What one instance should do now. */
export interface PartitionPlan {
  /** How many partitions this instance should own: its fair share, ceil(partitions / members). */
  readonly target: number;
  /** Owned partitions to give up (beyond the fair share), least preferred first. */
  readonly release: readonly number[];
  /** Partitions to try to take, in order, until `target` are owned (empty when already there). */
  readonly candidates: readonly number[];
}

/**
 * The fair-share rule every instance of a group applies on its own, with no coordinator: own at
 * most ceil(partitions / members) partitions; give up the excess; while below, try to take free
 * ones. Since members × ceil(partitions / members) ≥ partitions, every partition ends up owned
 * once each instance has applied it, and no instance owns more than its share, so the busiest
 * instance has as few partitions as possible.
 */
export function planPartitions(input: PartitionPlanInput): PartitionPlan {
  const { partitions, owned } = input;
  const members = Math.max(1, Math.floor(input.members));
  const target = Math.ceil(partitions / members);
  const start = ((input.offset % partitions) + partitions) % partitions;
  const ring = Array.from({ length: partitions }, (_, i) => (start + i) % partitions);
  const mine = ring.filter((partition) => owned.has(partition));
  return {
    target,
    // Keep the most preferred ones; give up the rest, the least preferred first.
    release: mine.slice(target).reverse(),
    candidates: mine.length < target ? ring.filter((partition) => !owned.has(partition)) : [],
  };
}
