import { createRequire } from 'node:module';
import { describe, expect, it } from '@jest/globals';
import { createMessage } from '@msgport/core';
import type { KafkaMessage } from 'kafkajs';
import {
  decodeHeaderValue,
  decodeHeaders,
  estimateRecordSize,
  fromKafkaMessage,
  parseBootstrapServers,
  toKafkaRecord,
} from '../src/internal/mapping.js';

function record(fields: Partial<KafkaMessage> & { headers?: KafkaMessage['headers'] }): KafkaMessage {
  return {
    key: null,
    value: Buffer.from('v'),
    timestamp: '1700000000000',
    attributes: 0,
    offset: '42',
    headers: {},
    ...fields,
  } as KafkaMessage;
}

describe('toKafkaRecord()', () => {
  it('keeps key and value bytes and hands the header strings to kafkajs, which writes them as UTF-8', () => {
    const message = createMessage({
      topic: 't',
      value: Buffer.from([0, 1, 255]),
      key: Buffer.from([9, 8]),
      headers: { 'x-unicode': 'Grüße 🚀', 'x-empty': '' },
    });
    const out = toKafkaRecord(message);
    expect(out.value.equals(Buffer.from([0, 1, 255]))).toBe(true);
    expect(out.key!.equals(Buffer.from([9, 8]))).toBe(true);
    expect(out.headers).toBe(message.headers);
    const encoded = encodeRecord({ offsetDelta: 0, timestampDelta: 0, ...out }).buffer;
    expect(
      encoded.includes(
        Buffer.concat([
          Buffer.from('x-unicode'),
          Buffer.from([2 * Buffer.byteLength('Grüße 🚀')]),
          Buffer.from('Grüße 🚀', 'utf8'),
        ]),
      ),
    ).toBe(true);
    expect(encoded.includes(Buffer.concat([Buffer.from('x-empty'), Buffer.from([0])]))).toBe(true);
  });

  it('maps a missing key to null, so the partitioner spreads keyless messages', () => {
    expect(toKafkaRecord(createMessage({ topic: 't', value: 'v' })).key).toBeNull();
  });
});

// kafkajs' own record encoder (format v2), to check the estimate against what is really written.
const encodeRecord = createRequire(import.meta.url)('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (fields: {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | null;
  value: Buffer;
  headers: Readonly<Record<string, string | Buffer>>;
}) => { buffer: Buffer };

describe('estimateRecordSize()', () => {
  const shapes = {
    'empty value': createMessage({ topic: 't', value: '' }),
    '1 KiB value, no key': createMessage({ topic: 't', value: 'x'.repeat(1024) }),
    'key and headers': createMessage({
      topic: 't',
      value: 'x'.repeat(1000),
      key: 'k'.repeat(10),
      headers: { h: 'y'.repeat(100), 'x-ünï': 'Grüße 🚀' },
    }),
    '1 MiB value': createMessage({ topic: 't', value: Buffer.alloc(1 << 20) }),
    '200 headers': createMessage({
      topic: 't',
      value: 'v',
      headers: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`h${i}`, 'v'.repeat(i)])),
    }),
  };

  it.each(Object.entries(shapes))('is an upper bound of the encoded record, at most 8 bytes over: %s', (_shape, message) => {
    const outgoing = toKafkaRecord(message);
    const estimate = estimateRecordSize(outgoing);
    // The largest deltas a record of a batch gets: the 1,000th record, stamped a second later.
    for (const [offsetDelta, timestampDelta] of [
      [0, 0],
      [999, 1_000],
      [2 ** 31 - 1, 2 ** 32],
    ] as const) {
      const encoded = encodeRecord({
        offsetDelta,
        timestampDelta,
        key: outgoing.key,
        value: outgoing.value,
        headers: { ...outgoing.headers },
      }).buffer.length;
      expect(estimate).toBeGreaterThanOrEqual(encoded);
    }
    const typical = encodeRecord({
      offsetDelta: 999,
      timestampDelta: 3,
      key: outgoing.key,
      value: outgoing.value,
      headers: { ...outgoing.headers },
    }).buffer.length;
    expect(estimate - typical).toBeLessThanOrEqual(8);
  });

  it('lets 1,000 records of 1 KiB fill one request under the default maxBatchBytes (1048000)', () => {
    expect(1_000 * estimateRecordSize(toKafkaRecord(shapes['1 KiB value, no key']))).toBeLessThanOrEqual(1_048_000);
  });
});

