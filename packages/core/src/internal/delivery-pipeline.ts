import { IdleLatch } from '../adapter/idle-latch.js';
import type { Logger } from '../logger.js';
import { withMetadata, type Message } from '../message.js';
import type { HandlerContext } from '../message-broker-port.js';
import { backoffDelay, type RetryPolicy } from '../retry-policy.js';
import {
  brokerStopping,
  errorText,
  gaveUpStopping,
  noSubscriber,
  notHandlingWhileStopping,
  subscriptionEnded,
} from './broker-support.js';
import type { ConsumerEntry, ConsumerRegistry, Member } from './consumer-registry.js';
import { deadLetter, type DeadLetterHost } from './dead-letterer.js';
import { isPromiseLike, RESOLVED } from './promises.js';

/** What the delivery pipeline needs of its broker. */
export interface DeliveryHost extends DeadLetterHost {
  /** Whether stop() began (the broker is stopping or stopped). */
  isStopping(): boolean;
}

/**
 * What happens to a message an adapter hands to core: the turn of a group member (round-robin),
 * the consumer's ordering (concurrency, per key), the handler call, retries with backoff under the
 * member's policy, dead-lettering after the last attempt, and the count of deliveries in flight
 * that stop() drains.
 */
export class DeliveryPipeline {
  readonly #host: DeliveryHost;
  readonly #registry: ConsumerRegistry;
  readonly #logger: Logger;
  readonly #inFlight = new IdleLatch();
  /** Wakes the retry backoffs in progress: stop() began or a member left (see #backoff). */
  readonly #backoffWakers = new Set<() => void>();
  // Replaced at every start(): the signal of one run is aborted when its stop() runs out of time.
  #abort = new AbortController();
  #context: HandlerContext = Object.freeze({ signal: this.#abort.signal });

  constructor(host: DeliveryHost, registry: ConsumerRegistry) {
    this.#host = host;
    this.#registry = registry;
    this.#logger = host.logger;
  }

  /** Deliveries in flight (handed over and not settled). */
  get inFlight(): number {
    return this.#inFlight.count;
  }

  /** Resolves once no delivery is in flight. Never rejects. */
  whenIdle(): Promise<void> {
    return this.#inFlight.whenIdle();
  }

