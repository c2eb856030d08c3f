import { InvalidArgumentError } from './errors/invalid-argument-error.js';
import { createMessageId, MESSAGE_ID_HEADER } from './message-id.js';

/** What may be passed as a message value or key: bytes, or a string (encoded as UTF-8). */
export type Payload = Uint8Array | string;

/**
 * Transport facts about a received message. Never mixed into `headers`; every field is optional
 * because each broker knows different things.
 */
export interface MessageMetadata {
  /** Delivery attempt of this message to this handler: 1, then 2, 3 … on retries. */
  readonly attempt?: number;
  /** Broker timestamp in milliseconds since the epoch, when known. */
  readonly timestamp?: number;
  /** Kafka partition. */
  readonly partition?: number;
  /** Kafka offset, as a decimal string (offsets can exceed 2^53). */
  readonly offset?: string;
  /** RabbitMQ: the broker delivered this message before (it may have been handled already). */
  readonly redelivered?: boolean;
}

/**
 * A message as published and as received (C1). Frozen, headers frozen too.
 *
 * `value` and `key` arrive byte-for-byte as published; `headers` arrive exactly as published
 * (strings, any Unicode). Header bytes from foreign producers that are not valid UTF-8 decode to
 * lowercase hex.
 */
export interface Message {
  /** The topic the message was published to. */
  readonly topic: string;
  /** The payload, as bytes. */
  readonly value: Buffer;
  /** The partitioning and ordering key, or `null` for none. */
  readonly key: Buffer | null;
  /** Application headers. Reserved: names starting with `msgport-` are set by msgport. */
  readonly headers: Readonly<Record<string, string>>;
  /** Transport facts (partition, offset, redelivery, attempt); never part of `headers`. */
  readonly metadata: Readonly<MessageMetadata>;
  /**
   * The message's identity (C11): its `msgport-message-id` header, a UUID v7 that `publish()` sets
   * unless the publisher set one. Kept by dead letters and redeliveries, so idempotent consumers
   * can use it. Absent only on messages from foreign producers that did not set the header.
   */
  readonly id?: string;
}

/** The fields to build a {@link Message} from. */
export interface MessageInit {
  readonly topic: string;
  readonly value: Payload;
  readonly key?: Payload | null | undefined;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  readonly metadata?: MessageMetadata | undefined;
}

const EMPTY_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
/** Half of a surrogate pair with no other half (a lone surrogate). */
const LONE_SURROGATE = /\p{Cs}/u;
const FIRST_ATTEMPT: Readonly<MessageMetadata> = Object.freeze({ attempt: 1 });

/**
 * Creates a frozen {@link Message}. Strings become UTF-8 bytes; a `Uint8Array` is copied into a
 * `Buffer` only when it is not one already.
 *
 * @throws {InvalidArgumentError} when the value, key or a header is of the wrong type.
 */
export function createMessage(init: MessageInit): Message {
  const headers = init.headers === undefined ? EMPTY_HEADERS : Object.freeze({ ...validateHeaders(init.topic, init.headers) });
  const metadata = init.metadata === undefined ? FIRST_ATTEMPT : Object.freeze({ attempt: 1, ...init.metadata });
  return build(
    init.topic,
    toBuffer(init.value, 'value', init.topic),
    init.key === undefined || init.key === null ? null : toBuffer(init.key, 'key', init.topic),
    headers,
    metadata,
  );
}

/**
 * Builds the message `publish()` hands to the adapter: like {@link createMessage}, plus a new
 * `msgport-message-id` header unless `headers` has one (C11). Internal to core's publish path.
 *
 * @throws {InvalidArgumentError} like {@link createMessage}, and for an empty `msgport-message-id`.
 */
