import { hostname } from 'node:os';
import amqplib from 'amqplib';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import { ConfigurationError, type Logger } from '@msgport/core';
import { settleWithin, settledBefore } from '@msgport/core/adapter';
import { safeText } from './amqp-errors.js';
import type { Endpoint, Settings } from './settings.js';

/** One AMQP connection (to one node) and what was opened on it. */
export interface Link {
  readonly connection: ChannelModel;
  readonly endpoint: Endpoint;
  closed: boolean;
  blocked: boolean;
  /** The confirm channel for publishing; `null` while it is replaced. */
  publisher: Publisher | null;
  /** Dead-letter queues declared on this connection (declared once per connection). */
  readonly deadLetterQueues: Set<string>;
  /**
   * The group topology declarations on this connection, one after the other (see
   * group-attachment.ts): the tail of that chain.
   */
  declaring: Promise<void>;
}

/** The confirm channel of a {@link Link}. */
export interface Publisher {
  readonly channel: ConfirmChannel;
  closed: boolean;
  /** Why the broker closed the channel, when it did. */
  closeError: unknown;
  /** Set while amqplib's write buffer is full; later publishes wait for `drain`. */
  drained: Promise<void> | null;
}

/** What a {@link Link} reports to its owner. */
export interface LinkEvents {
  /** The connection closed (`error`: why, when the broker or the network said). */
  closed(link: Link, error: unknown): void;
  /** The connection or a channel failed: the text for health's `lastError`. */
  failed(text: string): void;
  /** The publisher's channel closed while the connection stayed up. */
  publisherClosed(link: Link): void;
}

/**
 * How long closing a connection waits for RabbitMQ's close-ok once the stop budget is spent. A
 * connection that does not answer by then (network silently down) is dropped, as a heartbeat
 * timeout would.
 */
const CLOSE_GRACE_MS = 1_000;

/**
 * Connects to `endpoint` (giving up at `deadline`), opens the confirm channel and declares the
 * exchanges. The caller decides when the link becomes the active one.
 *
 * @throws {ConfigurationError} when an exchange exists with other settings; the client's error otherwise.
 */
export async function openLink(
  endpoint: Endpoint,
  deadline: number,
  settings: Settings,
  logger: Logger,
  events: LinkEvents,
): Promise<Link> {
  const remaining = Math.max(1, deadline - Date.now());
  const connection = await settleWithin(
    amqplib.connect(endpoint.url, {
      ...settings.tls,
      timeout: remaining,
      // Without it (amqplib's default), Nagle's algorithm holds small writes (acks, a lone
      // publish) until the previous segment is acknowledged: tens of ms of latency.
      noDelay: true,
      clientProperties: { connection_name: `msgport@${hostname()}:${process.pid}` },
    }),
    remaining,
    { timeoutError: () => new Error(`connection attempt timed out after ${remaining} ms`), onLate: closeQuietly },
  );
  const link: Link = {
    connection,
    endpoint,
    closed: false,
    blocked: false,
    publisher: null,
    deadLetterQueues: new Set(),
    declaring: Promise.resolve(),
  };
  connection.on('error', (error: unknown) => events.failed(safeText(error, settings.secrets)));
  connection.on('close', (error?: unknown) => {
    link.closed = true;
    link.publisher = null;
    events.closed(link, error);
  });
  connection.on('blocked', (reason: unknown) => {
    link.blocked = true;
    logger.warn(`RabbitMQ blocked publishing on this connection: ${String(reason)}.`);
  });
  connection.on('unblocked', () => {
    link.blocked = false;
    logger.info('RabbitMQ unblocked publishing on this connection.');
  });
  try {
    link.publisher = await openPublisher(link, settings, events);
    return link;
  } catch (error) {
    link.closed = true;
    await closeQuietly(connection);
    if (error instanceof Error && /PRECONDITION[-_]FAILED|inequivalent arg/.test(error.message)) {
      throw new ConfigurationError(
        `Cannot use exchange "${settings.exchange}" on ${endpoint.redacted}: ${safeText(error, settings.secrets)}. ` +
          'It exists with other settings (msgport needs a durable direct exchange and a durable fanout ' +
          `"${settings.deadLetterExchange}"); delete it or set another exchangeName.`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** Opens a confirm channel on `link` and declares the main exchange, the dead-letter exchange and their binding. */
export async function openPublisher(link: Link, settings: Settings, events: LinkEvents): Promise<Publisher> {
  const channel = await link.connection.createConfirmChannel();
  const publisher: Publisher = { channel, closed: false, closeError: null, drained: null };
  channel.on('error', (error: unknown) => {
    publisher.closeError = error;
  });
  channel.on('close', () => {
    publisher.closed = true;
    if (link.publisher !== publisher) return;
    link.publisher = null;
    // Wait a turn: when the whole connection closes, its channels close first.
    setImmediate(() => {
      if (!link.closed) events.publisherClosed(link);
    });
  });
  await channel.assertExchange(settings.exchange, 'direct', { durable: true });
  await channel.assertExchange(settings.deadLetterExchange, 'fanout', { durable: true });
  await channel.bindExchange(settings.exchange, settings.deadLetterExchange, '');
  return publisher;
}

/**
 * Closes `link`'s connection, waiting for RabbitMQ's close-ok until `deadline` (at least
 * {@link CLOSE_GRACE_MS}); a connection that does not answer is dropped, so that stop() never
 * waits for a heartbeat timeout on a network that went silent.
 */
export async function closeLink(link: Link, deadline: number, logger: Logger): Promise<void> {
  link.closed = true;
  const closing = closeQuietly(link.connection);
  if (await settledBefore(closing, Math.max(deadline, Date.now() + CLOSE_GRACE_MS))) return;
  logger.warn(
    `RabbitMQ at ${link.endpoint.redacted} did not answer the connection close (network down?); dropping the connection. ` +
      'Unacknowledged messages are redelivered.',
  );
  dropConnection(link.connection);
}

export async function closeQuietly(connection: ChannelModel): Promise<void> {
  try {
    await connection.close();
  } catch {
    // Already closed.
  }
}

/**
 * Ends a connection that does not answer by destroying its socket with an error: amqplib then
 * closes the connection and its channels as after a heartbeat timeout. The socket is not in
 * amqplib's public types; if that internal changes, this does nothing (the heartbeat ends it).
 */
function dropConnection(connection: ChannelModel): void {
  const stream = (connection.connection as unknown as { stream?: { destroy?: unknown } }).stream;
  if (stream !== undefined && typeof stream.destroy === 'function') {
    (stream.destroy as (error: Error) => void).call(stream, new Error('RabbitMQ did not answer the connection close'));
  }
}
