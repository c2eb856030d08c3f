import { MessageListener } from '@msgport/core';
import { euros, orderEvents, type OrderEvent } from './order-events.js';

/** One thing a service did about one event. */
export interface Action {
  readonly eventId: string;
  readonly text: string;
}

/** Tells customers about their orders. Its group gets its own copy of every order event. */
export class NotificationService {
  readonly #actions: Action[] = [];

  /** What it did, in the order it handled the events. */
  get actions(): readonly Action[] {
    return this.#actions;
  }

  @MessageListener({ topic: orderEvents, group: 'notifications' })
  async onOrderEvent(event: OrderEvent): Promise<void> {
    switch (event.type) {
      case 'order.created':
        this.#actions.push({
          eventId: event.eventId,
          text: `emailed ${event.customerId}: order ${event.orderId} confirmed, ${euros(event.totalCents)}`,
        });
        break;
      case 'order.cancelled':
        this.#actions.push({
          eventId: event.eventId,
          text: `emailed ${event.customerId}: order ${event.orderId} cancelled (${event.reason})`,
        });
        break;
    }
  }
}
