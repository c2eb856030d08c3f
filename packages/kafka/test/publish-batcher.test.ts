import { describe, expect, it } from '@jest/globals';
import { createMessage } from '@msgport/core';
import { toKafkaRecord } from '../src/internal/mapping.js';
import { PublishBatcher, UnansweredError, type TopicRecords } from '../src/internal/publish-batcher.js';

const record = (value: string) => toKafkaRecord(createMessage({ topic: 't', value }));
const valuesOf = (batch: TopicRecords[]) => batch.flatMap(({ messages }) => messages.map((m) => m.value.toString()));
const tooLarge = Object.assign(new Error('too large'), { type: 'MESSAGE_TOO_LARGE' });
/** What the fake brokers throw while "down": retriable. */
const down = Object.assign(new Error('broker down'), { retriable: true });
const HOUR = 3_600_000;

function batcher(
  send: (batch: TopicRecords[]) => Promise<void>,
  options: Partial<ConstructorParameters<typeof PublishBatcher>[1]> = {},
) {
  return new PublishBatcher(send, {
    maxBatchSize: 1000,
    maxBatchBytes: 1_000_000,
    lingerMs: 0,
    isTooLarge: (error) => (error as { type?: string }).type === 'MESSAGE_TOO_LARGE',
    isRetriable: (error) => (error as { retriable?: boolean }).retriable === true,
    retryDelayMs: () => 5,
    ...options,
  });
}

/** Enqueues `value` for topic "t" with a deadline `ms` from now (an hour by default). */
const enqueue = (b: PublishBatcher, value: string, ms = HOUR) => b.enqueue('t', record(value), Date.now() + ms);

/** A send function the test controls: each call waits until the test answers it. */
function controlledSend() {
  const calls: Array<{ values: string[]; succeed: () => void; fail: (error: unknown) => void }> = [];
  const waiters: Array<() => void> = [];
  const send = (batch: TopicRecords[]) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ values: valuesOf(batch), succeed: resolve, fail: reject });
      waiters.splice(0).forEach((wake) => wake());
    });
  /** Resolves once `count` calls were made. */
  const untilCalls = async (count: number) => {
    while (calls.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
    return calls[count - 1]!;
  };
  return { calls, send, untilCalls };
}

async function outcome(promise: Promise<void>): Promise<'resolved' | Error> {
  return promise.then(
    () => 'resolved' as const,
    (error: unknown) => error as Error,
  );
}

