import { setTimeout as sleep } from 'node:timers/promises';
import { ConnectionError, isMessagingError, type Logger } from '@msgport/core';
import { backoffDelay } from '@msgport/core/adapter';
import { isAccessRefused, safeText, tlsFailure } from './amqp-errors.js';
import { closeLink, openLink, openPublisher, type Link, type LinkEvents, type Publisher } from './link.js';
import type { Endpoint, Settings } from './settings.js';

/**
 * The lifecycle of the adapter's connection, one state at a time:
 *
 * ```
 * closed ──start()──► connecting ──► open ◄──────────────┐
 *   ▲                    │            │  connection lost  │ reconnected (consumers restored)
 *   │                    │            ▼                   │
 *   │                    │        recovering ─────────────┘  (next URL, backoff)
 *   │                    │            │ stop() began
 *   │  disconnect        ▼            ▼
 *   └─────────────── (failed)     stopping (link or none; no reconnection) ──► closed
 * ```
 *
 * Each state is a fresh object: an asynchronous step (a connection attempt, a reconnection) that
 * finds the state changed under it gives up.
 */
export type ConnectionState =
  /** Before start(), and from the moment the adapter disconnects: nothing waits for a connection. */
  | { readonly kind: 'closed' }
  /** start() is connecting (trying the URLs in turn until one answers or connectionTimeoutMs runs out). */
  | { readonly kind: 'connecting' }
  /** Connected: publishes and consumers use `link`. */
  | { readonly kind: 'open'; readonly link: Link }
  /** The connection was lost: reconnecting with backoff, to the next URL each time. */
  | Recovering
  /** stop() began: publishes and consumers may still use `link` while handlers drain; nothing reconnects. */
  | { readonly kind: 'stopping'; readonly link: Link | null };

interface Recovering {
  readonly kind: 'recovering';
  /** When the connection was lost. */
  readonly since: number;
  /** The node whose connection was lost. */
  readonly from: Endpoint;
  /** Attempts made so far. */
  attempt: number;
  /** Index in `endpoints` of the node the next attempt goes to. */
  next: number;
  timer: NodeJS.Timeout | null;
  /** The connection an attempt is restoring consumers on, before it becomes the open one. */
  restoring: Link | null;
  /** The last attempt failed for a reason retrying does not fix by itself (health says `down`). */
  refused: 'access' | 'tls' | null;
}

/** What the owner of the connection does when it changes. */
export interface ConnectionHooks {
  /**
   * Resumes every consumer on `link`, a new connection that is not open yet (publishes still wait);
   * returns what to do once it is open (retry the consumers that could not be resumed).
   */
  restore(link: Link): Promise<() => void>;
  /** `link`, the open connection, was lost: whatever used it forgets its channels. */
  lost(link: Link): void;
}

/** What health() reports of the connection. */
export interface ConnectionHealth {
  readonly link: Link | null;
  readonly down: boolean;
  readonly details: Record<string, unknown>;
}

/**
 * The adapter's connection to RabbitMQ and its recovery: connects to the first of the URLs that
 * answers, reconnects with backoff (rotating through the URLs: a cluster's other nodes) when the
 * connection is lost, has the owner restore its consumers on the new connection before publishes go
 * through again, and lets publishes and subscriptions wait for a connection with a deadline.
 */
export class Connection {
  readonly #settings: Settings;
  readonly #logger: Logger;
  readonly #hooks: ConnectionHooks;
  readonly #events: LinkEvents;
  #state: ConnectionState = { kind: 'closed' };
  #waiters = new Set<() => void>();
  /** The last connection or channel failure, for messages and health (null after a clean start). */
  lastError: string | null = null;
  /** The endpoint of the last connection or attempt, for health. */
  #endpoint: Endpoint;

  constructor(settings: Settings, logger: Logger, hooks: ConnectionHooks) {
    this.#settings = settings;
    this.#logger = logger;
    this.#hooks = hooks;
    this.#endpoint = settings.endpoints[0]!;
    this.#events = {
      closed: (link, error) => this.#onLinkClosed(link, error),
      failed: (text) => {
        this.lastError = text;
      },
      publisherClosed: (link) => {
        if (link === this.current) this.#replacePublisher(link, 1);
      },
    };
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The connection to use now (open, or still open while stopping); `null` when there is none. */
  get current(): Link | null {
    const state = this.#state;
    const link = state.kind === 'open' || state.kind === 'stopping' ? state.link : null;
    return link !== null && !link.closed ? link : null;
  }

