/**
 * The lean baseline for asynchronous handlers (issue 13): the least a competent engineer writes to
 * dispatch a message to one broadcast subscriber and a round-robin group in one process. Per
 * publish: a frozen message, then each consumer's handler (the group's member chosen round-robin)
 * called and awaited in turn. Nothing else: no validation, no message id, no ordering executor, no
 * retries, dead letters or in-flight tracking.
 */
import type { LoopHandler, LoopMessage } from './dispatch-loop.js';

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

interface Consumer {
  readonly members: LoopHandler[];
  next: number;
}

export class LeanLoop {
  readonly #topics = new Map<string, Consumer[]>();
  readonly #groups = new Map<string, Consumer>();

  subscribe(topic: string, handler: LoopHandler, group?: string): void {
    let consumers = this.#topics.get(topic);
    if (consumers === undefined) this.#topics.set(topic, (consumers = []));
    let consumer = group === undefined ? undefined : this.#groups.get(`${topic}\u0000${group}`);
    if (consumer === undefined) {
      consumer = { members: [], next: 0 };
      consumers.push(consumer);
      if (group !== undefined) this.#groups.set(`${topic}\u0000${group}`, consumer);
    }
    consumer.members.push(handler);
  }

  async publish(topic: string, value: Buffer): Promise<void> {
    const message: LoopMessage = Object.freeze({ topic, value, key: null, headers: NO_HEADERS });
    const consumers = this.#topics.get(topic);
    if (consumers === undefined) return;
    for (const consumer of consumers) {
      const handler = consumer.members[consumer.next]!;
      consumer.next = (consumer.next + 1) % consumer.members.length;
      await handler(message);
    }
  }
}
