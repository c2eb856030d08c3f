import { defineTopic } from '@msgport/core';
import { z } from 'zod';

/** The header naming the event type (the JSON body's `type` field says the same). */
export const EVENT_TYPE_HEADER = 'event-type';

const OrderItem = z.object({
  sku: z.string().min(1),
  quantity: z.number().int().positive(),
  /** Unit price in cents. */
  priceCents: z.number().int().nonnegative(),
});

const OrderCreated = z.object({
  type: z.literal('order.created'),
  /** Unique per event: how the demo knows every service has seen everything it published. */
  eventId: z.string(),
  orderId: z.string(),
  customerId: z.string(),
  items: z.array(OrderItem).min(1).readonly(),
  totalCents: z.number().int().nonnegative(),
});

const OrderCancelled = z.object({
  type: z.literal('order.cancelled'),
  eventId: z.string(),
  orderId: z.string(),
  customerId: z.string(),
  reason: z.string(),
});

/** Every event on the orders topic, told apart by `type`. */
export const OrderEvent = z.discriminatedUnion('type', [OrderCreated, OrderCancelled]);

export type OrderItem = z.infer<typeof OrderItem>;
export type OrderCreated = z.infer<typeof OrderCreated>;
export type OrderCancelled = z.infer<typeof OrderCancelled>;
export type OrderEvent = z.infer<typeof OrderEvent>;

/**
 * The typed topic every order event goes to (JSON, checked by the zod schema on both sides); the
 * customer id is the key, so a customer's events stay in order. An event that does not match the
 * schema is refused by `publish()`; one that arrives malformed (from another producer) never reaches
 * a listener and goes straight to the dead-letter destination.
 */
export const orderEvents = defineTopic('orders', OrderEvent);

/** `5990` → `59.90 EUR`. */
export function euros(cents: number): string {
  return `${(cents / 100).toFixed(2)} EUR`;
}
