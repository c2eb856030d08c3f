import { describe, expect, it } from '@jest/globals';
import {
  MessageListener,
  defineTopic,
  getListenerMetadata,
  registerListeners,
  type Message,
  type StandardSchemaV1,
} from '@msgport/core';
import { RecordingBroker } from './support/recording-broker.js';

// Compiled with experimentalDecorators (tsconfig.test-experimental.json), as NestJS projects do.

describe('@MessageListener under experimentalDecorators', () => {
  it('receives (prototype, name, descriptor) from the legacy decorator runtime', () => {
    const calls: unknown[][] = [];
    function spy(...args: unknown[]): void {
      calls.push(args);
      (MessageListener({ topic: 'orders' }) as (...a: unknown[]) => void)(...args);
    }
    class Service {
      @spy
      onOrder(_message: Message): void {}
    }
    // Only true when TypeScript emitted legacy decorator code.
    expect(calls).toHaveLength(1);
    expect(calls[0]).toHaveLength(3);
    expect(calls[0]![0]).toBe(Service.prototype);
    expect(calls[0]![1]).toBe('onOrder');
    // eslint-disable-next-line @typescript-eslint/unbound-method -- the method is compared by identity and read for its metadata, never called
    expect(calls[0]![2]).toMatchObject({ value: Service.prototype.onOrder, writable: true });
    // eslint-disable-next-line @typescript-eslint/unbound-method -- the method is compared by identity and read for its metadata, never called
    expect(getListenerMetadata(Service.prototype.onOrder)).toEqual([{ topic: 'orders' }]);
  });

  it('registers decorated methods bound to their instance, including inherited and multiply decorated ones', async () => {
    class Base {
      readonly seen: string[] = [];
      @MessageListener({ topic: 'base-topic', group: 'svc' })
      onBase(message: Message): void {
        this.seen.push(`base ${message.value.toString()}`);
      }
    }
    class Service extends Base {
      @MessageListener({ topic: 'a', group: 'svc' })
      @MessageListener({ topic: 'b', group: 'svc', retry: { maxAttempts: 1 } })
      async onEither(message: Message): Promise<void> {
        this.seen.push(`${message.topic} ${message.value.toString()}`);
      }
    }
    const broker = new RecordingBroker();
    const service = new Service();

    const subscriptions = await registerListeners(broker, service);
    await broker.deliver('a', '1');
    await broker.deliver('b', '2');
    await broker.deliver('base-topic', '3');

    expect(subscriptions.map((s) => s.topic).sort()).toEqual(['a', 'b', 'base-topic']);
    expect(service.seen).toEqual(['a 1', 'b 2', 'base 3']);
    expect(broker.subscriptions.find((s) => s.topic === 'b')!.options).toEqual({ group: 'svc', retry: { maxAttempts: 1 } });
  });

  it('hands a method on a typed topic the decoded payload and the message', async () => {
    const schema: StandardSchemaV1<{ n: number }> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value) =>
          typeof (value as { n?: unknown }).n === 'number'
            ? { value: value as { n: number } }
            : { issues: [{ message: 'Expected a number', path: ['n'] }] },
      },
    };
    const numbers = defineTopic('numbers', schema);
    class Adder {
      total = 0;
      @MessageListener({ topic: numbers, group: 'sum' })
      onNumber(payload: { n: number }, message: Message): void {
        this.total += payload.n + message.value.length * 0;
      }
    }
    const broker = new RecordingBroker();
    const adder = new Adder();
    await registerListeners(broker, adder);
    await broker.deliver('numbers', '{"n":2}');
    await broker.deliver('numbers', '{"n":3}');
    expect(adder.total).toBe(5);
    expect(broker.subscriptions[0]!.options).toEqual({ group: 'sum' });
  });

  it('refuses to decorate a property that is not a method', () => {
    const decorate = MessageListener({ topic: 'orders' }) as (
      target: object,
      key: string,
      descriptor: PropertyDescriptor,
    ) => void;
    expect(() => decorate({}, 'field', { value: 42 })).toThrow(
      '@MessageListener({ topic: "orders" }) can only decorate methods.',
    );
  });
});
