import { describe, expect, it } from '@jest/globals';
import {
  InvalidArgumentError,
  MessageListener,
  SubscribeError,
  getListenerMetadata,
  messageListener,
  registerListeners,
  type Message,
} from '@msgport/core';
import { RecordingBroker } from './support/recording-broker.js';

// This file compiles with TypeScript's standard (TC39) decorators; message-listener.experimental.test.ts
// runs the same decorator under experimentalDecorators.

describe('@MessageListener under standard decorators', () => {
  it('receives (method, context) from the standard decorator runtime', () => {
    const calls: unknown[][] = [];
    const spy = (...args: unknown[]): void => {
      calls.push(args);
      (MessageListener({ topic: 'orders' }) as (...a: unknown[]) => void)(...args);
    };
    class Service {
      @spy
      onOrder(_message: Message): void {}
    }
    expect(calls).toHaveLength(1);
    expect(calls[0]).toHaveLength(2);
    // eslint-disable-next-line @typescript-eslint/unbound-method -- the method is compared by identity and read for its metadata, never called
    expect(calls[0]![0]).toBe(Service.prototype.onOrder);
    expect(calls[0]![1]).toMatchObject({ kind: 'method', name: 'onOrder', static: false, private: false });
  });

  it('records metadata on the method without subscribing anything', () => {
    class Service {
      @MessageListener({ topic: 'orders', group: 'billing', retry: { maxAttempts: 5 } })
      onOrder(_message: Message): void {}
    }
    // eslint-disable-next-line @typescript-eslint/unbound-method -- the method is compared by identity and read for its metadata, never called
    expect(getListenerMetadata(Service.prototype.onOrder)).toEqual([
      { topic: 'orders', group: 'billing', retry: { maxAttempts: 5 } },
    ]);
    // eslint-disable-next-line @typescript-eslint/unbound-method -- the method is compared by identity and read for its metadata, never called
    expect(Object.isFrozen(getListenerMetadata(Service.prototype.onOrder)[0])).toBe(true);
  });

  it('returns no metadata for unmarked functions and non-functions', () => {
    expect(getListenerMetadata(() => undefined)).toEqual([]);
    expect(getListenerMetadata({})).toEqual([]);
    expect(getListenerMetadata(undefined)).toEqual([]);
  });

  it('rejects an illegal topic or group when the class is defined', () => {
    expect(() => MessageListener({ topic: 'bad topic' })).toThrow(InvalidArgumentError);
    expect(() => MessageListener({ topic: 'orders', group: 'bad group' })).toThrow(
      /Cannot subscribe to "orders": invalid group "bad group"/,
    );
    expect(() => MessageListener(undefined as never)).toThrow(
      '@MessageListener() needs options { topic, group? }, got undefined.',
    );
  });

  it('refuses to decorate something that is not a method', () => {
    const decorate = MessageListener({ topic: 'orders' }) as (value: unknown, context: unknown) => void;
    expect(() => decorate(undefined, { kind: 'field', name: 'x' })).toThrow(
      '@MessageListener({ topic: "orders" }) can only decorate methods.',
    );
  });
});

