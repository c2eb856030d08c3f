import type { Logger } from '@msgport/core';
import type { LogEntry, logCreator, logLevel } from 'kafkajs';
import type { Redact } from '@msgport/core/adapter';
import { SOCKET_CLOSED_BY_MSGPORT } from './socket-registry.js';

/** kafkajs' numeric levels (`logLevel` in kafkajs), repeated here to keep this module pure. */
const KAFKAJS_ERROR = 1 as logLevel.ERROR;
const KAFKAJS_WARN = 2 as logLevel.WARN;

/** Log fields worth forwarding; stacks and payload dumps are dropped. */
const FORWARDED_FIELDS = [
  'groupId',
  'memberId',
  'topic',
  'partition',
  'offset',
  'error',
  'retryCount',
  'retryTime',
  'broker',
  'clientId',
];

/** Messages kafkajs logs for a choice the adapter made on purpose: dropped. */
const EXPECTED = [
  // The idempotent producer's retries are bounded, so that publish() fails instead of hanging.
  /^Limiting retries for the idempotent producer/,
];

/**
 * Messages that go to debug, because the operation's outcome is what matters and the adapter
 * reports it itself:
 * - every error response of the protocol, including retried and expected ones
 *   (TOPIC_ALREADY_EXISTS when creating a topic that exists, COORDINATOR_LOAD_IN_PROGRESS at
 *   broker start);
 * - consumer crashes and restarts (the adapter logs each with its restart delay);
 * - producer failures: each one ends in a rejected `publish()` that its caller handles;
 * - connections the adapter closed itself after disconnecting a client (see SocketRegistry).
 */
const TO_DEBUG: ReadonlyArray<readonly [namespace: string, message: RegExp]> = [
  ['Connection', /^Response /],
  ['Producer', /./],
  ['Consumer', /^Crash: /],
  ['Consumer', /^Restarting the consumer/],
  ['Connection', new RegExp(SOCKET_CLOSED_BY_MSGPORT)],
];

/** Identical lines within this window are logged once; the next one says how many were dropped. */
export const REPEAT_WINDOW_MS = 30_000;
const MAX_TRACKED_LINES = 500;

/**
 * A kafkajs `logCreator` that forwards WARN and ERROR entries to `logger`, with secrets redacted
 * from the message and every forwarded field. Lines the adapter reports better itself go to debug,
 * and a line repeated during an outage (a connection error per retry) is logged once per
 * {@link REPEAT_WINDOW_MS}.
 */
export function createLogCreator(logger: Logger, redact: Redact, now: () => number = Date.now): logCreator {
  const recent = new Map<string, { at: number; dropped: number }>();
  return () => (entry: LogEntry) => {
    if (entry.level !== KAFKAJS_ERROR && entry.level !== KAFKAJS_WARN) return;
    const log = entry.log as unknown as Record<string, unknown>;
    const raw = typeof log['message'] === 'string' ? log['message'] : String(log['message']);
    if (EXPECTED.some((pattern) => pattern.test(raw))) return;
    const fields: Record<string, unknown> = {};
    for (const name of FORWARDED_FIELDS) {
      const value = log[name];
      if (value === undefined || value === null) continue;
      fields[name] = typeof value === 'number' || typeof value === 'boolean' ? value : redact(stringify(value));
    }
    const line = redact(`kafkajs ${entry.namespace === '' ? '' : `[${entry.namespace}] `}${raw}`);
    if (TO_DEBUG.some(([namespace, pattern]) => namespace === entry.namespace && pattern.test(raw))) {
      logger.debug(line, fields);
      return;
    }

    const time = now();
    const seen = recent.get(line);
    if (seen !== undefined && time - seen.at < REPEAT_WINDOW_MS) {
      seen.dropped++;
      return;
    }
    const message =
      seen !== undefined && seen.dropped > 0 ? `${line} (and ${seen.dropped} more time(s) since the last report)` : line;
    if (recent.size >= MAX_TRACKED_LINES) recent.clear();
    recent.set(line, { at: time, dropped: 0 });

    if (entry.level === KAFKAJS_ERROR) logger.error(message, fields);
    else logger.warn(message, fields);
  };
}

function stringify(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return value.message;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
