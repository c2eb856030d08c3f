import {
  SubscribeError,
  createMessage,
  type HealthReport,
  type MessageBrokerPort,
  type MessageHandler,
  type Payload,
  type PublishOptions,
  type SubscribeOptions,
  type Subscription,
} from '@msgport/core';

export interface RecordedSubscription {
  readonly topic: string;
  readonly handler: MessageHandler;
  readonly options: SubscribeOptions;
  active: boolean;
}

/**
 * A MessageBrokerPort that only records subscriptions, for unit tests of the listener registry.
 * `failOnSubscribe` makes the n-th subscribe() (1-based) reject with a SubscribeError.
 */
export class RecordingBroker implements MessageBrokerPort {
  readonly subscriptions: RecordedSubscription[] = [];
  /** Every publish, as called. */
  readonly published: Array<{ topic: string; value: Payload; options: PublishOptions | undefined }> = [];
  failOnSubscribe: number | null = null;
  #calls = 0;

  publish(topic: string, value: Payload, options?: PublishOptions): Promise<void> {
    this.published.push({ topic, value, options });
    return Promise.resolve();
  }

  async subscribe(topic: string, handler: MessageHandler, group?: string | SubscribeOptions): Promise<Subscription> {
    this.#calls++;
    if (this.failOnSubscribe === this.#calls) throw new SubscribeError(`Cannot subscribe to "${topic}": refused.`);
    const options: SubscribeOptions = typeof group === 'string' ? { group } : (group ?? {});
    const record: RecordedSubscription = { topic, handler, options, active: true };
    this.subscriptions.push(record);
    const unsubscribe = (): Promise<void> => {
      record.active = false;
      return Promise.resolve();
    };
    return { topic, group: options.group ?? null, unsubscribe, [Symbol.asyncDispose]: unsubscribe };
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  [Symbol.asyncDispose](): Promise<void> {
    return Promise.resolve();
  }

  async health(): Promise<HealthReport> {
    return { status: 'up', details: {} };
  }

  /** Calls every active handler subscribed to `topic` with a message of `value`. */
  async deliver(topic: string, value: string): Promise<void> {
    for (const record of this.subscriptions) {
      if (record.active && record.topic === topic)
        await record.handler(createMessage({ topic, value }), { signal: new AbortController().signal });
    }
  }
}
