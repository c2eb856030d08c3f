import { RabbitMQAdapter } from '@msgport/rabbitmq';
import { runFuzzSuite } from '@msgport/testkit';
import { RABBITMQ_URL, uniqueExchange } from './support/broker.js';
import { useSharedBroker } from './support/shared-broker.js';

const exchangeName = uniqueExchange('msgport-fuzz');
useSharedBroker(exchangeName);

/** The test broker's password, when it is one a message could not contain by chance (not guest/guest). */
function testPassword(): string[] {
  const { username, password } = new URL(RABBITMQ_URL);
  return password.length >= 6 && password !== username ? [password, decodeURIComponent(password)] : [];
}

/** The test broker's URL with other credentials (percent-encoded by the URL parser). */
function withCredentials(username: string, password: string): string {
  const url = new URL(RABBITMQ_URL);
  url.username = username;
  url.password = password;
  return url.toString();
}

runFuzzSuite({
  name: 'RabbitMQAdapter',
  createBroker: (logger) => new RabbitMQAdapter({ url: RABBITMQ_URL, exchangeName, logger, publishTimeoutMs: 10_000 }),
  deadLetterTopic: (topic, group) => (group === null ? `${topic}.dlq` : `${topic}.${group}.dlq`),
  secrets: testPassword(),
  options: {
    create: (options) => new RabbitMQAdapter(options as ConstructorParameters<typeof RabbitMQAdapter>[0]),
    base: { url: RABBITMQ_URL, exchangeName },
    keys: [
      'url',
      'exchangeName',
      'prefetch',
      'connectionTimeoutMs',
      'publishTimeoutMs',
      'maxMessageBytes',
      'reconnect',
      'tls',
      'retry',
      'shutdownTimeoutMs',
      'concurrency',
      'logger',
    ],
    // The broker refuses this user: start() fails on authentication, quickly.
    withSecret: (secret) => ({ url: withCredentials('fuzz', secret), connectionTimeoutMs: 3_000 }),
  },
});
