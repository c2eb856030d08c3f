import { MessagingError, registerListeners, waitFor, type MessageBrokerPort } from '@msgport/core';
import { AnalyticsService, type AnalyticsSummary } from './analytics-service.js';
import { NotificationService } from './notification-service.js';
import { euros, type OrderEvent } from './order-events.js';
import { OrderService } from './order-service.js';

/** The listening side of the pipeline. */
export interface PipelineServices {
  readonly notifications: NotificationService;
  readonly analytics: AnalyticsService;
}

/** What happened during one run. */
export interface PipelineReport {
  /** The events OrderService published, in order. */
  readonly published: readonly OrderEvent[];
  /** What NotificationService did about them, in the order it handled them. */
  readonly notifications: readonly string[];
  /** What AnalyticsService computed from them. */
  readonly analytics: AnalyticsSummary;
  /**
   * Events of earlier runs the services received too (a real broker may still hold some that were
   * published while nobody listened); they are left out of the report.
   */
  readonly earlierEvents: number;
}

/** Options of {@link publishOrders} and {@link runPipeline}. */
export interface PipelineOptions {
  /** How long to wait for both services to handle every event. @default 30000 */
  readonly timeoutMs?: number;
}

export function createServices(): PipelineServices {
  return { notifications: new NotificationService(), analytics: new AnalyticsService() };
}

/**
 * Publishes a few orders and a cancellation through OrderService, then waits (polling, with a
 * deadline) until both services have handled every event, and reports what they did. The broker
 * must be started with the services' listeners registered.
 *
 * @throws {MessagingError} code `WAIT_TIMEOUT` when a service has not handled everything in time.
 */
export async function publishOrders(
  broker: MessageBrokerPort,
  services: PipelineServices,
  options: PipelineOptions = {},
): Promise<PipelineReport> {
  const orders = new OrderService(broker);
  await orders.placeOrder('customer-ada', [
    { sku: 'keyboard', quantity: 1, priceCents: 4990 },
    { sku: 'usb-cable', quantity: 2, priceCents: 500 },
  ]);
  const monitor = await orders.placeOrder('customer-linus', [{ sku: 'monitor', quantity: 1, priceCents: 18900 }]);
  await orders.placeOrder('customer-grace', [{ sku: 'mouse', quantity: 1, priceCents: 2450 }]);
  await orders.placeOrder('customer-ada', [{ sku: 'headset', quantity: 1, priceCents: 7900 }]);
  await orders.cancelOrder(monitor, 'found a better deal');

  const ids = new Set(orders.published.map((event) => event.eventId));
  const handled = (eventIds: Iterable<string>): number => {
    let count = 0;
    for (const id of new Set(eventIds)) if (ids.has(id)) count++;
    return count;
  };
  const progress = (): { notifications: number; analytics: number } => ({
    notifications: handled(services.notifications.actions.map((action) => action.eventId)),
    analytics: handled(services.analytics.events.map((event) => event.eventId)),
  });
  try {
    await waitFor(
      () => {
        const now = progress();
        return now.notifications === ids.size && now.analytics === ids.size;
      },
      { timeoutMs: options.timeoutMs ?? 30_000, description: 'both services to handle every order event' },
    );
  } catch (error) {
    const now = progress();
    throw new MessagingError(
      `${(error as Error).message} NotificationService handled ${now.notifications} of ${ids.size} events, ` +
        `AnalyticsService ${now.analytics} of ${ids.size}.`,
      'WAIT_TIMEOUT',
      { retriable: true, cause: error },
    );
  }

  const mine = (event: { eventId: string }): boolean => ids.has(event.eventId);
  const earlier = new Set(
    [...services.notifications.actions, ...services.analytics.events].map((event) => event.eventId).filter((id) => !ids.has(id)),
  );
  return {
    published: orders.published,
    notifications: services.notifications.actions.filter(mine).map((action) => action.text),
    analytics: services.analytics.summary(mine),
    earlierEvents: earlier.size,
  };
}

/**
 * The whole pipeline on `broker`: registers the services' listeners, starts the broker, publishes
 * and waits ({@link publishOrders}), then stops the broker.
 */
export async function runPipeline(broker: MessageBrokerPort, options: PipelineOptions = {}): Promise<PipelineReport> {
  const services = createServices();
  await registerListeners(broker, services.notifications, services.analytics);
  await broker.start();
  try {
    return await publishOrders(broker, services, options);
  } finally {
    await broker.stop();
  }
}

/** The report as printed by the demo, one line per entry. */
export function formatReport(report: PipelineReport): string[] {
  const lines = [`OrderService published ${report.published.length} events to "orders" (key: customer id):`];
  for (const event of report.published) {
    lines.push(
      event.type === 'order.created'
        ? `  order.created    ${event.orderId}  ${event.customerId.padEnd(15)} ${euros(event.totalCents)}`
        : `  order.cancelled  ${event.orderId}  ${event.customerId.padEnd(15)} reason: ${event.reason}`,
    );
  }
  lines.push(`NotificationService (group "notifications") handled ${report.notifications.length} events:`);
  for (const text of report.notifications) lines.push(`  ${text}`);
  const { created, cancelled, revenueCents, ordersPerCustomer } = report.analytics;
  lines.push(`AnalyticsService (group "analytics") handled ${created + cancelled} events:`);
  lines.push(`  orders created: ${created}, cancelled: ${cancelled}`);
  lines.push(`  revenue: ${euros(revenueCents)} (cancelled orders excluded)`);
  lines.push(
    `  orders per customer: ${Object.entries(ordersPerCustomer)
      .map(([customer, count]) => `${customer} ${count}`)
      .join(', ')}`,
  );
  if (report.earlierEvents > 0)
    lines.push(`(the services also received ${report.earlierEvents} events left over from earlier runs)`);
  return lines;
}
