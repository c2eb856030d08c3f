import { setTimeout as delay } from 'node:timers/promises';
import { SubscribeError, type Logger } from '@msgport/core';
import { backoffDelay, type Backoff, type Redact } from '@msgport/core/adapter';
import { CONNECTION_ERROR_NAMES, describeError, errorChain, isAuthenticationFailure, isTlsFailure } from './errors.js';
import { TRANSIENT_TYPES } from './retry-transient.js';

/** Pauses between attempts of a first join: 200 ms doubling to 2 s, ±20 %. */
export const FIRST_JOIN_BACKOFF: Backoff = { initialDelayMs: 200, multiplier: 2, maxDelayMs: 2_000, jitter: 0.2 };

/**
 * Broker answers that go away by waiting: the {@link TRANSIENT_TYPES} (a topic just created whose
 * metadata has not reached every broker yet, a partition or group coordinator being elected or
 * loaded), a rebalance, a request that timed out.
 */
const RETRIABLE_TYPES: ReadonlySet<string> = new Set([...TRANSIENT_TYPES, 'REBALANCE_IN_PROGRESS', 'REQUEST_TIMED_OUT']);

/**
 * kafkajs errors that mean "the brokers could not be reached or did not answer in time": those a
 * publish retries ({@link CONNECTION_ERROR_NAMES}), and a group coordinator not found.
 */
const JOIN_CONNECTION_ERROR_NAMES: ReadonlySet<string> = new Set([...CONNECTION_ERROR_NAMES, 'KafkaJSGroupCoordinatorNotFound']);

/**
 * True when joining again later may succeed: somewhere in the cause chain, a kafkajs error marked
 * `retriable`, a broker answer of {@link RETRIABLE_TYPES} or a broker that could not be reached.
 * kafkajs wraps its last retry's cause in a non-retriable `KafkaJSNumberOfRetriesExceeded`, so the
 * whole chain is read. Authentication and TLS failures never are (the options are wrong), nor are
 * msgport's own errors (a `SubscribeError` is flagged retriable for the caller, not for this loop).
 */
export function isRetriableJoinError(error: unknown): boolean {
  if (isAuthenticationFailure(error) || isTlsFailure(error)) return false;
  return errorChain(error).some((e) => {
    if (typeof e.type === 'string' && RETRIABLE_TYPES.has(e.type)) return true;
    if (typeof e.name !== 'string' || !e.name.startsWith('KafkaJS')) return false;
    return e.retriable === true || JOIN_CONNECTION_ERROR_NAMES.has(e.name);
  });
}

/** How {@link joinWithRetries} tries again. */
export interface JoinRetryOptions {
  /** No new attempt begins after `ms` from the first; `option` names the setting, for messages. */
  readonly joinTimeout: { readonly ms: number; readonly option: string };
  /** Aborted when the consumer closes: the pause ends and the last error is thrown. */
  readonly signal: AbortSignal;
  /** The topics and group, for messages. */
  readonly describe: () => string;
  /** Each failure tried again is logged as a warning. */
  readonly logger: Logger;
  readonly redact: Redact;
}

/**
 * Runs `attempt` (topic creation, the wait for its metadata, the first join) again while it fails
 * with a {@link isRetriableJoinError} error, pausing by {@link FIRST_JOIN_BACKOFF}, until the
 * next attempt would begin after `joinTimeout` from the first: then a `SubscribeError` naming the last error (its
 * `cause`). Any other error, or any error once `signal` is aborted, is thrown at once as it is.
 */
export async function joinWithRetries(attempt: () => Promise<void>, options: JoinRetryOptions): Promise<void> {
  const { joinTimeout, signal, describe, logger, redact } = options;
  const started = Date.now();
  const deadline = started + joinTimeout.ms;
  for (let n = 1; ; n++) {
    try {
      await attempt();
      return;
    } catch (error) {
      if (signal.aborted || !isRetriableJoinError(error)) throw error;
      const reason = describeError(error, redact);
      const pause = backoffDelay(FIRST_JOIN_BACKOFF, n);
      if (Date.now() + pause > deadline) {
        throw new SubscribeError(
          `Cannot subscribe to ${describe()}: the consumer could not join the group after ${n} attempt(s) in ` +
            `${Date.now() - started} ms (bound: ${joinTimeout.option}, ${joinTimeout.ms} ms). Last error: ${reason}`,
          { cause: error },
        );
      }
      logger.warn(`Subscribing to ${describe()}: attempt ${n} failed (${reason}); trying again in ${pause} ms.`);
      await delay(pause, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) throw error;
    }
  }
}
