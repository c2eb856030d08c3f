import { InvalidArgumentError } from './errors/invalid-argument-error.js';
import { describe, type Message } from './message.js';
import type { HandlerContext, MessageBrokerPort, MessageHandler, Subscription } from './message-broker-port.js';
import type { RetryPolicyOptions } from './retry-policy.js';
import { assertGroup, assertTopic } from './topic.js';
import { isTypedTopic, type TypedMessageHandler, type TypedTopic } from './typed-topic.js';

/** Where a listener subscribes. */
export interface ListenerOptions {
  /**
   * Topic to consume: a name (the listener gets the {@link Message}), or a typed topic from
   * `defineTopic()` (the listener gets the decoded, valid payload first, then the message).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly topic: string | TypedTopic<any, any>;
  /** Consumer group; omit for broadcast. */
  readonly group?: string;
  /** Retry policy for this listener (unset fields use the broker's). */
  readonly retry?: RetryPolicyOptions;
  /** Messages of this listener handled at once (see `SubscribeOptions.concurrency`). */
  readonly concurrency?: number;
}

/** {@link ListenerOptions} of a listener on a typed topic whose handlers get `T`. */
export interface TypedListenerOptions<T> extends ListenerOptions {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly topic: TypedTopic<any, T>;
}

// A registry symbol shared by every copy of @msgport/core, so metadata written by one copy is read
// by another.
const LISTENERS = Symbol.for('msgport.listeners');

type Marked = { [LISTENERS]?: ListenerOptions[] };

/**
 * A method decorator that works under both TypeScript decorator modes: standard (TC39) decorators
 * and `experimentalDecorators` (NestJS projects).
 */
export interface ListenerDecorator {
  <This, Fn extends (this: This, message: Message, context: HandlerContext) => unknown>(
    value: Fn,
    context: ClassMethodDecoratorContext<This, Fn>,
  ): void;
  (target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor): void;
}

/** {@link ListenerDecorator} for a typed topic: the method takes the payload first. */
export interface TypedListenerDecorator<T> {
  <This, Fn extends (this: This, payload: T, message: Message, context: HandlerContext) => unknown>(
    value: Fn,
    context: ClassMethodDecoratorContext<This, Fn>,
  ): void;
  (target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor): void;
}

/**
 * Marks a method as a message listener. Records metadata only (no I/O): nothing is subscribed until
 * {@link registerListeners} is called with an instance. A method may carry several listeners.
 *
 * ```ts
 * class NotificationService {
 *   @MessageListener({ topic: orderPlaced, group: 'notifications' }) // a typed topic
 *   async onOrder(order: OrderPlaced, message: Message) { … }
 *
 *   @MessageListener({ topic: 'audit', group: 'notifications' }) // a topic name
 *   async onAudit(message: Message) { … }
 * }
 * ```
 *
 * @throws {InvalidArgumentError} for an illegal topic or group name (when the class is defined).
 */
export function MessageListener<T>(options: TypedListenerOptions<T>): TypedListenerDecorator<T>;
export function MessageListener(options: ListenerOptions & { readonly topic: string }): ListenerDecorator;
export function MessageListener(options: ListenerOptions): ListenerDecorator | TypedListenerDecorator<unknown> {
  const recorded = validateListenerOptions(options);
  return function decorate(value: unknown, context: unknown, descriptor?: PropertyDescriptor): void {
    // Standard decorators pass (method, context); experimental ones (prototype, name, descriptor).
    const method: unknown = descriptor === undefined && isMethodContext(context) ? value : descriptor?.value;
    if (typeof method !== 'function') {
      throw new InvalidArgumentError(`@MessageListener({ topic: "${topicName(recorded)}" }) can only decorate methods.`);
    }
    mark(method as Marked, recorded);
  };
}

/**
 * Marks a standalone function as a listener and returns it, for {@link registerListeners}.
 *
 * @throws {InvalidArgumentError} for an illegal topic or group, or when `handler` is not a function.
 */
export function messageListener<T, F extends TypedMessageHandler<T>>(options: TypedListenerOptions<T>, handler: F): F;
export function messageListener<F extends MessageHandler>(options: ListenerOptions & { readonly topic: string }, handler: F): F;
export function messageListener<F extends (...args: never[]) => unknown>(options: ListenerOptions, handler: F): F {
  const recorded = validateListenerOptions(options);
  if (typeof handler !== 'function') {
    throw new InvalidArgumentError(
      `messageListener({ topic: "${topicName(recorded)}" }): the handler must be a function, got ${describe(handler)}.`,
    );
  }
  mark(handler as Marked, recorded);
  return handler;
}

