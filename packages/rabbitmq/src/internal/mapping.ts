import { createMessage, InvalidArgumentError, type Message, type MessageMetadata } from '@msgport/core';

/**
 * Reserved AMQP header carrying the message key, base64-encoded so that any bytes survive. Absent
 * when the key is `null`; present and empty for an empty key.
 */
export const KEY_HEADER = 'msgport-key';

/**
 * Reserved AMQP header carrying the partition the publisher chose (a decimal string): the topic's
 * partition exchange routes by it (queue-layout.ts). A transport fact: it never appears in a
 * received message's `headers`; the partition a delivery came from is `metadata.partition`.
 */
export const PARTITION_HEADER = 'msgport-partition';

/** Longest header name AMQP can encode (a field-table key is a short string). */
const MAX_HEADER_NAME_BYTES = 255;

/** The amqplib publish options msgport sets. */
export interface AmqpPublishOptions {
  readonly persistent: true;
  /** Application headers and the key; left out when there are neither (a `null` key, no headers). */
  readonly headers?: Record<string, string>;
  /** Seconds since the epoch (the AMQP `timestamp` property has second precision). */
  readonly timestamp: number;
}

/** What amqplib's `publish` is given for a {@link Message}. */
export interface AmqpPublish {
  readonly routingKey: string;
  readonly content: Buffer;
  readonly options: AmqpPublishOptions;
}

/** The parts of an amqplib delivery the mapping reads (structurally an amqplib `ConsumeMessage`). */
export interface AmqpDelivery {
  readonly content: Buffer;
  readonly fields: { readonly redelivered: boolean };
  readonly properties: { readonly headers?: Readonly<Record<string, unknown>> | undefined; readonly timestamp?: unknown };
}

/**
 * Maps a {@link Message} to what amqplib publishes: routing key = topic, persistent, application
 * headers as AMQP long strings plus the key in {@link KEY_HEADER} and `partition` in
 * {@link PARTITION_HEADER}; no `headers` at all for a message without key, headers or partition.
 *
 * @throws {InvalidArgumentError} for a header name longer than 255 UTF-8 bytes, `__proto__`, or the reserved
 *   {@link KEY_HEADER} and {@link PARTITION_HEADER}.
 */
export function toAmqpPublish(message: Message, partition: number | null = null, now: number = Date.now()): AmqpPublish {
  const timestamp = Math.floor(now / 1000);
  const { key } = message;
  let headers: Record<string, string> | undefined;
  // A Message's headers are a frozen plain object of own string properties.
  for (const name in message.headers) {
    if (Buffer.byteLength(name, 'utf8') > MAX_HEADER_NAME_BYTES) {
      throw new InvalidArgumentError(
        `Cannot publish to "${message.topic}": header name "${name.slice(0, 40)}…" is longer than ${MAX_HEADER_NAME_BYTES} bytes, ` +
          'the most an AMQP header name can hold. Use a shorter name.',
      );
    }
    // amqplib decodes a received field table by assignment, which takes "__proto__" for the
    // object's prototype: a header of that name would be lost on the way.
    if (name === '__proto__') {
      throw new InvalidArgumentError(
        `Cannot publish to "${message.topic}": the header name "__proto__" cannot be carried by RabbitMQ's client ` +
          '(amqplib drops it when it receives the message). Use another header name.',
      );
    }
    // Reserved for the key and the partition: an application header of either name could not
    // arrive as published.
    if (name === KEY_HEADER || name === PARTITION_HEADER) {
      throw new InvalidArgumentError(
        `Cannot publish to "${message.topic}": the header name "${name}" is reserved on RabbitMQ, which carries the ` +
          `message ${name === KEY_HEADER ? 'key (pass it as the key option)' : 'partition'} in it. Use another header name.`,
      );
    }
    headers ??= {};
    headers[name] = message.headers[name]!;
  }
  if (key !== null) (headers ??= {})[KEY_HEADER] = key.toString('base64');
  if (partition !== null) (headers ??= {})[PARTITION_HEADER] = String(partition);
  return {
    routingKey: message.topic,
    content: message.value,
    options: headers === undefined ? { persistent: true, timestamp } : { persistent: true, headers, timestamp },
  };
}

/**
 * Maps an amqplib delivery to a {@link Message} of `topic` (the topic the consumer subscribed to).
 * The key comes back from {@link KEY_HEADER} exactly as published (`null` stays `null`); other
 * header values that are not strings (from foreign producers) are decoded as {@link headerValueToString} says.
 * {@link PARTITION_HEADER} is dropped; `partition` (the partition queue the delivery came from,
 * when it came from one) becomes `metadata.partition`.
 */
export function fromAmqpDelivery(delivery: AmqpDelivery, topic: string, partition: number | null = null): Message {
  const raw = delivery.properties.headers ?? {};
  const headers: Record<string, string> = {};
  let key: Buffer | null = null;
  for (const [name, value] of Object.entries(raw)) {
    // Header names must not be empty in a Message; AMQP allows them, foreign producers may send one.
    if (value === undefined || name === '') continue;
    if (name === KEY_HEADER) {
      key = decodeKey(value);
      continue;
    }
    if (name === PARTITION_HEADER) continue;
    headers[name] = headerValueToString(value);
  }
  const redelivered = delivery.fields.redelivered;
  const timestamp = delivery.properties.timestamp;
  const metadata: { -readonly [K in keyof MessageMetadata]: MessageMetadata[K] } = { redelivered };
  if (typeof timestamp === 'number' && Number.isFinite(timestamp)) metadata.timestamp = timestamp * 1000;
  if (partition !== null) metadata.partition = partition;
  return createMessage({ topic, value: delivery.content, key, headers, metadata });
}

/**
 * Decodes one AMQP header value to a string (C8): strings as they are; bytes as UTF-8 when valid,
 * else lowercase hex; numbers and booleans with `String`; `null` as an empty string; AMQP
 * timestamps and decimals as their number; arrays and tables (e.g. RabbitMQ's `x-death`) as JSON.
 */
export function headerValueToString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return bytesToString(value);
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  const scalar = typedScalar(value);
  if (scalar !== undefined) return scalar;
  return JSON.stringify(toJson(value));
}

function decodeKey(value: unknown): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'base64');
  if (value instanceof Uint8Array) return Buffer.from(value);
  return Buffer.from(headerValueToString(value), 'utf8');
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function bytesToString(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  }
}

/** amqplib's `{ '!': 'timestamp' | 'decimal', value }` wrappers. */
function typedScalar(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || !('!' in value) || !('value' in value)) return undefined;
  if (value['!'] === 'timestamp' && typeof value.value === 'number') return String(value.value);
  if (value['!'] === 'decimal' && typeof value.value === 'object' && value.value !== null) {
    const { places, digits } = value.value as { places?: unknown; digits?: unknown };
    if (typeof places === 'number' && typeof digits === 'number') {
      if (places === 0) return String(digits);
      const padded = String(digits).padStart(places + 1, '0');
      return `${padded.slice(0, -places)}.${padded.slice(-places)}`;
    }
  }
  return undefined;
}

function toJson(value: unknown): unknown {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null) return value;
  if (typeof value === 'bigint') return String(value);
  if (value instanceof Uint8Array) return bytesToString(value);
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === 'object') {
    const scalar = typedScalar(value);
    if (scalar !== undefined) return Number(scalar);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  }
  return null;
}
