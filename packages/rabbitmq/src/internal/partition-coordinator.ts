import type { Logger } from '@msgport/core';
import { planPartitions } from './plan-partitions.js';

/** The broker operations a {@link PartitionCoordinator} needs, on one connection. */
export interface PartitionDriver {
  /** Instances of the group consuming now, this one included. */
  countMembers(): Promise<number>;
  /** Takes ownership of `partition`; false when another instance owns it. */
  tryOwn(partition: number): Promise<boolean>;
  /** Gives up ownership of `partition` (owned by this instance). */
  disown(partition: number): Promise<void>;
  /** Starts consuming the queue of `partition` (owned by this instance). */
  consume(partition: number): Promise<void>;
  /**
   * Stops consuming the queue of `partition`: no new deliveries; resolves once every message
   * already received from it was handled and acknowledged, or returned to the queue.
   */
  stopConsuming(partition: number): Promise<void>;
  /** Declares the group's queues and bindings again (after a partition queue was lost). */
  redeclare(): Promise<void>;
  /** Releases what the driver holds itself (a channel); called once, at the end of `stop()`. */
  close(): Promise<void>;
}

export interface PartitionCoordinatorOptions {
  readonly partitions: number;
  readonly driver: PartitionDriver;
  readonly logger: Logger;
  /** How often ownership is reviewed (±20 % jitter). */
  readonly intervalMs: number;
  /** Where this instance starts in the ring of partitions (see planPartitions). */
  readonly offset: number;
  /** `"<topic>" in group "<group>"`, for log lines. */
  readonly describe: string;
}

/**
 * Decides, for one instance of a group on one connection, which partitions it consumes, and keeps
 * deciding: every `intervalMs` it counts the instances of the group and applies the fair-share
 * rule of {@link planPartitions}, giving up partitions beyond its share (after handling what it
 * already received from them) and taking free ones while below it.
 *
 * Ownership is a lock held on the broker (the driver's `tryOwn`): an instance consumes a partition
 * only while it holds it, and a lock dies with its connection, so a partition whose owner crashed
 * is free for another instance at its next review.
 */
export class PartitionCoordinator {
  readonly #partitions: number;
  readonly #driver: PartitionDriver;
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #offset: number;
  readonly #describe: string;
  /** Partitions owned and consumed. */
  readonly #owned = new Set<number>();
  /** Partitions whose consumer was lost: still locked by this instance, to give up at the next review. */
  readonly #lost = new Set<number>();
  #state: 'new' | 'running' | 'stopped' = 'new';
  #timer: NodeJS.Timeout | null = null;
  #review: Promise<void> | null = null;
  #redeclare = false;

  constructor(options: PartitionCoordinatorOptions) {
    this.#partitions = options.partitions;
    this.#driver = options.driver;
    this.#logger = options.logger;
    this.#intervalMs = options.intervalMs;
    this.#offset = options.offset;
    this.#describe = options.describe;
  }

  /** Partitions this instance consumes now, in ascending order. */
  get owned(): number[] {
    return [...this.#owned].sort((a, b) => a - b);
  }

  /** Runs the first review (resolves after it, whatever its outcome), then reviews every interval. */
  async start(): Promise<void> {
    if (this.#state !== 'new') return;
    this.#state = 'running';
    await this.#runReview();
  }

  /**
   * The consumer of `partition` was lost (its channel closed, e.g. its queue was deleted): the
   * partition is no longer consumed; the next review gives up its lock and declares the queues again.
   */
  lost(partition: number): void {
    if (this.#state !== 'running' || !this.#owned.delete(partition)) return;
    this.#lost.add(partition);
    this.#redeclare = true;
    this.#logger.warn(`Lost the consumer of partition ${partition} of "${this.#describe}"; taking it again at the next review.`);
  }

  /**
   * Stops reviewing, waits for a review under way, then stops consuming every owned partition
   * (each after handling what it received) and gives them up, so other instances take them.
   */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') {
      await this.#review;
      return;
    }
    this.#state = 'stopped';
    this.#clearTimer();
    await this.#review;
    const owned = [...this.#owned];
    this.#owned.clear();
    await Promise.all(owned.map((partition) => this.#release(partition, 'stopping')));
    await Promise.all([...this.#lost].map((partition) => this.#disown(partition)));
    this.#lost.clear();
    await this.#driver.close().catch(() => undefined);
  }

  /** The connection is gone, and with it every lock and consumer: stops without any broker call. */
  abandon(): void {
    this.#state = 'stopped';
    this.#clearTimer();
    this.#owned.clear();
    this.#lost.clear();
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  async #runReview(): Promise<void> {
    const review = this.#reviewOnce().catch((error: unknown) => {
      if (this.#state !== 'running') return;
      // Something failed on the broker (a channel or queue went away): declare again next time.
      this.#redeclare = true;
      this.#logger.warn(`Reviewing the partitions of "${this.#describe}" failed: ${errorText(error)}; retrying.`);
    });
    this.#review = review;
    await review;
    if (this.#review === review) this.#review = null;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#state !== 'running' || this.#timer !== null) return;
    const delay = Math.round(this.#intervalMs * (0.8 + 0.4 * Math.random()));
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#runReview();
    }, delay);
    // The connection keeps the process alive while the group consumes; this timer must not.
    this.#timer.unref();
  }

  async #reviewOnce(): Promise<void> {
    if (this.#redeclare) {
      await this.#driver.redeclare();
      this.#redeclare = false;
    }
    for (const partition of [...this.#lost]) {
      if (this.#state !== 'running') return;
      await this.#disown(partition);
      this.#lost.delete(partition);
    }
    if (this.#state !== 'running') return;
    const members = await this.#driver.countMembers();
    const plan = planPartitions({ partitions: this.#partitions, members, owned: this.#owned, offset: this.#offset });
    // All at once: each waits for what it already received to be handled, and those wait in one
    // queue of the instance, so one after the other would take several times as long.
    for (const partition of plan.release) this.#owned.delete(partition);
    await Promise.all(
      plan.release.map((partition) => this.#release(partition, `${members} instance(s) share ${this.#partitions} partition(s)`)),
    );
    for (const partition of plan.candidates) {
      if (this.#state !== 'running' || this.#owned.size >= plan.target) return;
      if (!(await this.#driver.tryOwn(partition))) continue;
      try {
        await this.#driver.consume(partition);
      } catch (error) {
        this.#redeclare = true;
        await this.#disown(partition);
        throw error;
      }
      if (this.#state !== 'running') {
        // stop() began meanwhile and did not see this partition: give it up here.
        await this.#release(partition, 'stopping');
        return;
      }
      this.#owned.add(partition);
      this.#logger.info(`Consuming partition ${partition} of "${this.#describe}" (${members} instance(s) in the group).`);
    }
  }

  async #release(partition: number, why: string): Promise<void> {
    this.#logger.debug(`Giving up partition ${partition} of "${this.#describe}" (${why}) once what it received is handled.`);
    try {
      await this.#driver.stopConsuming(partition);
    } finally {
      await this.#disown(partition);
    }
    this.#logger.info(`Gave up partition ${partition} of "${this.#describe}" (${why}).`);
  }

  async #disown(partition: number): Promise<void> {
    try {
      await this.#driver.disown(partition);
    } catch (error) {
      // The lock goes away with the connection anyway.
      this.#logger.debug(`Could not give up the lock of partition ${partition} of "${this.#describe}": ${errorText(error)}.`);
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