describe('registerListeners()', () => {
  it('subscribes each decorated method bound to its instance, with its group and retry policy', async () => {
    class Billing {
      readonly charged: string[] = [];
      readonly prefix = 'charged';

      @MessageListener({ topic: 'orders', group: 'billing', retry: { maxAttempts: 2 } })
      async onOrder(message: Message): Promise<void> {
        this.charged.push(`${this.prefix} ${message.value.toString()}`);
      }
    }
    const broker = new RecordingBroker();
    const billing = new Billing();

    const subscriptions = await registerListeners(broker, billing);
    await broker.deliver('orders', 'o1');

    expect(billing.charged).toEqual(['charged o1']);
    expect(subscriptions.map((s) => [s.topic, s.group])).toEqual([['orders', 'billing']]);
    expect(broker.subscriptions.map((s) => s.options)).toEqual([{ group: 'billing', retry: { maxAttempts: 2 } }]);
  });

  it('subscribes without a group (broadcast) when the listener has none', async () => {
    class Audit {
      @MessageListener({ topic: 'orders' })
      onOrder(_message: Message): void {}
    }
    const broker = new RecordingBroker();
    const [subscription] = await registerListeners(broker, new Audit());
    expect(subscription!.group).toBeNull();
    expect(broker.subscriptions[0]!.options).toEqual({});
  });

  it('binds each instance separately when several instances of one class are registered', async () => {
    class Counter {
      count = 0;
      @MessageListener({ topic: 'ticks' })
      onTick(): void {
        this.count++;
      }
    }
    const broker = new RecordingBroker();
    const a = new Counter();
    const b = new Counter();
    await registerListeners(broker, a, b);
    await broker.deliver('ticks', 't');
    expect([a.count, b.count]).toEqual([1, 1]);
  });

  it('finds listeners on inherited methods, and an override without the decorator replaces the listener', async () => {
    class Base {
      readonly seen: string[] = [];
      @MessageListener({ topic: 'base-topic' })
      onBase(message: Message): void {
        this.seen.push(`base ${message.value.toString()}`);
      }
      @MessageListener({ topic: 'overridden' })
      onOverridden(): void {
        this.seen.push('base override');
      }
    }
    class Child extends Base {
      @MessageListener({ topic: 'child-topic' })
      onChild(message: Message): void {
        this.seen.push(`child ${message.value.toString()}`);
      }
      override onOverridden(): void {
        this.seen.push('child override');
      }
    }
    const broker = new RecordingBroker();
    const child = new Child();
    await registerListeners(broker, child);
    await broker.deliver('base-topic', 'b');
    await broker.deliver('child-topic', 'c');
    await broker.deliver('overridden', 'o');

    expect(broker.subscriptions.map((s) => s.topic).sort()).toEqual(['base-topic', 'child-topic']);
    expect(child.seen).toEqual(['base b', 'child c']);
  });

  it('registers several listeners on one method and several methods on one bean', async () => {
    class Router {
      readonly seen: string[] = [];
      @MessageListener({ topic: 'eu-orders', group: 'router' })
      @MessageListener({ topic: 'us-orders', group: 'router' })
      onOrder(message: Message): void {
        this.seen.push(message.topic);
      }
      @MessageListener({ topic: 'refunds', group: 'router' })
      onRefund(message: Message): void {
        this.seen.push(message.topic);
      }
    }
    const broker = new RecordingBroker();
    const router = new Router();
    const subscriptions = await registerListeners(broker, router);
    expect(subscriptions.map((s) => s.topic).sort()).toEqual(['eu-orders', 'refunds', 'us-orders']);
    await broker.deliver('us-orders', 'x');
    await broker.deliver('eu-orders', 'x');
    await broker.deliver('refunds', 'x');
    expect(router.seen).toEqual(['us-orders', 'eu-orders', 'refunds']);
  });

  it('registers standalone messageListener() functions next to beans', async () => {
    const seen: string[] = [];
    const onPayment = messageListener({ topic: 'payments', group: 'ledger' }, async (message) => {
      seen.push(`payment ${message.value.toString()}`);
    });
    class Shipping {
      @MessageListener({ topic: 'orders' })
      onOrder(message: Message): void {
        seen.push(`order ${message.value.toString()}`);
      }
    }
    const broker = new RecordingBroker();

    const subscriptions = await registerListeners(broker, onPayment, new Shipping());
    await broker.deliver('payments', 'p1');
    await broker.deliver('orders', 'o1');

    expect(subscriptions.map((s) => [s.topic, s.group])).toEqual([
      ['payments', 'ledger'],
      ['orders', null],
    ]);
    expect(seen).toEqual(['payment p1', 'order o1']);
    expect(getListenerMetadata(onPayment)).toEqual([{ topic: 'payments', group: 'ledger' }]);
  });

  it('messageListener() returns the same function and rejects a non-function', () => {
    const fn = (): void => undefined;
    expect(messageListener({ topic: 't' }, fn)).toBe(fn);
    expect(() => messageListener({ topic: 't' }, 'nope' as never)).toThrow(
      'messageListener({ topic: "t" }): the handler must be a function, got a string.',
    );
  });

  it('rejects a bean without any listener, naming its class, before subscribing anything', async () => {
    class Forgotten {
      onOrder(): void {}
    }
    class Good {
      @MessageListener({ topic: 'orders' })
      onOrder(): void {}
    }
    const broker = new RecordingBroker();
    await expect(registerListeners(broker, new Good(), new Forgotten())).rejects.toThrow(
      new InvalidArgumentError(
        'registerListeners(): an instance of Forgotten has no @MessageListener method and is not a messageListener() function.',
      ),
    );
    await expect(registerListeners(broker, () => undefined)).rejects.toThrow(/a function has no @MessageListener method/);
    expect(broker.subscriptions).toEqual([]);
  });

  it('unsubscribes the listeners already subscribed when a later subscribe() fails, then rethrows', async () => {
    class Many {
      @MessageListener({ topic: 'one' })
      a(): void {}
      @MessageListener({ topic: 'two' })
      b(): void {}
      @MessageListener({ topic: 'three' })
      c(): void {}
    }
    const broker = new RecordingBroker();
    broker.failOnSubscribe = 3;

    const error: unknown = await registerListeners(broker, new Many()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SubscribeError);
    expect(broker.subscriptions.map((s) => [s.topic, s.active])).toEqual([
      ['one', false],
      ['two', false],
    ]);
  });

  it('does not call getters while looking for listeners', async () => {
    let getterCalls = 0;
    class WithGetter {
      get expensive(): number {
        getterCalls++;
        return 1;
      }
      @MessageListener({ topic: 'orders' })
      onOrder(): void {}
    }
    await registerListeners(new RecordingBroker(), new WithGetter());
    expect(getterCalls).toBe(0);
  });
});