  /** Connects to the first URL that answers within `connectionTimeoutMs`. @throws {ConnectionError} */
  async start(): Promise<void> {
    const connecting: ConnectionState = { kind: 'connecting' };
    this.#state = connecting;
    this.lastError = null;
    const { endpoints, connectionTimeoutMs, backoff, secrets, redactedUrls } = this.#settings;
    const deadline = Date.now() + connectionTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      const endpoint = endpoints[(attempt - 1) % endpoints.length]!;
      this.#endpoint = endpoint;
      try {
        const link = await openLink(
          endpoint,
          Math.min(deadline, this.#attemptDeadline()),
          this.#settings,
          this.#logger,
          this.#events,
        );
        if (this.#state !== connecting) {
          await closeLink(link, Date.now(), this.#logger);
          throw new ConnectionError(
            `Cannot start the RabbitMQ adapter: it was stopped while connecting to ${endpoint.redacted}.`,
          );
        }
        this.#open(link);
        this.#logger.info(`Connected to RabbitMQ at ${endpoint.redacted}.`);
        return;
      } catch (error) {
        if (isMessagingError(error)) throw error;
        const refused = this.#refusal(error, endpoint);
        if (refused !== null) throw refused;
        const delay = backoffDelay(backoff, Math.ceil(attempt / endpoints.length));
        if (Date.now() + delay >= deadline) {
          throw new ConnectionError(
            `Cannot connect to RabbitMQ at ${redactedUrls} within ${connectionTimeoutMs} ms ` +
              `(${attempt} attempt(s)): ${safeText(error, secrets)}. Check that the broker is running and reachable.`,
            { cause: error },
          );
        }
        this.#logger.debug(`Connecting to RabbitMQ at ${endpoint.redacted} failed; retrying in ${delay} ms.`, {
          error: safeText(error, secrets),
        });
        await sleep(delay);
      }
    }
  }

  /** stop() began: no more reconnection; what waits for a connection fails now if there is none. */
  beginStop(): void {
    const state = this.#state;
    if (state.kind === 'recovering') this.#abandon(state);
    this.#state = { kind: 'stopping', link: state.kind === 'open' ? state.link : null };
    this.#wakeWaiters();
  }

  /**
   * The adapter disconnects: ends any reconnection, fails whatever waits for a connection, and
   * returns the connection to close (with {@link close}) once the publishes on it are confirmed.
   */
  shutDown(): Link | null {
    const state = this.#state;
    if (state.kind === 'recovering') this.#abandon(state);
    this.#state = { kind: 'closed' };
    this.#wakeWaiters();
    return state.kind === 'open' || state.kind === 'stopping' ? state.link : null;
  }

  /** Closes `link` (see closeLink: a connection that does not answer by `deadline` is dropped). */
  close(link: Link, deadline: number): Promise<void> {
    return closeLink(link, deadline, this.#logger);
  }

  /** Resolves true when woken (the state changed) before `deadline`, false when the deadline passed. */
  wait(deadline: number): Promise<boolean> {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        resolve(false);
      }, remaining);
      this.#waiters.add(wake);
    });
  }

  /** Wakes everything in {@link wait} (a publisher channel came back, the state changed). */
  wakeWaiters(): void {
    this.#wakeWaiters();
  }

  health(): ConnectionHealth {
    const state = this.#state;
    const link = this.current;
    const recovering = state.kind === 'recovering' ? state : null;
    const outageMs = recovering === null ? null : Date.now() - recovering.since;
    const details = {
      url: this.#endpoint.redacted,
      connection: link === null ? 'reconnecting' : link.blocked ? 'blocked' : 'open',
      reconnectAttempts: recovering?.attempt ?? 0,
      ...(outageMs === null ? {} : { outageMs }),
      ...(this.lastError === null ? {} : { lastError: this.lastError }),
    };
    const refused = recovering !== null && recovering.refused !== null;
    const down = link === null && (refused || (outageMs !== null && outageMs > this.#settings.publishTimeoutMs));
    return { link, down, details };
  }

  // ---- internals ------------------------------------------------------------------------------

  /** When one connection attempt gives up: with several URLs, a node that does not answer must not take the whole budget. */
  #attemptDeadline(): number {
    const { endpoints, connectionTimeoutMs } = this.#settings;
    const share = endpoints.length === 1 ? connectionTimeoutMs : Math.max(1_000, connectionTimeoutMs / endpoints.length);
    return Date.now() + share;
  }

  /** A ConnectionError for a failure retrying does not fix (credentials, TLS), or `null`. */
  #refusal(error: unknown, endpoint: Endpoint): ConnectionError | null {
    const { secrets } = this.#settings;
    if (isAccessRefused(error)) {
      return new ConnectionError(
        `Cannot connect to RabbitMQ at ${endpoint.redacted}: the broker refused the credentials or access to the ` +
          `virtual host (${safeText(error, secrets)}). Check the user name, password and vhost permissions.`,
        { code: 'AUTHENTICATION_FAILED', retriable: false, cause: error },
      );
    }
    const tls = tlsFailure(error);
    if (tls === null) return null;
    return new ConnectionError(
      `Cannot connect to RabbitMQ at ${endpoint.redacted}: the TLS handshake failed: ${safeText(tls, secrets)}. ${tlsHint(endpoint)}`,
      { code: 'TLS_FAILED', retriable: false, cause: error },
    );
  }

  /** Makes `link` the open connection: publishes and subscriptions waiting for it go ahead. */
  #open(link: Link): void {
    // Checked in the same turn as the assignment: a close event cannot slip in between.
    if (link.closed) throw new ConnectionError('The RabbitMQ connection closed while it was being set up; it will be retried.');
    this.#state = { kind: 'open', link };
    this.#wakeWaiters();
  }

  #onLinkClosed(link: Link, error: unknown): void {
    const state = this.#state;
    if ((state.kind !== 'open' && state.kind !== 'stopping') || state.link !== link) return;
    this.#hooks.lost(link);
    this.lastError = error === undefined ? 'connection closed' : safeText(error, this.#settings.secrets);
    const where = link.endpoint.redacted;
    if (state.kind === 'stopping') {
      // stop() is under way: no reconnection; publishes waiting for one fail now.
      this.#state = { kind: 'stopping', link: null };
      this.#logger.warn(`Lost the connection to RabbitMQ at ${where} (${this.lastError}) while stopping; not reconnecting.`);
      this.#wakeWaiters();
      return;
    }
    const endpoints = this.#settings.endpoints;
    const recovering: Recovering = {
      kind: 'recovering',
      since: Date.now(),
      from: link.endpoint,
      attempt: 0,
      // The node that was lost is tried last.
      next: (endpoints.indexOf(link.endpoint) + 1) % endpoints.length,
      timer: null,
      restoring: null,
      refused: null,
    };
    this.#state = recovering;
    this.#logger.warn(
      `Lost the connection to RabbitMQ at ${where} (${this.lastError}); ` +
        (endpoints.length > 1 ? 'reconnecting (trying the other nodes first).' : 'reconnecting.'),
    );
    this.#scheduleReconnect(recovering);
  }

  #scheduleReconnect(recovering: Recovering): void {
    if (this.#state !== recovering) return;
    const attempt = ++recovering.attempt;
    const endpoints = this.#settings.endpoints;
    const delay = backoffDelay(this.#settings.backoff, Math.ceil(attempt / endpoints.length));
    recovering.timer = setTimeout(() => {
      recovering.timer = null;
      const endpoint = endpoints[recovering.next]!;
      recovering.next = (recovering.next + 1) % endpoints.length;
      this.#endpoint = endpoint;
      this.#reconnect(recovering, endpoint).then(
        () => {
          if (this.#state.kind !== 'open') return;
          const outage = Date.now() - recovering.since;
          const moved = recovering.from === endpoint ? '' : ` (failed over from ${recovering.from.redacted})`;
          this.#logger.info(
            `Reconnected to RabbitMQ at ${endpoint.redacted}${moved} after ${outage} ms (${attempt} attempt(s)).`,
          );
        },
        (error: unknown) => {
          if (this.#state !== recovering) return;
          const accessRefused = isAccessRefused(error);
          const tls = accessRefused ? null : tlsFailure(error);
          recovering.refused = accessRefused ? 'access' : tls !== null ? 'tls' : null;
          const { secrets } = this.#settings;
          // A TLS failure keeps being retried (the broker may be reconfigured), but health says
          // `down` and the log says why at error level, as for refused credentials.
          this.lastError = tls !== null ? `TLS handshake failed: ${safeText(tls, secrets)}` : safeText(error, secrets);
          const line =
            `Reconnecting to RabbitMQ at ${endpoint.redacted} failed (attempt ${attempt}): ${this.lastError}.` +
            (tls !== null ? ` ${tlsHint(endpoint)} Retrying.` : '');
          if (recovering.refused !== null) this.#logger.error(line);
          else this.#logger.debug(line);
          this.#scheduleReconnect(recovering);
        },
      );
    }, delay);
  }

  /**
   * One reconnection attempt: connect, have the owner restore its consumers, then open the
   * connection to publishes.
   */
  async #reconnect(recovering: Recovering, endpoint: Endpoint): Promise<void> {
    const link = await openLink(endpoint, this.#attemptDeadline(), this.#settings, this.#logger, this.#events);
    if (this.#state !== recovering) {
      await closeLink(link, Date.now(), this.#logger);
      return;
    }
    recovering.restoring = link;
    let afterOpen: () => void;
    try {
      afterOpen = await this.#hooks.restore(link);
    } finally {
      if (recovering.restoring === link) recovering.restoring = null;
    }
    if (this.#state !== recovering) {
      await closeLink(link, Date.now(), this.#logger);
      return;
    }
    if (link.closed)
      throw new ConnectionError('The RabbitMQ connection closed while consumers were being restored; it will be retried.');
    this.#open(link);
    afterOpen();
  }

  /**
   * Ends a reconnection: cancels the next attempt, makes a running one give up (the state is no
   * longer `recovering`), and closes the connection it was restoring consumers on (a closing amqplib
   * connection hands out no more deliveries).
   */
  #abandon(recovering: Recovering): void {
    if (recovering.timer !== null) clearTimeout(recovering.timer);
    recovering.timer = null;
    const restoring = recovering.restoring;
    recovering.restoring = null;
    if (restoring !== null) void closeLink(restoring, Date.now(), this.#logger);
  }

  /**
   * Stops publishing on `publisher` (it nacked a message) and opens a fresh confirm channel on the
   * same connection. The old channel is closed once its outstanding confirms came back (at most
   * `publishTimeoutMs` later), so publishes in flight on it still settle there.
   */
  retirePublisher(link: Link, publisher: Publisher): void {
    if (publisher.closed) return;
    publisher.closed = true;
    if (link.publisher === publisher) {
      link.publisher = null;
      if (link === this.current) this.#replacePublisher(link, 1);
    }
    const channel = publisher.channel;
    const close = (): void => void channel.close().catch(() => undefined);
    const timer = setTimeout(close, this.#settings.publishTimeoutMs);
    timer.unref();
    channel.waitForConfirms().then(
      () => {
        clearTimeout(timer);
        close();
      },
      () => {
        clearTimeout(timer);
        close();
      },
    );
  }

  #replacePublisher(link: Link, attempt: number): void {
    openPublisher(link, this.#settings, this.#events).then(
      (publisher) => {
        if (link !== this.current) {
          void publisher.channel.close().catch(() => undefined);
          return;
        }
        link.publisher = publisher;
        this.#wakeWaiters();
      },
      (error: unknown) => {
        if (link !== this.current) return;
        this.lastError = safeText(error, this.#settings.secrets);
        this.#logger.warn(`Cannot reopen the RabbitMQ publishing channel (attempt ${attempt}): ${this.lastError}.`);
        const timer = setTimeout(
          () => {
            if (link === this.current) this.#replacePublisher(link, attempt + 1);
          },
          backoffDelay(this.#settings.backoff, attempt),
        );
        timer.unref();
      },
    );
  }

  #wakeWaiters(): void {
    const waiters = this.#waiters;
    this.#waiters = new Set();
    for (const wake of waiters) wake();
  }
}

/** What to check when the TLS handshake with `endpoint` fails. */
function tlsHint(endpoint: Endpoint): string {
  return (
    `The broker's listener at ${endpoint.hostPort} may not speak TLS (use amqp://) or its certificate is not trusted ` +
    "(pass CA/cert options: the `tls` option, e.g. tls: { ca: [readFileSync('ca.pem')] })."
  );
}