describe('decodeHeaderValue()', () => {
  it('decodes valid UTF-8, including multi-byte characters', () => {
    expect(decodeHeaderValue(Buffer.from('日本語 ✨', 'utf8'))).toBe('日本語 ✨');
  });

  it('decodes bytes that are not valid UTF-8 to lowercase hex (C8)', () => {
    expect(decodeHeaderValue(Buffer.from([0xff, 0xfe, 0x00, 0xab]))).toBe('fffe00ab');
    // A truncated multi-byte sequence is not valid UTF-8 either.
    expect(decodeHeaderValue(Buffer.from([0x61, 0xe2, 0x82]))).toBe('61e282');
  });

  it('turns a null header value into the empty string', () => {
    expect(decodeHeaderValue(null)).toBe('');
    expect(decodeHeaderValue(undefined)).toBe('');
  });

  it('passes strings through', () => {
    expect(decodeHeaderValue('already text')).toBe('already text');
  });
});

describe('decodeHeaders()', () => {
  it('keeps the last value of a header repeated in one record', () => {
    expect(decodeHeaders({ h: [Buffer.from('first'), Buffer.from('last')], other: Buffer.from('x') })).toEqual({
      h: 'last',
      other: 'x',
    });
  });

  it('returns an empty object for a record without headers', () => {
    expect(decodeHeaders(undefined)).toEqual({});
  });
});

describe('fromKafkaMessage()', () => {
  it('builds a frozen message with partition, offset and timestamp in metadata, not in headers', () => {
    const message = fromKafkaMessage(
      'orders',
      3,
      record({ key: Buffer.from('k'), value: Buffer.from('payload'), headers: { a: Buffer.from('b') } }),
    );
    expect(message.topic).toBe('orders');
    expect(message.value.toString()).toBe('payload');
    expect(message.key!.toString()).toBe('k');
    expect(message.headers).toEqual({ a: 'b' });
    expect(message.metadata).toMatchObject({ partition: 3, offset: '42', timestamp: 1700000000000 });
    expect(Object.isFrozen(message)).toBe(true);
    expect(Object.isFrozen(message.headers)).toBe(true);
    expect(Object.isFrozen(message.metadata)).toBe(true);
  });

  it('turns a tombstone (null value) into an empty buffer and keeps a null key', () => {
    const message = fromKafkaMessage('t', 0, record({ value: null, key: null }));
    expect(Buffer.isBuffer(message.value)).toBe(true);
    expect(message.value.length).toBe(0);
    expect(message.key).toBeNull();
  });

  it('gives a record without headers frozen empty headers, and metadata with attempt 1', () => {
    const message = fromKafkaMessage('t', 2, record({ headers: {} }));
    expect(message.headers).toEqual({});
    expect(Object.isFrozen(message.headers)).toBe(true);
    expect(message.metadata).toEqual({ attempt: 1, partition: 2, offset: '42', timestamp: 1700000000000 });
  });

  it('leaves out a timestamp that is not a number', () => {
    const message = fromKafkaMessage('t', 0, record({ timestamp: 'garbage' }));
    expect(message.metadata.timestamp).toBeUndefined();
    expect(message.metadata.offset).toBe('42');
  });

  it('keeps offsets beyond 2^53 exact, as decimal strings', () => {
    const message = fromKafkaMessage('t', 0, record({ offset: '9007199254740993' }));
    expect(message.metadata.offset).toBe('9007199254740993');
  });

  it('round-trips with toKafkaRecord()', () => {
    const original = createMessage({ topic: 't', value: Buffer.from([1, 2, 3]), key: 'key', headers: { 'x-h': 'Ελληνικά' } });
    const out = toKafkaRecord(original);
    const back = fromKafkaMessage('t', 1, record({ key: out.key, value: out.value, headers: out.headers }));
    expect(back.value.equals(original.value)).toBe(true);
    expect(back.key!.equals(original.key!)).toBe(true);
    expect(back.headers).toEqual(original.headers);
  });
});

describe('parseBootstrapServers()', () => {
  it('splits a comma-separated string and trims entries', () => {
    expect(parseBootstrapServers(' h1:9092, h2:9093 ,')).toEqual(['h1:9092', 'h2:9093']);
  });

  it('accepts a list, whose entries may hold commas too', () => {
    expect(parseBootstrapServers(['h1:9092', 'h2:9092,h3:9092'])).toEqual(['h1:9092', 'h2:9092', 'h3:9092']);
  });

  it('returns an empty list when nothing usable is given', () => {
    expect(parseBootstrapServers('  , ')).toEqual([]);
    expect(parseBootstrapServers([])).toEqual([]);
  });
});
