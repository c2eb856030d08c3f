/**
 * The in-memory baseline: a hand-written publish/subscribe dispatch loop with the same shape as
 * the in-memory broker — a topic → consumers map, broadcast consumers and round-robin groups,
 * a message object per publish, every handler awaited, `publish()` settling once every target
 * handler has. What it leaves out is exactly what msgport adds: argument validation, frozen
 * messages, lifecycle checks, the per-consumer ordering executor, retries and dead-lettering,
 * error wrapping and in-flight tracking for graceful stop.
 */
export interface LoopMessage {
  readonly topic: string;
  readonly value: Buffer;
  readonly key: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
}

export type LoopHandler = (message: LoopMessage) => void | Promise<void>;

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

class LoopConsumer {
  readonly members: LoopHandler[] = [];
  next = 0;

  async deliver(message: LoopMessage): Promise<void> {
    const handler = this.members[this.next]!;
    this.next = (this.next + 1) % this.members.length;
    await handler(message);
  }
}

export class DispatchLoop {
  readonly #topics = new Map<string, LoopConsumer[]>();
  readonly #groups = new Map<string, LoopConsumer>();

  subscribe(topic: string, handler: LoopHandler, group?: string): void {
    let consumers = this.#topics.get(topic);
    if (consumers === undefined) {
      consumers = [];
      this.#topics.set(topic, consumers);
    }
    let consumer = group === undefined ? undefined : this.#groups.get(`${topic}\u0000${group}`);
    if (consumer === undefined) {
      consumer = new LoopConsumer();
      consumers.push(consumer);
      if (group !== undefined) this.#groups.set(`${topic}\u0000${group}`, consumer);
    }
    consumer.members.push(handler);
  }

  async publish(topic: string, value: Buffer): Promise<void> {
    const message: LoopMessage = { topic, value, key: null, headers: NO_HEADERS };
    const consumers = this.#topics.get(topic);
    if (consumers === undefined) return;
    if (consumers.length === 1) {
      await consumers[0]!.deliver(message);
      return;
    }
    const pending = new Array<Promise<void>>(consumers.length);
    for (let i = 0; i < consumers.length; i++) pending[i] = consumers[i]!.deliver(message);
    await Promise.all(pending);
  }
}
