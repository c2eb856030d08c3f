import { createConsoleLogger, registerListeners, type Subscription } from '@msgport/core';
import { createBroker, type CreateBrokerOptions, type CreatedBroker } from './create-broker.js';

/** Options of {@link startMessaging}. */
export interface StartMessagingOptions extends CreateBrokerOptions {
  /**
   * Objects whose methods carry `@MessageListener`, and functions marked with `messageListener()`;
   * each is subscribed before the broker starts.
   * @default []
   */
  readonly listeners?: readonly unknown[];
  /**
   * Signals that stop the broker gracefully: `true` for SIGINT and SIGTERM, `false` for none, or a
   * list. The handlers are removed as soon as stopping begins (so a second Ctrl-C gets Node's
   * default behaviour and ends the process at once) and in any case once stopped.
   * @default true
   */
  readonly signals?: boolean | readonly NodeJS.Signals[];
}

/** What {@link startMessaging} returns: a started broker and how to stop it. */
export interface MessagingHandle extends CreatedBroker {
  /** One per listener method or function, in registration order. */
  readonly subscriptions: readonly Subscription[];
  /**
   * Stops the broker gracefully (takes no new messages, waits for in-flight handlers up to
   * `shutdown-timeout-ms`, closes connections) and removes the signal handlers. Idempotent: every
   * call, and a signal, share one stop.
   */
  stop(): Promise<void>;
  /** Settles once the broker has stopped, whether by {@link stop} or by a signal. Never rejects. */
  readonly stopped: Promise<void>;
}

/**
 * Creates the broker from configuration ({@link createBroker}), subscribes the listeners, starts
 * it, and stops it gracefully on SIGINT/SIGTERM.
 *
 * Library code never calls `process.exit()`. Once stopped, the signal handlers are gone and the
 * connections closed, so Node exits by itself when nothing else keeps it alive; an application
 * that must exit with a status sets `process.exitCode` after `await handle.stopped`.
 *
 * ```ts
 * const messaging = await startMessaging({ listeners: [new NotificationService()] });
 * await messaging.stopped; // until SIGINT or SIGTERM
 * ```
 *
 * @throws {ConfigurationError} as {@link createBroker} does.
 * @throws {InvalidArgumentError} when a listener object has no `@MessageListener` method.
 * @throws {ConnectionError} when the broker cannot be reached; nothing is left running.
 */
export async function startMessaging(options: StartMessagingOptions = {}): Promise<MessagingHandle> {
  const created = await createBroker(options);
  const { broker } = created;
  let subscriptions: Subscription[];
  try {
    subscriptions = await registerListeners(broker, ...(options.listeners ?? []));
    await broker.start();
  } catch (error) {
    await broker.stop().catch(() => undefined);
    throw error;
  }

  const logger = options.logger ?? createConsoleLogger(created.config['log-level'] ?? 'warn', 'msgport');
  const signals: readonly NodeJS.Signals[] =
    options.signals === undefined || options.signals === true
      ? ['SIGINT', 'SIGTERM']
      : options.signals === false
        ? []
        : options.signals;

  let stopping: Promise<void> | null = null;
  let markStopped!: () => void;
  const stopped = new Promise<void>((resolve) => {
    markStopped = resolve;
  });
  const handlers = new Map(signals.map((signal) => [signal, (): void => onSignal(signal)] as const));
  const removeHandlers = (): void => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
  const stop = (): Promise<void> => {
    if (stopping === null) {
      removeHandlers();
      stopping = broker.stop().finally(() => {
        removeHandlers();
        markStopped();
      });
    }
    return stopping;
  };
  function onSignal(signal: NodeJS.Signals): void {
    logger.info(`Received ${signal}; stopping the ${created.provider} broker gracefully.`);
    stop().catch((error: unknown) => {
      // Nobody awaits a signal-triggered stop: report the failure rather than leave it unhandled.
      logger.error(`Stopping the ${created.provider} broker after ${signal} failed.`, { error });
    });
  }
  for (const [signal, handler] of handlers) process.on(signal, handler);

  return Object.freeze({ ...created, subscriptions: Object.freeze(subscriptions), stop, stopped });
}
