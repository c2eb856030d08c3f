import { randomUUID } from 'node:crypto';
import type { MessageBrokerPort } from '@msgport/core';
import {
  EVENT_TYPE_HEADER,
  orderEvents,
  type OrderCancelled,
  type OrderCreated,
  type OrderEvent,
  type OrderItem,
} from './order-events.js';

/** Takes orders and publishes what happened to them; it knows nothing about who listens. */
export class OrderService {
  readonly #broker: MessageBrokerPort;
  readonly #published: OrderEvent[] = [];
  #nextOrder = 1001;

  constructor(broker: MessageBrokerPort) {
    this.#broker = broker;
  }

  /** Every event this service published, in order. */
  get published(): readonly OrderEvent[] {
    return this.#published;
  }

  /** Places an order and publishes `order.created`, keyed by the customer id. */
  async placeOrder(customerId: string, items: readonly OrderItem[]): Promise<OrderCreated> {
    const event: OrderCreated = {
      type: 'order.created',
      eventId: randomUUID(),
      orderId: `ord-${this.#nextOrder++}`,
      customerId,
      items,
      totalCents: items.reduce((sum, item) => sum + item.quantity * item.priceCents, 0),
    };
    await this.#publish(event);
    return event;
  }

  /** Cancels an order and publishes `order.cancelled`, keyed by the customer id. */
  async cancelOrder(order: OrderCreated, reason: string): Promise<OrderCancelled> {
    const event: OrderCancelled = {
      type: 'order.cancelled',
      eventId: randomUUID(),
      orderId: order.orderId,
      customerId: order.customerId,
      reason,
    };
    await this.#publish(event);
    return event;
  }

  async #publish(event: OrderEvent): Promise<void> {
    // Validated against the schema, encoded as JSON, and resolved once the broker has durably
    // accepted the event (Kafka acks, RabbitMQ confirm).
    await orderEvents.publish(this.#broker, event, {
      key: event.customerId,
      headers: { [EVENT_TYPE_HEADER]: event.type },
    });
    this.#published.push(event);
  }
}
