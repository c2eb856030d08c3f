import type { ConsumerHandle, ConsumerSpec } from '../adapter/contract.js';
import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import type { KeyedExecutor } from '../keyed-executor.js';
import type { MessageHandler } from '../message-broker-port.js';
import type { RetryPolicy } from '../retry-policy.js';

/** One subscription's handler, with its resolved retry policy. */
export interface Member {
  readonly handler: MessageHandler;
  readonly policy: RetryPolicy;
}

/**
 * One consumer: a (topic, group) with the subscriptions that share it, or one broadcast
 * subscription. Its members take its messages in turn (round-robin).
 */
export interface ConsumerEntry {
  readonly key: string;
  readonly spec: ConsumerSpec;
  readonly members: Member[];
  /** Orders its deliveries (concurrency, per key), or null when the transport does. */
  readonly executor: KeyedExecutor | null;
  next: number;
  handle: ConsumerHandle | null;
  opening: Promise<void> | null;
}

let nextSubscriptionId = 0;

/** The consumers of one broker and their members: subscription bookkeeping and round-robin. */
export class ConsumerRegistry {
  readonly #entries = new Map<string, ConsumerEntry>();
  readonly #adapterName: string;

  constructor(adapterName: string) {
    this.#adapterName = adapterName;
  }

  /** Consumers open or to open. */
  get size(): number {
    return this.#entries.size;
  }

  entries(): ConsumerEntry[] {
    return [...this.#entries.values()];
  }

  /**
   * Adds `member` to the consumer of (`topic`, `group`), created when it does not exist yet (for a
   * broadcast subscription, `group` null, always a new one).
   *
   * @throws {InvalidArgumentError} when the group's consumer exists with another concurrency.
   */
  add(
    topic: string,
    group: string | null,
    concurrency: number,
    member: Member,
    createExecutor: () => KeyedExecutor | null,
  ): ConsumerEntry {
    const id = `${this.#adapterName}-${process.pid}-${++nextSubscriptionId}`;
    const key = group === null ? `s\u0000${id}` : `g\u0000${topic}\u0000${group}`;
    let entry = this.#entries.get(key);
    if (entry !== undefined && entry.spec.concurrency !== concurrency) {
      throw new InvalidArgumentError(
        `Cannot subscribe to "${topic}" in group "${group}" with concurrency ${concurrency}: this broker already ` +
          `has a subscription of that group to that topic with concurrency ${entry.spec.concurrency}, and they share ` +
          'one consumer. Give both the same concurrency.',
      );
    }
    if (entry === undefined) {
      entry = {
        key,
        spec: Object.freeze({ topic, group, id: group === null ? id : `${topic}.${group}`, concurrency }),
        members: [],
        executor: createExecutor(),
        next: 0,
        handle: null,
        opening: null,
      };
      this.#entries.set(key, entry);
    }
    entry.members.push(member);
    return entry;
  }

  /** Removes `member`; returns true when the entry has no member left (and was forgotten). */
  remove(entry: ConsumerEntry, member: Member): boolean {
    const index = entry.members.indexOf(member);
    if (index >= 0) entry.members.splice(index, 1);
    if (entry.members.length > 0) return false;
    if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
    return true;
  }

  /** The member whose turn it is (round-robin); the entry must have one. */
  nextMember(entry: ConsumerEntry): Member {
    const members = entry.members;
    const member = members[entry.next % members.length]!;
    entry.next = (entry.next + 1) % members.length;
    return member;
  }

  /** `member` while it is subscribed, else the group's next member, or null when none is left. */
  memberFor(entry: ConsumerEntry, member: Member): Member | null {
    if (entry.members.includes(member)) return member;
    if (entry.members.length === 0 || this.#entries.get(entry.key) !== entry) return null;
    return this.nextMember(entry);
  }
}
