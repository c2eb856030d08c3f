import { describe, expect, it } from '@jest/globals';
import { createMessage, defineTopic, InvalidArgumentError, InvalidMessageError, type Message } from '@msgport/core';
import { z } from 'zod';
import { RecordingBroker } from './support/recording-broker.js';

// zod 4 implements Standard Schema: its types flow to publish() and to the handler.
const OrderPlaced = z.object({
  id: z.string().min(1),
  total: z.number().positive(),
  placedAt: z.iso.datetime().transform((text) => new Date(text)),
});

describe('defineTopic() with a zod schema', () => {
  it('publishes the input type and hands the handler the output type (transforms applied)', async () => {
    const orders = defineTopic('orders', OrderPlaced);
    const broker = new RecordingBroker();
    const received: Array<{ total: number; placedAt: Date; message: Message }> = [];
    await orders.subscribe(broker, (order, message) => {
      // Compile-time checks: `placedAt` is a Date (output type), `total` a number.
      received.push({ total: order.total, placedAt: order.placedAt, message });
    });

    await orders.publish(broker, { id: 'o-1', total: 42, placedAt: '2026-01-02T03:04:05Z' });
    const [published] = broker.published;
    expect(JSON.parse(published!.value as string)).toEqual({ id: 'o-1', total: 42, placedAt: '2026-01-02T03:04:05Z' });

    await broker.deliver('orders', published!.value as string);
    expect(received[0]!.total).toBe(42);
    expect(received[0]!.placedAt).toEqual(new Date('2026-01-02T03:04:05Z'));
  });

  it("lists zod's issues by path, on publish and on receipt", async () => {
    const orders = defineTopic('orders', OrderPlaced);
    const error = await orders
      .publish(new RecordingBroker(), { id: '', total: -1, placedAt: 'yesterday' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).issues.map((issue) => issue.split(':')[0])).toEqual(['id', 'total', 'placedAt']);
    await expect(orders.parse(createMessage({ topic: 'orders', value: '{"id":"x"}' }))).rejects.toBeInstanceOf(
      InvalidMessageError,
    );
  });
});