export function createOutgoingMessage(
  topic: string,
  value: Payload,
  key: Payload | null | undefined,
  headers: Readonly<Record<string, string>> | undefined,
): Message {
  let withId: Record<string, string>;
  if (headers === undefined) {
    // A literal key, not a computed one: the object keeps fast properties.
    withId = { 'msgport-message-id': createMessageId() };
  } else {
    withId = { ...validateHeaders(topic, headers) };
    const given = withId[MESSAGE_ID_HEADER];
    if (given === undefined) withId[MESSAGE_ID_HEADER] = createMessageId();
    else if (given === '') {
      throw new InvalidArgumentError(
        `Cannot publish to "${topic}": header "${MESSAGE_ID_HEADER}" must not be empty. Omit it to get a generated UUID v7.`,
      );
    }
  }
  return build(
    topic,
    toBuffer(value, 'value', topic),
    key === undefined || key === null ? null : toBuffer(key, 'key', topic),
    Object.freeze(withId),
    FIRST_ATTEMPT,
  );
}

function build(
  topic: string,
  value: Buffer,
  key: Buffer | null,
  headers: Readonly<Record<string, string>>,
  metadata: Readonly<MessageMetadata>,
): Message {
  const id = headers[MESSAGE_ID_HEADER];
  return Object.freeze(
    id === undefined ? { topic, value, key, headers, metadata } : { topic, value, key, headers, metadata, id },
  );
}

/** Returns a copy of `message` with some metadata fields replaced. */
export function withMetadata(message: Message, metadata: MessageMetadata): Message {
  return Object.freeze({ ...message, metadata: Object.freeze({ ...message.metadata, ...metadata }) });
}

/**
 * Converts a {@link Payload} to a `Buffer` (strings as UTF-8).
 *
 * @throws {InvalidArgumentError} when `payload` is neither a string nor a `Uint8Array`.
 */
export function toBuffer(payload: unknown, what: 'value' | 'key', topic: string): Buffer {
  if (Buffer.isBuffer(payload)) return payload;
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  // Copies exactly the view's bytes (byteOffset..byteOffset+byteLength), so later changes to the
  // caller's array cannot alter a published message.
  if (payload instanceof Uint8Array) return Buffer.from(payload);
  throw new InvalidArgumentError(
    `Cannot publish to "${topic}": the ${what} must be a string or a Uint8Array/Buffer, got ${describe(payload)}. ` +
      `Serialize it first, e.g. JSON.stringify(${what}).`,
  );
}

function validateHeaders(topic: string, headers: unknown): Record<string, string> {
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    throw new InvalidArgumentError(
      `Cannot publish to "${topic}": headers must be a plain object of string values, got ${describe(headers)}.`,
    );
  }
  for (const [name, value] of Object.entries(headers)) {
    if (name.length === 0) {
      throw new InvalidArgumentError(`Cannot publish to "${topic}": header names must not be empty.`);
    }
    if (typeof value !== 'string') {
      throw new InvalidArgumentError(
        `Cannot publish to "${topic}": header "${name}" must be a string, got ${describe(value)}. ` +
          `Convert it with String(value) or JSON.stringify(value).`,
      );
    }
    // Brokers carry headers as UTF-8, which has no encoding for half of a surrogate pair: such a
    // string would arrive changed (C8 promises it arrives exactly as published).
    if (LONE_SURROGATE.test(name) || LONE_SURROGATE.test(value)) {
      throw new InvalidArgumentError(
        `Cannot publish to "${topic}": header ${JSON.stringify(name.slice(0, 60))} is not well-formed Unicode ` +
          '(it has half of a surrogate pair, which UTF-8 cannot carry). Cut strings by code points, not by UTF-16 units.',
      );
    }
  }
  return headers as Record<string, string>;
}

/**
 * Short, credential-free description of a value's type for error messages: `null`, `an array`,
 * `an object (Map)`, `a string` … Never throws (a Proxy, an object without prototype).
 */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'undefined') return 'undefined';
  if (typeof value !== 'object') return `a ${typeof value}`;
  try {
    if (Array.isArray(value)) return 'an array';
    const constructor: unknown = (value as { constructor?: unknown }).constructor;
    const name = typeof constructor === 'function' ? (constructor as { name?: unknown }).name : undefined;
    return typeof name === 'string' && name !== '' ? `an object (${name})` : 'an object';
  } catch {
    return 'an object';
  }
}

/**
 * A value as an error message may show it: numbers, booleans, bigints, `null` and `undefined` as
 * they are, anything else by its type only (see {@link describe}), so that a string that may be a
 * secret is never echoed. Never throws.
 */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return describe(value);
}
