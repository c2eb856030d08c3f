import { describe, expect, it } from '@jest/globals';
import { createMessage } from '@msgport/core';
import { toKafkaRecord } from '../src/internal/mapping.js';
import { PublishBatcher, type TopicRecords } from '../src/internal/publish-batcher.js';

const record = (value: string) => toKafkaRecord(createMessage({ topic: 't', value }));
const valuesOf = (batch: TopicRecords[]) => batch.flatMap(({ messages }) => messages.map((m) => m.value.toString()));
const tooLarge = Object.assign(new Error('too large'), { type: 'MESSAGE_TOO_LARGE' });

function batcher(send: (batch: TopicRecords[]) => Promise<void>, options: Partial<ConstructorParameters<typeof PublishBatcher>[1]> = {}) {
  return new PublishBatcher(send, {
    maxBatchSize: 1000,
    maxBatchBytes: 1_000_000,
    lingerMs: 0,
    isTooLarge: (error) => (error as { type?: string }).type === 'MESSAGE_TOO_LARGE',
    ...options,
  });
}

describe('PublishBatcher', () => {
  it('sends records enqueued in the same tick in one batch, grouped by topic, in order', async () => {
    const batches: TopicRecords[][] = [];
    const b = batcher(async (batch) => void batches.push(batch));
    await Promise.all([b.enqueue('a', record('1')), b.enqueue('b', record('2')), b.enqueue('a', record('3'))]);
    expect(batches).toHaveLength(1);
    expect(batches[0]!.map(({ topic, messages }) => [topic, messages.map((m) => m.value.toString())])).toEqual([
      ['a', ['1', '3']],
      ['b', ['2']],
    ]);
  });

  it('keeps one batch in flight and sends everything enqueued meanwhile in the next one', async () => {
    const batches: string[][] = [];
    let release!: () => void;
    const firstInFlight = new Promise<void>((resolve) => (release = resolve));
    const b = batcher(async (batch) => {
      batches.push(valuesOf(batch));
      if (batches.length === 1) await firstInFlight;
    });
    const first = b.enqueue('t', record('1'));
    await new Promise((resolve) => setImmediate(resolve));
    const rest = [b.enqueue('t', record('2')), b.enqueue('t', record('3'))];
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([['1']]);
    release();
    await Promise.all([first, ...rest]);
    expect(batches).toEqual([['1'], ['2', '3']]);
  });

  it('bounds batches by count and by estimated bytes', async () => {
    const sizes: number[] = [];
    const byCount = batcher(async (batch) => void sizes.push(valuesOf(batch).length), { maxBatchSize: 4 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => byCount.enqueue('t', record(String(i)))));
    expect(sizes).toEqual([4, 4, 2]);

    sizes.length = 0;
    const byBytes = batcher(async (batch) => void sizes.push(valuesOf(batch).length), { maxBatchBytes: 2_500 });
    await Promise.all(Array.from({ length: 4 }, () => byBytes.enqueue('t', record('x'.repeat(1000)))));
    expect(sizes).toEqual([2, 2]);
  });

  it('gives every caller of a failed batch the error', async () => {
    const b = batcher(async () => {
      throw new Error('broker down');
    });
    const results = await Promise.allSettled([b.enqueue('t', record('1')), b.enqueue('t', record('2'))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('splits a batch refused for its size, so only the record that is too large fails', async () => {
    const sent: string[][] = [];
    const b = batcher(async (batch) => {
      const values = valuesOf(batch);
      sent.push(values);
      if (values.includes('big')) throw tooLarge;
    });
    const results = await Promise.allSettled(['a', 'big', 'c'].map((v) => b.enqueue('t', record(v))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(sent).toEqual([['a', 'big', 'c'], ['a'], ['big'], ['c']]);
  });

  it('flush() resolves once everything queued so far was answered', async () => {
    let answered = 0;
    const b = batcher(async (batch) => void (answered += valuesOf(batch).length), { lingerMs: 20 });
    const pending = [b.enqueue('t', record('1')), b.enqueue('t', record('2'))];
    await b.flush();
    expect(answered).toBe(2);
    await Promise.all(pending);
  });
});
