import { MessageListener } from '@msgport/core';
import { orderEvents, type OrderEvent } from './order-events.js';

/** What the analytics service computed over a set of events. */
export interface AnalyticsSummary {
  readonly created: number;
  readonly cancelled: number;
  /** Total of the orders created and not cancelled, in cents. */
  readonly revenueCents: number;
  /** Orders still standing per customer, by customer id. */
  readonly ordersPerCustomer: Readonly<Record<string, number>>;
}

/** Counts orders and revenue. Its group gets its own copy of every order event. */
export class AnalyticsService {
  readonly #events: OrderEvent[] = [];

  /** The events it handled, in order. */
  get events(): readonly OrderEvent[] {
    return this.#events;
  }

  @MessageListener({ topic: orderEvents, group: 'analytics' })
  async onOrderEvent(event: OrderEvent): Promise<void> {
    this.#events.push(event);
  }

  /** Totals over the events it handled (those matching `include`, when given). */
  summary(include: (event: OrderEvent) => boolean = () => true): AnalyticsSummary {
    const totals = new Map<string, { customerId: string; totalCents: number }>();
    let created = 0;
    let cancelled = 0;
    for (const event of this.#events.filter(include)) {
      if (event.type === 'order.created') {
        created++;
        totals.set(event.orderId, { customerId: event.customerId, totalCents: event.totalCents });
      } else {
        cancelled++;
        totals.delete(event.orderId);
      }
    }
    const ordersPerCustomer: Record<string, number> = {};
    for (const event of this.#events.filter(include)) ordersPerCustomer[event.customerId] ??= 0;
    let revenueCents = 0;
    for (const { customerId, totalCents } of totals.values()) {
      ordersPerCustomer[customerId] = (ordersPerCustomer[customerId] ?? 0) + 1;
      revenueCents += totalCents;
    }
    return { created, cancelled, revenueCents, ordersPerCustomer };
  }
}
