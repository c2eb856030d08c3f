import { describe, expect, it } from '@jest/globals';
import { KeyedExecutor } from '@msgport/core/adapter';

/** A task that records its start and end and finishes when released. */
function gatedTasks() {
  const log: string[] = [];
  const gates = new Map<string, () => void>();
  let running = 0;
  let maxRunning = 0;
  const task = (name: string) => async (): Promise<void> => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    log.push(`start ${name}`);
    await new Promise<void>((resolve) => gates.set(name, resolve));
    log.push(`end ${name}`);
    running--;
  };
  const release = async (name: string): Promise<void> => {
    const gate = gates.get(name);
    if (gate === undefined) throw new Error(`${name} has not started`);
    gates.delete(name);
    gate();
    // let the executor pump the next task
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { log, task, release, started: () => [...gates.keys()], maxRunning: () => maxRunning };
}

describe('KeyedExecutor', () => {
  it('rejects a concurrency that is not a positive integer', () => {
    expect(() => new KeyedExecutor(0)).toThrow(new RangeError('concurrency must be an integer >= 1, got 0'));
    expect(() => new KeyedExecutor(1.5)).toThrow(RangeError);
  });

  it('runs at most `concurrency` tasks at once', async () => {
    const executor = new KeyedExecutor(2);
    const { task, release, started, maxRunning } = gatedTasks();
    const done = ['a', 'b', 'c', 'd', 'e'].map((key) => executor.run(key, task(key)));
    expect(started()).toEqual(['a', 'b']);
    expect(executor.size).toBe(5);
    await release('a');
    expect(started()).toEqual(['b', 'c']);
    await release('b');
    await release('c');
    await release('d');
    await release('e');
    await Promise.all(done);
    expect(maxRunning()).toBe(2);
    expect(executor.size).toBe(0);
  });

  it('runs tasks of one key one at a time in submission order, letting other keys pass', async () => {
    const executor = new KeyedExecutor(4);
    const { log, task, release, started } = gatedTasks();
    const done = [
      executor.run('k', task('k1')),
      executor.run('k', task('k2')),
      executor.run('other', task('o1')),
      executor.run('k', task('k3')),
    ];
    expect(started()).toEqual(['k1', 'o1']);
    await release('o1');
    await release('k1');
    expect(started()).toEqual(['k2']);
    await release('k2');
    await release('k3');
    await Promise.all(done);
    expect(log.filter((line) => line.includes(' k'))).toEqual(['start k1', 'end k1', 'start k2', 'end k2', 'start k3', 'end k3']);
  });

  it('with concurrency 1 runs everything one at a time in submission order', async () => {
    const executor = new KeyedExecutor();
    const order: string[] = [];
    await Promise.all(
      ['x', null, 'y', null, 'x'].map((key, i) =>
        executor.run(key, async () => {
          order.push(`start ${i}`);
          await new Promise((resolve) => setImmediate(resolve));
          order.push(`end ${i}`);
        }),
      ),
    );
    expect(order).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3', 'start 4', 'end 4']);
  });

  it('runs tasks without a key (null) concurrently, limited only by concurrency', async () => {
    const executor = new KeyedExecutor(3);
    const { task, release, started } = gatedTasks();
    const done = ['n1', 'n2', 'n3', 'n4'].map((name) => executor.run(null, task(name)));
    expect(started()).toEqual(['n1', 'n2', 'n3']);
    for (const name of ['n2', 'n1', 'n3', 'n4']) await release(name);
    await Promise.all(done);
  });

  it('settles each returned promise like its task, and a failing task does not block its key', async () => {
    const executor = new KeyedExecutor(1);
    const failure = new Error('task failed');
    const first = executor.run('k', async () => {
      throw failure;
    });
    const second = executor.run('k', async () => undefined);
    await expect(first).rejects.toBe(failure);
    await expect(second).resolves.toBeUndefined();
  });

  it('treats a task that throws synchronously like a rejected one and keeps going', async () => {
    const executor = new KeyedExecutor(1);
    const failure = new Error('sync failure');
    const first = executor.run('k', () => {
      throw failure;
    });
    const second = executor.run('k', async () => undefined);
    await expect(first).rejects.toBe(failure);
    await expect(second).resolves.toBeUndefined();
    expect(executor.size).toBe(0);
  });

  it('tryAcquire() takes a slot only when run() would start a task at once, and release() starts the tasks that waited', async () => {
    const executor = new KeyedExecutor(2);
    const { log, task, release, started } = gatedTasks();
    expect(executor.tryAcquire('k')).toBe(true);
    expect(executor.tryAcquire('k')).toBe(false); // its key is busy
    expect(executor.tryAcquire('other')).toBe(true);
    expect(executor.tryAcquire('third')).toBe(false); // the limit is reached
    expect(executor.size).toBe(2);

    const waiting = executor.run('k', task('k2'));
    const overtaking = executor.run('free', task('f1'));
    expect(started()).toEqual([]);

    executor.release('other'); // a slot is free: a task of another key may pass the one waiting for 'k'
    expect(started()).toEqual(['f1']);
    // Something waits now, so a task must not be started around the queue.
    expect(executor.tryAcquire('new')).toBe(false);

    executor.release('k'); // its key and a slot are free: the task that waited for 'k' starts
    expect(started()).toEqual(['f1', 'k2']);
    await release('f1');
    await release('k2');
    await Promise.all([waiting, overtaking]);
    expect(log).toEqual(['start f1', 'start k2', 'end f1', 'end k2']);
    expect(executor.size).toBe(0);
    expect(executor.tryAcquire('k')).toBe(true);
  });
});
