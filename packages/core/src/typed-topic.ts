import { InvalidArgumentError } from './errors/invalid-argument-error.js';
import { InvalidMessageError } from './errors/invalid-message-error.js';
import { isMessagingError } from './errors/messaging-error.js';
import { isPromiseLike } from './internal/promises.js';
import { describe, type Message, type Payload } from './message.js';
import type {
  HandlerContext,
  MessageBrokerPort,
  MessageHandler,
  PublishOptions,
  SubscribeOptions,
  Subscription,
} from './message-broker-port.js';
import type { StandardSchemaV1 } from './standard-schema.js';
import { assertTopic } from './topic.js';

/**
 * Turns values into message bytes and back, for {@link defineTopic}. Plug Avro, Protobuf,
 * MessagePack … here; the default is {@link jsonCodec}.
 */
export interface Codec {
  /** Encodes a valid value (strings are sent as UTF-8). May throw for a value it cannot encode. */
  encode(value: unknown): Payload;
  /** Decodes received bytes; throws for bytes it cannot decode. The result is then validated. */
  decode(bytes: Buffer): unknown;
}

/** Options of {@link defineTopic}. */
export interface TopicOptions {
  /** How values become bytes. @default jsonCodec */
  readonly codec?: Codec;
}

/** Handles the payload of one message of a {@link TypedTopic}: decoded and valid. */
export type TypedMessageHandler<T> = (payload: T, message: Message, context: HandlerContext) => void | Promise<void>;

/**
 * A topic with a schema, made by {@link defineTopic}. Publishing validates and encodes; subscribing
 * decodes and validates, and only valid payloads reach the handler. `Input` is what may be
 * published, `Output` what handlers get (they differ when the schema transforms values).
 */
export interface TypedTopic<Input, Output = Input> {
  /** The topic name messages are published to. */
  readonly name: string;
  /** The schema every value is checked against, on both sides. */
  readonly schema: StandardSchemaV1<Input, Output>;
  /** How values become bytes and back. */
  readonly codec: Codec;

  /**
   * Validates `value` against the schema, encodes it (the value as given: subscribers validate it
   * again and get the schema's output) and publishes it with `broker.publish()`.
   *
   * @throws {InvalidArgumentError} when `value` is invalid (every issue by path, in the message and
   *   in `issues`) or cannot be encoded; nothing is sent then.
   * @throws whatever `broker.publish()` throws.
   */
  publish(broker: MessageBrokerPort, value: Input, options?: PublishOptions): Promise<void>;

  /**
   * Subscribes `handler` with `broker.subscribe()`, handing it the decoded, valid payload, the
   * message and the handler context. A message that cannot be decoded or is invalid never reaches
   * the handler: it is not retried, and goes to the dead-letter destination with
   * `msgport-error-type: InvalidMessageError` and its issues in `msgport-error-message` (or is
   * dropped, logged, under `retry: { deadLetter: false }`).
   *
   * @param group a group name, or the options of `broker.subscribe()`.
   */
  subscribe(
    broker: MessageBrokerPort,
    handler: TypedMessageHandler<Output>,
    group?: string | SubscribeOptions,
  ): Promise<Subscription>;

  /**
   * Decodes and validates a received message (a dead letter being inspected, a message read by
   * other means) the way {@link subscribe} does.
   *
   * @throws {InvalidMessageError} when it cannot be decoded or is invalid.
   */
  parse(message: Message): Promise<Output>;
}

/** JSON in UTF-8: `JSON.stringify` and `JSON.parse`. The default codec of {@link defineTopic}. */
export const jsonCodec: Codec = Object.freeze({
  encode(value: unknown): string {
    const text = JSON.stringify(value);
    if (typeof text !== 'string') throw new TypeError(`JSON cannot represent ${describe(value)}`);
    return text;
  },
  decode(bytes: Buffer): unknown {
    return JSON.parse(bytes.toString('utf8'));
  },
});

// Shared by every copy of @msgport/core, like the listener registry.
const TYPED_TOPIC = Symbol.for('msgport.TypedTopic');

/** Longest list of issues put in one error message (all of them stay in `issues`). */
const MAX_LISTED_ISSUES = 20;

/**
 * Defines a typed topic: `name` with a [Standard Schema](https://standardschema.dev) (zod,
 * valibot, arktype …) and a codec (JSON unless `options.codec` says otherwise).
 *
 * ```ts
 * const orders = defineTopic('orders', z.object({ id: z.string(), total: z.number() }));
 * await orders.publish(broker, { id: 'o-1', total: 42 });
 * await orders.subscribe(broker, (order) => console.log(order.total), 'billing');
 * ```
 *
 * @throws {InvalidArgumentError} for an illegal topic name, a value that is not a Standard Schema
 *   (version 1) or a codec without `encode` and `decode`.
 */
