import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { loadConfig } from '@msgport/autoconfig';
import { registerListeners } from '@msgport/core';
import { InMemoryMessageBroker } from '@msgport/memory';
import { EXAMPLE_DIR, runApp } from '../src/app.js';
import { orderEvents, type OrderEvent } from '../src/order-events.js';
import { createServices, formatReport, runPipeline } from '../src/pipeline.js';

describe('the order pipeline on the in-memory broker', () => {
  it('delivers every order event to both services, which report what they did', async () => {
    const broker = new InMemoryMessageBroker();
    const report = await runPipeline(broker, { timeoutMs: 5000 });

    expect(report.published.map((event) => `${event.type} ${event.orderId} ${event.customerId}`)).toEqual([
      'order.created ord-1001 customer-ada',
      'order.created ord-1002 customer-linus',
      'order.created ord-1003 customer-grace',
      'order.created ord-1004 customer-ada',
      'order.cancelled ord-1002 customer-linus',
    ]);
    expect(report.notifications).toEqual([
      'emailed customer-ada: order ord-1001 confirmed, 59.90 EUR',
      'emailed customer-linus: order ord-1002 confirmed, 189.00 EUR',
      'emailed customer-grace: order ord-1003 confirmed, 24.50 EUR',
      'emailed customer-ada: order ord-1004 confirmed, 79.00 EUR',
      'emailed customer-linus: order ord-1002 cancelled (found a better deal)',
    ]);
    expect(report.analytics).toEqual({
      created: 4,
      cancelled: 1,
      revenueCents: 16340,
      ordersPerCustomer: { 'customer-ada': 2, 'customer-linus': 0, 'customer-grace': 1 },
    });
    expect(report.earlierEvents).toBe(0);
    expect((await broker.health()).status).toBe('stopped');
  });

  it('publishes JSON events with a type field and an event-type header, keyed by customer id', async () => {
    const broker = new InMemoryMessageBroker();
    await runPipeline(broker, { timeoutMs: 5000 });
    const messages = broker.publishedTo('orders');
    expect(messages).toHaveLength(5);
    for (const message of messages) {
      const body = JSON.parse(message.value.toString()) as { type: string; customerId: string };
      expect(message.headers['event-type']).toBe(body.type);
      expect(message.key?.toString()).toBe(body.customerId);
    }
    expect(broker.publishedTo('orders.DLT')).toEqual([]);
  });

  it('refuses an event that does not match the schema, and dead-letters a malformed one from another producer without calling the services', async () => {
    const broker = new InMemoryMessageBroker();
    const services = createServices();
    await registerListeners(broker, services.notifications, services.analytics);
    await broker.start();
    try {
      const refused = orderEvents.publish(broker, {
        type: 'order.cancelled',
        eventId: 'e',
        orderId: 'o',
        customerId: 'c',
      } as unknown as OrderEvent);
      await expect(refused).rejects.toThrow('reason: Invalid input');
      await broker.publish('orders', JSON.stringify({ type: 'order.created', orderId: 'ord-9' }), { key: 'customer-x' });
      const dead = broker.publishedTo('orders.DLT');
      expect(
        dead
          .map((message) => [
            message.headers['msgport-group'],
            message.headers['msgport-error-type'],
            message.headers['msgport-attempts'],
          ])
          .sort(),
      ).toEqual([
        ['analytics', 'InvalidMessageError', '1'],
        ['notifications', 'InvalidMessageError', '1'],
      ]);
      expect(services.notifications.actions).toEqual([]);
      expect(services.analytics.events).toEqual([]);
    } finally {
      await broker.stop();
    }
  });

  it('formats the report the demo prints', async () => {
    const lines = formatReport(await runPipeline(new InMemoryMessageBroker(), { timeoutMs: 5000 }));
    expect(lines).toEqual([
      'OrderService published 5 events to "orders" (key: customer id):',
      '  order.created    ord-1001  customer-ada    59.90 EUR',
      '  order.created    ord-1002  customer-linus  189.00 EUR',
      '  order.created    ord-1003  customer-grace  24.50 EUR',
      '  order.created    ord-1004  customer-ada    79.00 EUR',
      '  order.cancelled  ord-1002  customer-linus  reason: found a better deal',
      'NotificationService (group "notifications") handled 5 events:',
      '  emailed customer-ada: order ord-1001 confirmed, 59.90 EUR',
      '  emailed customer-linus: order ord-1002 confirmed, 189.00 EUR',
      '  emailed customer-grace: order ord-1003 confirmed, 24.50 EUR',
      '  emailed customer-ada: order ord-1004 confirmed, 79.00 EUR',
      '  emailed customer-linus: order ord-1002 cancelled (found a better deal)',
      'AnalyticsService (group "analytics") handled 5 events:',
      '  orders created: 4, cancelled: 1',
      '  revenue: 163.40 EUR (cancelled orders excluded)',
      '  orders per customer: customer-ada 2, customer-linus 0, customer-grace 1',
    ]);
  });
});

describe('the demo app', () => {
  it('runs on the in-memory broker from its own msgport.yaml, prints the report and stops', async () => {
    const printed: string[] = [];
    const before = process.listenerCount('SIGTERM');
    const report = await runApp({ env: {}, print: (line) => printed.push(line), timeoutMs: 5000 });
    expect(printed[0]).toMatch(/^Order pipeline on the memory broker \(config: .*examples\/order-pipeline\/msgport\.yaml\)$/);
    expect(printed.slice(1, -1)).toEqual(formatReport(report));
    expect(printed.at(-1)).toBe('Stopped the memory broker.');
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });

  it('takes the config file named by MSGPORT_CONFIG instead of its own', async () => {
    await expect(
      runApp({ env: { MSGPORT_CONFIG: join(EXAMPLE_DIR, 'missing.yaml') }, print: () => undefined }),
    ).rejects.toMatchObject({ code: 'CONFIG_FILE_NOT_FOUND' });
  });
});

describe('the example config files', () => {
  it.each([
    ['msgport.yaml', 'memory'],
    ['msgport.kafka.yaml', 'kafka'],
    ['msgport.rabbitmq.yaml', 'rabbitmq'],
  ])('%s is valid and selects %s', (file, provider) => {
    expect(loadConfig({ path: join(EXAMPLE_DIR, file), env: {} }).provider).toBe(provider);
  });
});
