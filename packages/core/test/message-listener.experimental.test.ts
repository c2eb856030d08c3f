import { describe, expect, it } from '@jest/globals';
import { MessageListener, getListenerMetadata, registerListeners, type Message } from '@msgport/core';
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

  it('refuses to decorate a property that is not a method', () => {
    const decorate = MessageListener({ topic: 'orders' }) as (target: object, key: string, descriptor: PropertyDescriptor) => void;
    expect(() => decorate({}, 'field', { value: 42 })).toThrow('@MessageListener({ topic: "orders" }) can only decorate methods.');
  });
});
