import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from '@jest/globals';
import { keyPartition, murmur2 } from '@msgport/core/adapter';

// kafkajs' own implementation, the reference (what its default partitioner computes).
const require = createRequire(import.meta.url);
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer) => number;

describe('murmur2()', () => {
  it('hashes exactly like kafkajs (and the Java client) for keys of every length remainder', () => {
    for (let length = 0; length < 64; length++) {
      for (let round = 0; round < 20; round++) {
        const key = randomBytes(length);
        expect(murmur2(key)).toBe(kafkajsMurmur2(key));
      }
    }
  });

  it('matches the Java client on known keys', () => {
    // Values of org.apache.kafka.common.utils.Utils.murmur2 (Kafka's own UtilsTest).
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
    expect(murmur2(Buffer.from('a-little-bit-longer-string'))).toBe(-1486304829);
    expect(murmur2(Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'))).toBe(-58897971);
    expect(murmur2(Buffer.from([97, 98, 99]))).toBe(479470107);
  });

  it('hashes a 1 MB key quickly (kafkajs took tens of seconds and blocked the event loop)', () => {
    const key = randomBytes(1_000_000);
    const started = Date.now();
    murmur2(key);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('picks the partition like the Java client: toPositive(murmur2(key)) % partitions', () => {
    for (let round = 0; round < 100; round++) {
      const key = randomBytes(1 + (round % 40));
      expect(keyPartition(key, 7)).toBe((kafkajsMurmur2(key) & 0x7fffffff) % 7);
    }
  });
});