export function defineTopic<Schema extends StandardSchemaV1>(
  name: string,
  schema: Schema,
  options: TopicOptions = {},
): TypedTopic<StandardSchemaV1.InferInput<Schema>, StandardSchemaV1.InferOutput<Schema>> {
  type Input = StandardSchemaV1.InferInput<Schema>;
  type Output = StandardSchemaV1.InferOutput<Schema>;
  assertTopic(name, 'define a topic');
  const standard = (schema as Partial<StandardSchemaV1> | null | undefined)?.['~standard'];
  if (typeof standard !== 'object' || standard === null || standard.version !== 1 || typeof standard.validate !== 'function') {
    throw new InvalidArgumentError(
      `defineTopic("${name}"): the schema must implement Standard Schema v1 (zod, valibot, arktype … do), got ${describe(schema)}.`,
    );
  }
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(`defineTopic("${name}"): options must be an object, got ${describe(options)}.`);
  }
  const codec = options.codec ?? jsonCodec;
  if (typeof codec !== 'object' || codec === null || typeof codec.encode !== 'function' || typeof codec.decode !== 'function') {
    throw new InvalidArgumentError(
      `defineTopic("${name}"): the codec must have encode() and decode() methods, got ${describe(codec)}.`,
    );
  }
  const validate = (value: unknown): StandardSchemaV1.Result<Output> | Promise<StandardSchemaV1.Result<Output>> =>
    standard.validate(value);

  const send = (
    broker: MessageBrokerPort,
    value: Input,
    result: StandardSchemaV1.Result<Output>,
    options?: PublishOptions,
  ): Promise<void> => {
    if (result.issues !== undefined) {
      const issues = result.issues.map(formatIssue);
      return Promise.reject(
        new InvalidArgumentError(
          `Cannot publish to "${name}": the value does not match the topic's schema. ${listIssues(issues)}`,
          {
            issues,
          },
        ),
      );
    }
    let payload: Payload;
    try {
      payload = codec.encode(value);
    } catch (error) {
      return Promise.reject(
        new InvalidArgumentError(`Cannot publish to "${name}": the codec cannot encode the value (${errorMessage(error)}).`, {
          cause: error,
        }),
      );
    }
    return broker.publish(name, payload, options);
  };

  /** The payload of `message`, decoded and valid, or a promise of it; throws InvalidMessageError. */
  const read = (message: Message): Output | Promise<Output> => {
    let decoded: unknown;
    try {
      decoded = codec.decode(message.value);
    } catch (error) {
      throw new InvalidMessageError(
        `A message from "${name}" cannot be decoded (${errorMessage(error)}); its handler was not called.`,
        { cause: error },
      );
    }
    const result = validate(decoded);
    return isPromiseLike(result) ? result.then((settled) => checked(settled)) : checked(result);
  };

  const checked = (result: StandardSchemaV1.Result<Output>): Output => {
    if (result.issues === undefined) return result.value;
    const issues = result.issues.map(formatIssue);
    throw new InvalidMessageError(
      `A message from "${name}" does not match the topic's schema; its handler was not called. ${listIssues(issues)}`,
      { issues },
    );
  };

  const topic: TypedTopic<Input, Output> = {
    name,
    schema,
    codec,
    publish(broker, value, publishOptions) {
      let result: StandardSchemaV1.Result<Output> | Promise<StandardSchemaV1.Result<Output>>;
      try {
        result = validate(value);
      } catch (error) {
        return Promise.reject(
          isMessagingError(error)
            ? error
            : new InvalidArgumentError(`Cannot publish to "${name}": the schema's validate() threw (${errorMessage(error)}).`, {
                cause: error,
              }),
        );
      }
      if (isPromiseLike(result)) return result.then((settled) => send(broker, value, settled, publishOptions));
      return send(broker, value, result, publishOptions);
    },
    subscribe(broker, handler, group) {
      if (typeof handler !== 'function') {
        return Promise.reject(
          new InvalidArgumentError(`Cannot subscribe to "${name}": the handler must be a function, got ${describe(handler)}.`),
        );
      }
      const wrapped: MessageHandler = (message, context) => {
        const payload = read(message);
        if (isPromiseLike(payload)) return payload.then((valid) => handler(valid, message, context));
        return handler(payload, message, context);
      };
      return broker.subscribe(name, wrapped, group);
    },
    async parse(message) {
      return read(message);
    },
  };
  Object.defineProperty(topic, TYPED_TOPIC, { value: true });
  return Object.freeze(topic);
}

/** True for a topic made by {@link defineTopic} (of any copy of `@msgport/core`). */
export function isTypedTopic(value: unknown): value is TypedTopic<unknown, unknown> {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[TYPED_TOPIC] === true;
}

/** `path.to.field: message`, or `(root): message` for an issue of the whole value. */
function formatIssue(issue: StandardSchemaV1.Issue): string {
  const path = (issue.path ?? [])
    .map((segment) => (typeof segment === 'object' && segment !== null ? segment.key : segment))
    .map((key) => (typeof key === 'symbol' ? key.toString() : String(key)))
    .join('.');
  return `${path === '' ? '(root)' : path}: ${issue.message}`;
}

function listIssues(issues: readonly string[]): string {
  const shown = issues.slice(0, MAX_LISTED_ISSUES);
  const more = issues.length - shown.length;
  return `Issues: ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}.`;
}

function errorMessage(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return 'an unreadable error';
  }
}