/** The listener options recorded on a function, or an empty array. */
export function getListenerMetadata(fn: unknown): readonly ListenerOptions[] {
  return typeof fn === 'function' ? ((fn as Marked)[LISTENERS] ?? []) : [];
}

/**
 * Subscribes every listener found on `beans` and returns the subscriptions. A bean is an object
 * whose (own or inherited) methods carry `@MessageListener`, each bound to that object, or a
 * function marked with {@link messageListener}.
 *
 * If a subscription fails, those already made are unsubscribed before the error is rethrown.
 *
 * @throws {InvalidArgumentError} when a bean has no listener at all (usually a forgotten decorator).
 */
export async function registerListeners(broker: MessageBrokerPort, ...beans: readonly unknown[]): Promise<Subscription[]> {
  const planned: Array<{ options: ListenerOptions; handler: AnyListener }> = [];
  for (const bean of beans) {
    const found = collect(bean);
    if (found.length === 0) {
      throw new InvalidArgumentError(
        `registerListeners(): ${describeBean(bean)} has no @MessageListener method and is not a messageListener() function.`,
      );
    }
    planned.push(...found);
  }
  const subscriptions: Subscription[] = [];
  try {
    for (const { options, handler } of planned) {
      const subscribeOptions = {
        ...(options.group === undefined ? {} : { group: options.group }),
        ...(options.retry === undefined ? {} : { retry: options.retry }),
        ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      };
      subscriptions.push(
        typeof options.topic === 'string'
          ? await broker.subscribe(options.topic, handler as MessageHandler, subscribeOptions)
          : await options.topic.subscribe(broker, handler as TypedMessageHandler<unknown>, subscribeOptions),
      );
    }
  } catch (error) {
    await Promise.allSettled(subscriptions.map((subscription) => subscription.unsubscribe()));
    throw error;
  }
  return subscriptions;
}

/** A listener: a MessageHandler, or a TypedMessageHandler for a typed topic. */
type AnyListener = (...args: never[]) => void | Promise<void>;

function collect(bean: unknown): Array<{ options: ListenerOptions; handler: AnyListener }> {
  if (typeof bean === 'function') {
    return getListenerMetadata(bean).map((options) => ({ options, handler: bean as AnyListener }));
  }
  if (typeof bean !== 'object' || bean === null) return [];
  const found: Array<{ options: ListenerOptions; handler: AnyListener }> = [];
  const seen = new Set<PropertyKey>();
  for (
    let proto: object | null = bean;
    proto !== null && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto) as object | null
  ) {
    for (const name of Reflect.ownKeys(proto)) {
      if (name === 'constructor' || seen.has(name)) continue;
      seen.add(name);
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      const fn: unknown = descriptor?.value;
      for (const options of getListenerMetadata(fn)) {
        const method = fn as (this: unknown, ...args: unknown[]) => unknown;
        found.push({ options, handler: (...args: never[]) => method.apply(bean, args) as void | Promise<void> });
      }
    }
  }
  return found;
}

function mark(fn: Marked, options: ListenerOptions): void {
  const existing = Object.prototype.hasOwnProperty.call(fn, LISTENERS) ? fn[LISTENERS]! : [];
  Object.defineProperty(fn, LISTENERS, { value: [...existing, options], configurable: true });
}

function validateListenerOptions(options: ListenerOptions): ListenerOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(`@MessageListener() needs options { topic, group? }, got ${describe(options)}.`);
  }
  if (!isTypedTopic(options.topic)) assertTopic(options.topic, 'register a listener');
  if (options.group !== undefined) assertGroup(options.group, topicName(options));
  return Object.freeze({ ...options });
}

function topicName(options: ListenerOptions): string {
  return typeof options.topic === 'string' ? options.topic : options.topic.name;
}

function isMethodContext(context: unknown): context is ClassMethodDecoratorContext {
  return typeof context === 'object' && context !== null && (context as { kind?: unknown }).kind === 'method';
}

function describeBean(bean: unknown): string {
  if (typeof bean === 'object' && bean !== null) return `an instance of ${bean.constructor?.name ?? 'Object'}`;
  return describe(bean);
}
