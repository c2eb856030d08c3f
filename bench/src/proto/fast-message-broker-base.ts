/*
 * PROTOTYPE, not used by msgport: a copy of packages/core/src/message-broker-base.ts with the
 * dispatch changes proposed in bench/README.md ("In-memory: where the time goes"), to measure
 * them (`npm run bench -- --scenario memory-proto`). Everything marked "PROTO" differs from core.
 */
import {
  BrokerStateError,
  ConnectionError,
  InvalidArgumentError,
  MessagingError,
  NAME_PATTERN,
  PublishError,
  SubscribeError,
  backoffDelay,
  createConsoleLogger,
  createDeadLetterMessage,
  createMessage,
  isMessagingError,
  resolveRetryPolicy,
  withMetadata,
  type ConsumerHandle,
  type ConsumerSpec,
  type Deliver,
  type HealthReport,
  type HealthStatus,
  type Logger,
  type Message,
  type MessageBrokerBaseOptions,
  type AdapterHealth,
  type MessageBrokerPort,
  type MessageHandler,
  type Payload,
  type PublishOptions,
  type RetryPolicy,
  type SubscribeOptions,
  type Subscription,
} from '@msgport/core';
import { FastKeyedExecutor } from './fast-keyed-executor.js';

/** Ablation switch for measuring (MSGPORT_PROTO_SYNC_FAST_PATH=0 turns the synchronous fast path off). */
const SYNC_FAST_PATH = process.env['MSGPORT_PROTO_SYNC_FAST_PATH'] !== '0';

/** PROTO: the one resolved promise returned by every delivery that completed synchronously. */
export const RESOLVED: Promise<void> = Promise.resolve();

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

interface Member {
  readonly handler: MessageHandler;
  readonly policy: RetryPolicy;
}

interface ConsumerEntry {
  readonly key: string;
  readonly spec: ConsumerSpec;
  readonly members: Member[];
  readonly executor: FastKeyedExecutor | null;
  next: number;
  handle: ConsumerHandle | null;
  opening: Promise<void> | null;
}

let nextSubscriptionId = 0;

/**
 * The shared half of every adapter: argument validation, lifecycle (idempotent start/stop,
 * start after stop), subscription bookkeeping, round-robin within a group, per-key ordering,
 * retry with backoff, dead-lettering with the error headers, draining on stop and health.
 *
 * An adapter is a thin translation: it implements {@link connect}, {@link disconnect},
 * {@link send} and {@link openConsumer}, and may override {@link deadLetterTopic},
 * {@link sendDeadLetter} and {@link checkHealth}.
 */
export abstract class FastMessageBrokerBase implements MessageBrokerPort {
  /** Adapter name used in messages and health details, e.g. `kafka`. */
  readonly adapterName: string;
  protected readonly logger: Logger;
  protected readonly retryPolicy: RetryPolicy;
  protected readonly shutdownTimeoutMs: number;
  readonly #concurrency: number;
  readonly #entries = new Map<string, ConsumerEntry>();
  #state: State = 'new';
  #startPromise: Promise<void> | null = null;
  #stopPromise: Promise<void> | null = null;
  #inFlight = 0;
  /** PROTO: topic names already validated. */
  readonly #knownTopics = new Set<string>();
  #idleWaiters: Array<() => void> = [];