  /** A new handler signal for a new run, when the last run's was aborted. */
  renewSignal(): void {
    if (!this.#abort.signal.aborted) return;
    this.#abort = new AbortController();
    this.#context = Object.freeze({ signal: this.#abort.signal });
  }

  /** Aborts the handlers' signal: stop() is running out of time. */
  abortHandlers(reason: Error): void {
    this.#abort.abort(reason);
  }

  /** Wakes the retry backoffs in progress, which end early when stop() began or their member left. */
  wakeBackoffs(): void {
    for (const wake of [...this.#backoffWakers]) wake();
  }

  /** The {@link Deliver} function core hands to the adapter for `entry`. */
  deliver(entry: ConsumerEntry, message: Message): Promise<void> {
    if (entry.members.length === 0) return Promise.reject(noSubscriber(entry.spec.topic));
    const member = this.#registry.nextMember(entry);
    this.#inFlight.enter();
    const executor = entry.executor;
    if (executor === null) return this.#beginDelivery(entry, member, message, false, null) ?? RESOLVED;
    // When the consumer is idle, the handler runs within this call, holding the executor's slot
    // itself (released when the delivery settles, without a promise of the executor's); a
    // synchronous handler then completes the delivery before it returns, without any promise.
    const key = keyOf(message);
    if (executor.tryAcquire(key)) return this.#beginDelivery(entry, member, message, true, key) ?? RESOLVED;
    return executor.run(key, () => this.#beginDelivery(entry, member, message, false, null));
  }

  /**
   * Starts a delivery whose turn has come. Returns nothing when it completed synchronously (the
   * handler returned something that is not a promise), else a promise that settles when the
   * delivery has (handled, retried, dead-lettered or rejected). Either way the delivery is no
   * longer counted in flight by then, and the executor slot it holds (`holdsSlot`: taken with
   * `tryAcquire(key)`) is released.
   */
  #beginDelivery(
    entry: ConsumerEntry,
    member: Member,
    message: Message,
    holdsSlot: boolean,
    key: string | null,
  ): Promise<void> | undefined {
    // A delivery may wait in the executor behind others. When its turn comes the broker may be
    // stopping or its handler unsubscribed: then it must not start (C7: stop takes no new
    // messages); it is rejected so the adapter does not acknowledge it and the broker redelivers.
    if (this.#host.isStopping()) {
      this.#settled(entry, holdsSlot, key);
      return Promise.reject(notHandlingWhileStopping(entry.spec.topic));
    }
    const handler = this.#registry.memberFor(entry, member);
    if (handler === null) {
      this.#settled(entry, holdsSlot, key);
      return Promise.reject(subscriptionEnded(entry.spec.topic));
    }
    const context = this.#context;
    let outcome: unknown;
    let pending: boolean;
    try {
      outcome = handler.handler(message, context);
      // Reading `then` can throw too (a Proxy, a getter): awaiting the outcome would reject alike.
      pending = isPromiseLike(outcome);
    } catch (error) {
      return this.#handle(entry, handler, message, context, Promise.reject(error), holdsSlot, key);
    }
    if (pending) return this.#handle(entry, handler, message, context, outcome as PromiseLike<unknown>, holdsSlot, key);
    this.#settled(entry, holdsSlot, key);
    return undefined;
  }

  /** A delivery is over: no longer in flight, and its executor slot (if it holds one) is free. */
  #settled(entry: ConsumerEntry, holdsSlot: boolean, key: string | null): void {
    this.#inFlight.leave();
    if (holdsSlot) entry.executor!.release(key);
  }

  /**
   * The rest of a delivery whose first attempt did not complete synchronously: waits for it, then
   * retries under the member's policy and dead-letters after the last attempt.
   */
  #handle(
    entry: ConsumerEntry,
    first: Member,
    message: Message,
    context: HandlerContext,
    firstAttempt: PromiseLike<unknown>,
    holdsSlot: boolean,
    key: string | null,
  ): Promise<void> {
    // Reactions on the first attempt, not an async function: one promise and one microtask per
    // delivery fewer on the common path (a handler that resolves).
    return Promise.resolve(firstAttempt).then(
      () => this.#settled(entry, holdsSlot, key),
      (error: unknown) => this.#retry(entry, first, message, context, error).finally(() => this.#settled(entry, holdsSlot, key)),
    );
  }

  /** After a failed first attempt: retries under the member's policy, dead-letters after the last. */
  async #retry(
    entry: ConsumerEntry,
    first: Member,
    message: Message,
    context: HandlerContext,
    firstError: unknown,
  ): Promise<void> {
    let member = first;
    let error = firstError;
    for (let attempt = 1; ; attempt++) {
      const policy = member.policy;
      // stop() ran out of time and the handler gave up: neither retried nor dead-lettered.
      if (context.signal.aborted) throw gaveUpStopping(entry.spec.topic, error);
      if (attempt >= policy.maxAttempts || !this.#shouldRetry(policy, error, message)) {
        await deadLetter(this.#host, entry, message, error, attempt, policy);
        return;
      }
      const delay = backoffDelay(policy, attempt);
      this.#logger.debug(`Handler for "${message.topic}" failed (attempt ${attempt}); retrying in ${delay} ms.`, {
        error: errorText(error),
      });
      const retrying = member;
      await this.#backoff(delay, () => this.#host.isStopping() || !entry.members.includes(retrying));
      // stop() began, or the member left, during the backoff: the message is not acknowledged
      // (the transport redelivers it, with its attempts counted afresh) rather than retried by a
      // member that is gone or dead-lettered early; a remaining member of the group retries it.
      if (this.#host.isStopping()) throw brokerStopping(entry.spec.topic);
      const next = this.#registry.memberFor(entry, member);
      if (next === null) throw subscriptionEnded(entry.spec.topic);
      member = next;
      try {
        await member.handler(withMetadata(message, { attempt: attempt + 1 }), context);
        return;
      } catch (failure) {
        error = failure;
      }
    }
  }

  /** Waits `ms`, or less once `interrupted()` holds when a waker runs (stop() began, a member left). */
  async #backoff(ms: number, interrupted: () => boolean): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => {
      wake = () => {
        if (interrupted()) resolve();
      };
      timer = setTimeout(resolve, ms);
    });
    this.#backoffWakers.add(wake);
    try {
      await woken;
    } finally {
      clearTimeout(timer);
      this.#backoffWakers.delete(wake);
    }
  }

  /**
   * Whether a failure may be retried: not a `NonRetriableError` nor any error whose `retriable` is
   * `false`, and the policy's `shouldRetry` (if any) says yes. Never throws (hostile thrown values).
   */
  #shouldRetry(policy: RetryPolicy, error: unknown, message: Message): boolean {
    try {
      if (typeof error === 'object' && error !== null && (error as { retriable?: unknown }).retriable === false) return false;
    } catch {
      // A thrown value every read of which throws: retried like any other failure.
    }
    if (policy.shouldRetry === undefined) return true;
    try {
      return policy.shouldRetry(error, message) !== false;
    } catch (failure) {
      this.#logger.warn(`retry.shouldRetry threw for a message from "${message.topic}"; retrying it.`, {
        error: errorText(failure),
      });
      return true;
    }
  }
}

function keyOf(message: Message): string | null {
  return message.key === null ? null : message.key.toString('latin1');
}