describe('PublishBatcher', () => {
  it('gives every failed caller what toError makes of the failure and its own topic, once', async () => {
    const mapped: string[] = [];
    const b = batcher(
      async () => {
        throw new Error('refused');
      },
      {
        toError: (error, topic) => {
          mapped.push(topic);
          return new Error(`${topic}: ${(error as Error).message}`);
        },
      },
    );
    const results = await Promise.all([
      outcome(b.enqueue('a', record('1'), Date.now() + HOUR)),
      outcome(b.enqueue('b', record('2'), Date.now() + HOUR)),
    ]);
    expect(results.map((result) => (result as Error).message)).toEqual(['a: refused', 'b: refused']);
    expect(mapped).toEqual(['a', 'b']);
    // Closed: a record refused at once is mapped too.
    b.close();
    expect(((await outcome(b.enqueue('c', record('3'), Date.now() + HOUR))) as Error).message).toBe(
      'c: the publisher was closed before an acknowledgement',
    );
  });

  it('sends records enqueued in the same tick in one batch, grouped by topic, in order', async () => {
    const batches: TopicRecords[][] = [];
    const b = batcher(async (batch) => void batches.push(batch));
    await Promise.all([
      b.enqueue('a', record('1'), Date.now() + HOUR),
      b.enqueue('b', record('2'), Date.now() + HOUR),
      b.enqueue('a', record('3'), Date.now() + HOUR),
    ]);
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
    const first = enqueue(b, '1');
    await new Promise((resolve) => setImmediate(resolve));
    const rest = [enqueue(b, '2'), enqueue(b, '3')];
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([['1']]);
    release();
    await Promise.all([first, ...rest]);
    expect(batches).toEqual([['1'], ['2', '3']]);
  });

  it('lets the callers released by an acknowledgement publish again before taking the next batch', async () => {
    const { calls, send, untilCalls } = controlledSend();
    const b = batcher(send);
    // Each caller publishes again once its previous publish resolved, a few awaits later (as a
    // caller going through core and the adapter does).
    const publishAgain = async (value: string): Promise<void> => {
      await enqueue(b, value);
      for (let i = 0; i < 8; i++) await Promise.resolve();
      await enqueue(b, `${value}'`);
    };
    const first = ['a', 'b', 'c'].map(publishAgain);
    const firstCall = await untilCalls(1);
    // Queued while the first batch is in flight.
    const queued = ['d', 'e'].map((value) => enqueue(b, value));
    firstCall.succeed();
    (await untilCalls(2)).succeed();
    await Promise.all([...first, ...queued]);
    expect(calls.map(({ values }) => values)).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e', "a'", "b'", "c'"],
    ]);
  });

  it('bounds batches by count and by estimated bytes', async () => {
    const sizes: number[] = [];
    const byCount = batcher(async (batch) => void sizes.push(valuesOf(batch).length), { maxBatchSize: 4 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => enqueue(byCount, String(i))));
    expect(sizes).toEqual([4, 4, 2]);

    sizes.length = 0;
    const byBytes = batcher(async (batch) => void sizes.push(valuesOf(batch).length), { maxBatchBytes: 2_500 });
    await Promise.all(Array.from({ length: 4 }, () => enqueue(byBytes, 'x'.repeat(1000))));
    expect(sizes).toEqual([2, 2]);
  });

  it('gives every caller of a failed batch the error', async () => {
    const b = batcher(async () => {
      throw new Error('broker down');
    });
    const results = await Promise.allSettled([enqueue(b, '1'), enqueue(b, '2')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('splits a batch refused for its size, so only the record that is too large fails', async () => {
    const sent: string[][] = [];
    const b = batcher(async (batch) => {
      const values = valuesOf(batch);
      sent.push(values);
      if (values.includes('big')) throw tooLarge;
    });
    const results = await Promise.allSettled(['a', 'big', 'c'].map((v) => enqueue(b, v)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(sent).toEqual([['a', 'big', 'c'], ['a'], ['big'], ['c']]);
  });

  it('flush() resolves once everything queued so far was answered', async () => {
    let answered = 0;
    const b = batcher(async (batch) => void (answered += valuesOf(batch).length), { lingerMs: 20 });
    const pending = [enqueue(b, '1'), enqueue(b, '2')];
    await b.flush();
    expect(answered).toBe(2);
    await Promise.all(pending);
  });

  describe('outages', () => {
    it('sends a batch again on retriable failures, then resolves its callers; the next batch waits for it', async () => {
      const { calls, send, untilCalls } = controlledSend();
      const b = batcher(send);
      const first = enqueue(b, '1');
      (await untilCalls(1)).fail(down);
      const second = enqueue(b, '2'); // enqueued while batch 1 is being retried
      (await untilCalls(2)).fail(down);
      (await untilCalls(3)).succeed();
      (await untilCalls(4)).succeed();
      await Promise.all([first, second]);
      expect(calls.map((call) => call.values)).toEqual([['1'], ['1'], ['1'], ['2']]);
    });

    it('rejects at the deadline with UnansweredError (sent), and reports the abandoned batch', async () => {
      const abandoned: unknown[] = [];
      const b = batcher(async () => Promise.reject(down), { onAbandoned: (error) => abandoned.push(error) });
      const began = Date.now();
      const error = await outcome(enqueue(b, '1', 150));
      const waited = Date.now() - began;
      expect(error).toBeInstanceOf(UnansweredError);
      expect(error).toMatchObject({ reason: 'deadline', sent: true, lastError: down });
      expect(waited).toBeGreaterThanOrEqual(140);
      expect(waited).toBeLessThan(1_000);
      await b.flush();
      expect(abandoned).toEqual([down]);
    });

    it('rejects a record at its deadline even while an attempt that contains it is still running', async () => {
      const { calls, send, untilCalls } = controlledSend();
      const b = batcher(send);
      const stuck = enqueue(b, '1', 100);
      const call = await untilCalls(1);
      expect(await outcome(stuck)).toMatchObject({ reason: 'deadline', sent: true });
      // The attempt is still running: the next record waits for it (one batch in flight) …
      const next = enqueue(b, '2');
      await new Promise((resolve) => setImmediate(resolve));
      expect(calls).toHaveLength(1);
      // … and goes once it settled, even as a success that came too late for the first caller.
      call.succeed();
      (await untilCalls(2)).succeed();
      await next;
      expect(calls.map((c) => c.values)).toEqual([['1'], ['2']]);
    });

    it('rejects a queued record at its own deadline, as never sent, without waiting for the batch in flight', async () => {
      const { send, untilCalls } = controlledSend();
      const b = batcher(send);
      void enqueue(b, '1');
      const call = await untilCalls(1);
      const began = Date.now();
      const error = await outcome(enqueue(b, '2', 100));
      expect(error).toMatchObject({ reason: 'deadline', sent: false });
      expect(Date.now() - began).toBeLessThan(1_000);
      call.succeed();
      await b.flush();
    });

    it('sends the records that are still waiting with a new producer session when others of the batch expired', async () => {
      const { calls, send, untilCalls } = controlledSend();
      const abandoned: unknown[] = [];
      const b = batcher(send, { onAbandoned: (error) => abandoned.push(error) });
      const short = enqueue(b, 'short', 100);
      const long = enqueue(b, 'long');
      const first = await untilCalls(1);
      expect(await outcome(short)).toMatchObject({ reason: 'deadline', sent: true });
      first.fail(down);
      // The broker may hold the first attempt: the producer session is renewed (onAbandoned)
      // before the rest is sent again.
      const second = await untilCalls(2);
      expect(abandoned).toEqual([down]);
      second.succeed();
      await long;
      expect(calls.map((c) => c.values)).toEqual([['short', 'long'], ['long']]);
    });

    it('does not retry what is not retriable, and reports the batch as abandoned unless it was too large', async () => {
      const abandoned: unknown[] = [];
      const fatal = new Error('not authorized');
      let sends = 0;
      const b = batcher(
        async () => {
          sends++;
          throw sends === 1 ? fatal : tooLarge;
        },
        { onAbandoned: (error) => abandoned.push(error) },
      );
      expect(await outcome(enqueue(b, '1'))).toBe(fatal);
      expect(await outcome(enqueue(b, '2'))).toBe(tooLarge);
      expect(sends).toBe(2);
      expect(abandoned).toEqual([fatal]);
    });

    it('close() while the brokers are unreachable rejects the batch and the queue at once and stops retrying', async () => {
      let sends = 0;
      const b = batcher(
        async () => {
          sends++;
          throw down;
        },
        { retryDelayMs: () => HOUR },
      );
      const inFlight = enqueue(b, '1');
      while (!b.failing) await new Promise((resolve) => setImmediate(resolve));
      const queued = enqueue(b, '2');
      const began = Date.now();
      b.close();
      expect(await outcome(inFlight)).toMatchObject({ reason: 'closed', sent: true, lastError: down });
      expect(await outcome(queued)).toMatchObject({ reason: 'closed', sent: false });
      await b.flush();
      expect(Date.now() - began).toBeLessThan(1_000);
      expect(sends).toBe(1);
      expect(await outcome(enqueue(b, '3'))).toMatchObject({ reason: 'closed', sent: false });
    });

    it('close() while the brokers answer still sends what is queued, without retrying a failure', async () => {
      const { calls, send, untilCalls } = controlledSend();
      const b = batcher(send);
      const first = enqueue(b, '1');
      const call = await untilCalls(1);
      const second = enqueue(b, '2');
      const third = enqueue(b, '3');
      b.close();
      const flushed = b.flush();
      call.succeed();
      (await untilCalls(2)).fail(down);
      await flushed;
      expect(await outcome(first)).toBe('resolved');
      expect(await outcome(second)).toMatchObject({ reason: 'closed', sent: true });
      expect(await outcome(third)).toMatchObject({ reason: 'closed', sent: true });
      expect(calls.map((c) => c.values)).toEqual([['1'], ['2', '3']]);
    });
  });
});
