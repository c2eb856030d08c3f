import type { Message } from '@msgport/core';

/** The topic every order event goes to; the customer id is the key, so a customer's events stay in order. */
export const ORDERS_TOPIC = 'orders';

/** The header naming the event type (the JSON body's `type` field says the same). */
export const EVENT_TYPE_HEADER = 'event-type';

export interface OrderItem {
  readonly sku: string;
  readonly quantity: number;
  /** Unit price in cents. */
  readonly priceCents: number;
}

export interface OrderCreated {
  readonly type: 'order.created';
  /** Unique per event: how the demo knows every service has seen everything it published. */
  readonly eventId: string;
  readonly orderId: string;
  readonly customerId: string;
  readonly items: readonly OrderItem[];
  readonly totalCents: number;
}

export interface OrderCancelled {
  readonly type: 'order.cancelled';
  readonly eventId: string;
  readonly orderId: string;
  readonly customerId: string;
  readonly reason: string;
}

export type OrderEvent = OrderCreated | OrderCancelled;

/**
 * Reads an order event from a message: the `event-type` header when present, else the JSON body's
 * `type` field.
 *
 * @throws {Error} for a message that is not an order event (the broker retries, then dead-letters it).
 */
export function parseOrderEvent(message: Message): OrderEvent {
  const body = JSON.parse(message.value.toString('utf8')) as Partial<OrderEvent> & Record<string, unknown>;
  const type = message.headers[EVENT_TYPE_HEADER] ?? body.type;
  if (type !== 'order.created' && type !== 'order.cancelled') {
    throw new Error(`Not an order event: type ${JSON.stringify(type)}.`);
  }
  if (typeof body.eventId !== 'string' || typeof body.orderId !== 'string' || typeof body.customerId !== 'string') {
    throw new Error(`Malformed ${type} event: eventId, orderId and customerId are required.`);
  }
  return { ...body, type } as OrderEvent;
}

/** `5990` → `59.90 EUR`. */
export function euros(cents: number): string {
  return `${(cents / 100).toFixed(2)} EUR`;
}