  protected constructor(adapterName: string, options: MessageBrokerBaseOptions = {}) {
    this.adapterName = adapterName;
    this.logger = options.logger ?? createConsoleLogger('warn', `msgport:${adapterName}`);
    this.retryPolicy = resolveRetryPolicy(options.retry);
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? 30_000;
    if (!(this.shutdownTimeoutMs >= 0)) {
      throw new InvalidArgumentError(`shutdownTimeoutMs must be a number >= 0, got ${String(options.shutdownTimeoutMs)}.`);
    }
    this.#concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) {
      throw new InvalidArgumentError(`concurrency must be an integer >= 1, got ${String(options.concurrency)}.`);
    }
  }

  // ---- what adapters implement -------------------------------------------------------------

  /** Opens connections. Throw a {@link ConnectionError} (or anything; it is wrapped) on failure. */
  protected abstract connect(): Promise<void>;
  /** Closes connections. Called after consumers were closed and in-flight handlers drained. */
  protected abstract disconnect(): Promise<void>;
  /** Publishes durably; resolves only when the broker accepted the message (C2). */
  protected abstract send(message: Message): Promise<void>;
  /** Starts consuming for `spec`, handing every message to `deliver` and acknowledging after it resolves. */
  protected abstract openConsumer(spec: ConsumerSpec, deliver: Deliver): Promise<ConsumerHandle>;

  /** Dead-letter destination of `topic` for `group`. @default `<topic>.DLT` */
  protected deadLetterTopic(topic: string, _group: string | null): string {
    return `${topic}.DLT`;
  }

  /** Publishes a dead-letter message (its topic is the destination). @default {@link send} */
  protected sendDeadLetter(deadLetter: Message, _original: Message, _group: string | null): Promise<void> {
    return this.send(deadLetter);
  }

  /** Health while running. @default up */
  protected async checkHealth(): Promise<AdapterHealth> {
    return { status: 'up' };
  }

  /**
   * Whether the transport already delivers one message at a time per key (Kafka: one partition at
   * a time). When false, core serializes deliveries per consumer as `concurrency` allows.
   */
  protected get transportOrdersDeliveries(): boolean {
    return false;
  }

  // ---- the port -------------------------------------------------------------------------------

  /**
   * PROTO: not `async`. While running, validation, message creation and the hand-off to `send`
   * happen without an extra promise; a topic name is checked once, then remembered; a `send`
   * that completed synchronously (it returned {@link RESOLVED}) returns that same promise.
   */
  publish(topic: string, value: Payload, options?: PublishOptions): Promise<void> {
    if (this.#state !== 'running' && this.#state !== 'stopping') return this.#publishWhenReady(topic, value, options);
    let message: Message;
    try {
      if (!this.#knownTopics.has(topic)) {
        assertTopic(topic, 'publish');
        if (this.#knownTopics.size >= 1_000) this.#knownTopics.clear();
        this.#knownTopics.add(topic);
      }
      if (options !== undefined && (typeof options !== 'object' || options === null)) {
        throw new InvalidArgumentError(`Cannot publish to "${topic}": options must be an object, got ${describe(options)}.`);
      }
      message = createMessage({ topic, value, key: options?.key, headers: options?.headers });
    } catch (error) {
      return Promise.reject(error);
    }
    const sent = this.send(message);
    if (sent === RESOLVED && SYNC_FAST_PATH) return RESOLVED;
    return sent.then(undefined, (error: unknown) => {
      throw this.#publishError(topic, error);
    });
  }

  /** The original (async) path, for publishes while starting, before start and after stop. */
  async #publishWhenReady(topic: string, value: Payload, options?: PublishOptions): Promise<void> {
    assertTopic(topic, 'publish');
    if (options !== undefined && (typeof options !== 'object' || options === null)) {
      throw new InvalidArgumentError(`Cannot publish to "${topic}": options must be an object, got ${describe(options)}.`);
    }
    if (this.#state === 'starting') await this.#startPromise?.catch(() => undefined);
    if (this.#state !== 'running' && this.#state !== 'stopping') {
      throw new BrokerStateError(
        this.#state === 'stopped'
          ? `Cannot publish to "${topic}": broker stopped. Call start() again before publishing.`
          : `Cannot publish to "${topic}": broker not started. Call start() first.`,
      );
    }
    return this.publish(topic, value, options);
  }

  #publishError(topic: string, error: unknown): unknown {
    return isMessagingError(error)
      ? error
      : new PublishError(`Cannot publish to "${topic}": the ${this.adapterName} broker did not accept the message.`, { cause: error });
  }

  async subscribe(topic: string, handler: MessageHandler, group?: string | SubscribeOptions): Promise<Subscription> {
    assertTopic(topic, 'subscribe');
    if (typeof handler !== 'function') {
      throw new InvalidArgumentError(
        `Cannot subscribe to "${topic}": the handler must be a function, got ${describe(handler)}.`,
      );
    }
    const options: SubscribeOptions =
      typeof group === 'string' || group === undefined ? (group === undefined ? {} : { group }) : group;
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError(
        `Cannot subscribe to "${topic}": the third argument must be a group name or options, got ${describe(group)}.`,
      );
    }
    const groupName = options.group ?? null;
    if (groupName !== null) assertGroup(groupName, topic);
    const member: Member = { handler, policy: resolveRetryPolicy(options.retry, this.retryPolicy) };

    const id = `${this.adapterName}-${process.pid}-${++nextSubscriptionId}`;
    const key = groupName === null ? `s\u0000${id}` : `g\u0000${topic}\u0000${groupName}`;
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = {
        key,
        spec: Object.freeze({ topic, group: groupName, id: groupName === null ? id : `${topic}.${groupName}` }),
        members: [],
        executor: this.transportOrdersDeliveries ? null : new FastKeyedExecutor(this.#concurrency),
        next: 0,
        handle: null,
        opening: null,
      };
      this.#entries.set(key, entry);
    }
    entry.members.push(member);

    if (this.#state === 'starting') await this.#startPromise?.catch(() => undefined);
    if (this.#state === 'running') {
      try {
        await this.#open(entry);
      } catch (error) {
        this.#removeMember(entry, member);
        throw error;
      }
    }

    let active = true;
    return Object.freeze({
      topic,
      group: groupName,
      unsubscribe: async (): Promise<void> => {
        if (!active) return;
        active = false;
        const current = entry;
        if (this.#removeMember(current, member)) await this.#close(current);
      },
    });
  }

  start(): Promise<void> {
    switch (this.#state) {
      case 'running':
        return Promise.resolve();
      case 'starting':
        return this.#startPromise!;
      case 'stopping':
        return this.#stopPromise!.then(() => this.start());
      default:
        break;
    }
    this.#state = 'starting';
    this.#startPromise = this.#doStart();
    return this.#startPromise;
  }

  stop(): Promise<void> {
    switch (this.#state) {
      case 'new':
      case 'stopped':
        return Promise.resolve();
      case 'stopping':
        return this.#stopPromise!;
      case 'starting':
        return this.#startPromise!.catch(() => undefined).then(() => this.stop());
      default:
        break;
    }
    this.#state = 'stopping';
    this.#stopPromise = this.#doStop();
    return this.#stopPromise;
  }

  async health(): Promise<HealthReport> {
    const base = {
      adapter: this.adapterName,
      state: this.#state,
      consumers: this.#entries.size,
      inFlight: this.#inFlight,
    };
    if (this.#state !== 'running') {
      const status: HealthStatus = this.#state === 'starting' ? 'starting' : 'stopped';
      return Object.freeze({ status, details: Object.freeze(base) });
    }
    try {
      const adapter = await this.checkHealth();
      return Object.freeze({ status: adapter.status, details: Object.freeze({ ...base, ...adapter.details }) });
    } catch (error) {
      return Object.freeze({
        status: 'down',
        details: Object.freeze({ ...base, error: error instanceof Error ? error.message : String(error) }),
      });
    }
  }

  // ---- internals ------------------------------------------------------------------------------

  /** True while the broker takes and delivers messages (for adapters' own checks). */
  protected get isRunning(): boolean {
    return this.#state === 'running';
  }

  async #doStart(): Promise<void> {
    try {
      await this.connect();
      for (const entry of this.#entries.values()) await this.#open(entry);
      this.#state = 'running';
    } catch (error) {
      await this.#closeAll().catch(() => undefined);
      await this.disconnect().catch(() => undefined);
      this.#state = 'stopped';
      if (isMessagingError(error)) throw error;
      throw new ConnectionError(`Cannot start the ${this.adapterName} broker: ${errorText(error)}`, { cause: error });
    }
  }

  async #doStop(): Promise<void> {
    const deadline = Date.now() + this.shutdownTimeoutMs;
    const drained = await withDeadline(
      (async () => {
        await this.#closeAll();
        await this.#idle();
      })(),
      deadline,
    );
    if (!drained) {
      this.logger.warn(
        `stop(): ${this.#inFlight} handler(s) still running after ${this.shutdownTimeoutMs} ms; ` +
          'closing anyway. Their messages were not acknowledged and will be redelivered.',
      );
    }
    try {
      await this.disconnect();
    } catch (error) {
      this.logger.warn(`stop(): error while disconnecting: ${errorText(error)}`);
    }
    for (const entry of this.#entries.values()) {
      entry.handle = null;
      entry.opening = null;
    }
    this.#state = 'stopped';
  }

  async #open(entry: ConsumerEntry): Promise<void> {
    if (entry.handle !== null) return;
    if (entry.opening === null) {
      entry.opening = (async () => {
        try {
          entry.handle = await this.openConsumer(entry.spec, (message) => this.#deliver(entry, message));
        } catch (error) {
          if (isMessagingError(error)) throw error;
          throw new SubscribeError(
            `Cannot subscribe to "${entry.spec.topic}"${entry.spec.group === null ? '' : ` in group "${entry.spec.group}"`}: ${errorText(error)}`,
            { cause: error },
          );
        } finally {
          entry.opening = null;
        }
      })();
    }
    await entry.opening;
  }

  async #close(entry: ConsumerEntry): Promise<void> {
    if (entry.opening !== null) await entry.opening.catch(() => undefined);
    const handle = entry.handle;
    entry.handle = null;
    if (handle !== null) await handle.close();
  }

  async #closeAll(): Promise<void> {
    await Promise.all([...this.#entries.values()].map((entry) => this.#close(entry)));
  }

  /** Removes `member`; returns true when the entry has no member left (and was forgotten). */
  #removeMember(entry: ConsumerEntry, member: Member): boolean {
    const index = entry.members.indexOf(member);
    if (index >= 0) entry.members.splice(index, 1);
    if (entry.members.length > 0) return false;
    if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
    return true;
  }

  /**
   * PROTO: no promise, closure or queue entry when the consumer's executor is idle and the handler
   * is synchronous; the handler still runs in the same call as before (inside `deliver`).
   */
  #deliver(entry: ConsumerEntry, message: Message): Promise<void> {
    const members = entry.members;
    if (members.length === 0) {
      return Promise.reject(
        new MessagingError(`No handler is subscribed to "${entry.spec.topic}" any more; the message will be redelivered.`, 'NO_SUBSCRIBER', {
          retriable: true,
        }),
      );
    }
    const member = members[entry.next % members.length]!;
    entry.next = (entry.next + 1) % members.length;
    this.#inFlight++;
    const executor = entry.executor;
    if (executor === null) return this.#attempt(entry, member, message, null, false);
    const key = message.key === null ? null : message.key.toString('latin1');
    if (executor.tryAcquire(key)) return this.#attempt(entry, member, message, key, true);
    return executor.enqueue(key, () => this.#attempt(entry, member, message, key, true));
  }

  /** The first attempt; synchronous (returns {@link RESOLVED}) when the handler is. */
  #attempt(entry: ConsumerEntry, member: Member, message: Message, key: string | null, acquired: boolean): Promise<void> {
    let result: void | Promise<void>;
    try {
      result = member.handler(message);
    } catch (error) {
      return this.#retry(entry, member, message, key, acquired, error);
    }
    if (!SYNC_FAST_PATH || (result !== undefined && result !== null && typeof (result as { then?: unknown }).then === 'function')) {
      return this.#settleFirst(entry, member, message, key, acquired, result as Promise<void>);
    }
    this.#finished(entry, key, acquired);
    return RESOLVED;
  }

  async #settleFirst(entry: ConsumerEntry, member: Member, message: Message, key: string | null, acquired: boolean, result: Promise<void>): Promise<void> {
    try {
      await result;
    } catch (error) {
      return this.#retry(entry, member, message, key, acquired, error);
    }
    this.#finished(entry, key, acquired);
  }

  /** Attempts 2…maxAttempts after `firstError`, then dead-letters; releases the delivery at the end. */
  async #retry(entry: ConsumerEntry, member: Member, message: Message, key: string | null, acquired: boolean, firstError: unknown): Promise<void> {
    try {
      const policy = member.policy;
      let error = firstError;
      for (let attempt = 1; ; attempt++) {
        if (attempt >= policy.maxAttempts) {
          await this.#deadLetter(entry, message, error, attempt, policy);
          return;
        }
        const delay = backoffDelay(policy, attempt);
        this.logger.debug(`Handler for "${message.topic}" failed (attempt ${attempt}); retrying in ${delay} ms.`, {
          error: errorText(error),
        });
        await sleep(delay);
        try {
          await member.handler(withMetadata(message, { attempt: attempt + 1 }));
          return;
        } catch (next) {
          error = next;
        }
      }
    } finally {
      this.#finished(entry, key, acquired);
    }
  }

  #finished(entry: ConsumerEntry, key: string | null, acquired: boolean): void {
    if (acquired) entry.executor!.release(key);
    if (--this.#inFlight === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  async #deadLetter(entry: ConsumerEntry, message: Message, error: unknown, attempts: number, policy: RetryPolicy): Promise<void> {
    const { topic, group } = entry.spec;
    if (!policy.deadLetter) {
      this.logger.warn(`Dropped a message from "${topic}" after ${attempts} failed attempt(s) (retry policy deadLetter: false).`, {
        error: errorText(error),
      });
      return;
    }
    const destination = this.deadLetterTopic(topic, group);
    const deadLetter = createDeadLetterMessage(message, destination, { error, group, attempts });
    try {
      await this.sendDeadLetter(deadLetter, message, group);
    } catch (cause) {
      throw new PublishError(
        `Cannot dead-letter a message from "${topic}" to "${destination}" after ${attempts} failed attempt(s); ` +
          'it was not acknowledged and will be redelivered.',
        { cause },
      );
    }
    this.logger.warn(`Dead-lettered a message from "${topic}" to "${destination}" after ${attempts} failed attempt(s).`, {
      error: errorText(error),
    });
  }

  #idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'Object'})`;
  return typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`;
}

function assertTopic(topic: unknown, operation: string): asserts topic is string {
  if (typeof topic !== 'string' || !NAME_PATTERN.test(topic) || topic === '.' || topic === '..') {
    throw new InvalidArgumentError(
      `Cannot ${operation}: invalid topic ${typeof topic === 'string' ? JSON.stringify(topic) : describe(topic)}. ` +
        `Use 1-249 characters from A-Z, a-z, 0-9, ".", "_" and "-" (not "." or "..").`,
    );
  }
}

function assertGroup(group: unknown, topic: string): asserts group is string {
  if (typeof group !== 'string' || !NAME_PATTERN.test(group)) {
    throw new InvalidArgumentError(
      `Cannot subscribe to "${topic}": invalid group ${typeof group === 'string' ? JSON.stringify(group) : describe(group)}. ` +
        `Use 1-249 characters from A-Z, a-z, 0-9, ".", "_" and "-", or omit the group for broadcast.`,
    );
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves true when `promise` settles before `deadline`, false otherwise (never rejects). */
async function withDeadline(promise: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
