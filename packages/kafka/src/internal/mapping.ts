import { isUtf8 } from 'node:buffer';
import type { Message, MessageMetadata } from '@msgport/core';
import type { IHeaders, KafkaMessage, Message as KafkaRecord } from 'kafkajs';

/**
 * The pure translation between msgport's `Message` and kafkajs records. No I/O, no kafkajs runtime
 * import: unit-tested without a broker.
 */

/** A record as handed to `producer.sendBatch`, with everything already encoded. */
export interface OutgoingRecord extends KafkaRecord {
  readonly key: Buffer | null;
  readonly value: Buffer;
  /** Header values as strings: kafkajs encodes them as UTF-8. */
  readonly headers: Readonly<Record<string, string>>;
  /** The partition the record got when first sent (-1 before), kept if its batch is sent again. */
  chosenPartition: number;
  /**
   * A broker acknowledged the record (its partition answered), while other records of its batch
   * may still wait: a batch sent again leaves it out (see send-every-record.ts).
   */
  acknowledged: boolean;
}

/**
 * Upper bounds of a record's fields whose size does not depend on the message (Kafka's record
 * format v2): attributes (1 byte), the timestamp delta (a zig-zag varlong: 5 bytes hold any delta
 * under 2^33 ms, and kafkajs stamps the records of one request within milliseconds) and the offset
 * delta (a zig-zag varint: 5 bytes hold any int32).
 */
const RECORD_FIXED_BYTES = 1 + 5 + 5;

/** Bytes of the zig-zag varint Kafka's record format uses for the non-negative `n`. */
function varintBytes(n: number): number {
  let zigzag = n * 2;
  let bytes = 1;
  while (zigzag >= 128) {
    zigzag = Math.floor(zigzag / 128);
    bytes++;
  }
  return bytes;
}

/**
 * Encodes `message` for kafkajs: key and value as is; the headers are the message's own (frozen,
 * string values): kafkajs writes a string header value as UTF-8 (C8), so a copy with each value
 * turned into a Buffer first would only cost an object and a Buffer per header on every publish.
 */
export function toKafkaRecord(message: Message): OutgoingRecord {
  return {
    key: message.key,
    value: message.value,
    headers: message.headers,
    chosenPartition: -1,
    acknowledged: false,
  };
}

/**
 * An upper bound of the bytes `record` takes in a record batch (its encoding in Kafka's record
 * format v2, never less than what kafkajs writes), so that batches can be filled up to the broker's
 * `message.max.bytes` without being refused for their size.
 */
export function estimateRecordSize(record: OutgoingRecord): number {
  const { key, value, headers } = record;
  let body =
    RECORD_FIXED_BYTES + (key === null ? 1 : varintBytes(key.length) + key.length) + varintBytes(value.length) + value.length;
  let count = 0;
  for (const name in headers) {
    if (!Object.prototype.hasOwnProperty.call(headers, name)) continue;
    const nameBytes = Buffer.byteLength(name, 'utf8');
    const valueBytes = Buffer.byteLength(headers[name]!, 'utf8');
    body += varintBytes(nameBytes) + nameBytes + varintBytes(valueBytes) + valueBytes;
    count++;
  }
  body += varintBytes(count);
  return varintBytes(body) + body;
}

/**
 * Decodes one header value: UTF-8 when the bytes are valid UTF-8, lowercase hex otherwise (C8).
 * A null value (allowed by the Kafka protocol) becomes the empty string.
 */
export function decodeHeaderValue(value: Buffer | string | null | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  return isUtf8(value) ? value.toString('utf8') : value.toString('hex');
}

/**
 * Decodes kafkajs headers. A header name repeated in one record (legal in Kafka, produced by
 * some foreign clients) keeps its last value, like the Java client's `lastHeader()`.
 */
export function decodeHeaders(headers: IHeaders | undefined): Record<string, string> {
  const decoded: Record<string, string> = {};
  if (headers === undefined) return decoded;
  for (const [name, raw] of Object.entries(headers)) {
    const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    setOwn(decoded, name, decodeHeaderValue(value));
  }
  return decoded;
}

/** The headers of every received record that has none: shared, frozen once. */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
/** The value of every tombstone (null value): shared, like {@link NO_HEADERS}. */
const EMPTY_VALUE = Buffer.alloc(0);

/**
 * Builds the frozen `Message` for a record received from `topic`/`partition`. A null value (a
 * tombstone) becomes an empty buffer; the partition, offset and broker timestamp go to `metadata`,
 * never to `headers` (C1).
 *
 * Built directly rather than through core's `createMessage`: this runs once per consumed record,
 * and everything here is already of the right type (buffers from kafkajs, headers decoded to
 * strings), so validation and copies would be wasted. The result has the same shape: frozen,
 * headers and metadata frozen, metadata starting with `attempt: 1`.
 */
export function fromKafkaMessage(topic: string, partition: number, record: KafkaMessage): Message {
  const timestamp = Number(record.timestamp);
  const metadata: MessageMetadata =
    timestamp >= 0 && Number.isFinite(timestamp)
      ? { attempt: 1, partition, offset: record.offset, timestamp }
      : { attempt: 1, partition, offset: record.offset };
  const headers = receivedHeaders(record.headers);
  const value = record.value ?? EMPTY_VALUE;
  const key = record.key ?? null;
  const frozen = Object.freeze(metadata);
  // `id` (C11) is the msgport-message-id header, as core's createMessage() sets it.
  const id = headers['msgport-message-id'];
  return Object.freeze(
    id === undefined ? { topic, value, key, headers, metadata: frozen } : { topic, value, key, headers, metadata: frozen, id },
  );
}

/** Frozen decoded headers, or the shared {@link NO_HEADERS} when the record has none. */
function receivedHeaders(headers: IHeaders | undefined): Readonly<Record<string, string>> {
  if (headers === undefined) return NO_HEADERS;
  // `for…in` with an own-property check avoids allocating Object.entries() for the common case
  // of no headers at all.
  let decoded: Record<string, string> | null = null;
  for (const name in headers) {
    if (!Object.prototype.hasOwnProperty.call(headers, name)) continue;
    const raw = headers[name];
    const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    decoded ??= {};
    setOwn(decoded, name, decodeHeaderValue(value));
  }
  return decoded === null ? NO_HEADERS : Object.freeze(decoded);
}

/**
 * `target[name] = value` as an own property, also for the header name `__proto__` (legal in Kafka),
 * which an assignment would take for the object's prototype and drop.
 */
function setOwn<T>(target: Record<string, T>, name: string, value: T): void {
  if (name === '__proto__') Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
  else target[name] = value;
}

/**
 * Splits `'h1:9092, h2:9092'` or `['h1:9092', 'h2:9092']` into a list of `host:port` entries.
 * Returns an empty list when nothing usable is given (the caller reports it), whatever was given.
 */
export function parseBootstrapServers(servers: unknown): string[] {
  const entries: unknown[] = typeof servers === 'string' ? [servers] : Array.isArray(servers) ? [...(servers as unknown[])] : [];
  return entries
    .flatMap((entry) => (typeof entry === 'string' ? entry.split(',') : []))
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
}
