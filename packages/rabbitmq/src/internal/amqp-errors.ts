import { describeFailure } from '@msgport/core';
import { oneLine, tlsFailureReason } from '@msgport/core/adapter';
import { scrub } from './redact.js';

/**
 * True when the broker refused the login (403 ACCESS_REFUSED) or access to the virtual host
 * (530 NOT_ALLOWED, which amqplib reports as an unexpected `connection.close` during the handshake).
 * Retrying does not help: the credentials or permissions must change.
 */
export function isAccessRefused(error: unknown): boolean {
  const text = messageOf(error);
  return (
    /ACCESS[-_]REFUSED/.test(text) ||
    /NOT[-_]ALLOWED/.test(text) ||
    text.startsWith('Expected ConnectionOpenOk; got <ConnectionClose')
  );
}

/** The size limit RabbitMQ reported when it closed a channel over a too-large message, if that is what happened. */
export function tooLargeReport(error: unknown): { readonly size: number; readonly max: number } | null {
  const match = /message size (\d+) is larger than configured max size (\d+)/.exec(messageOf(error));
  return match === null ? null : { size: Number(match[1]), max: Number(match[2]) };
}

/** The message of `error` on one line, with every secret masked, for error messages, logs and health details. */
export function safeText(error: unknown, secrets: readonly string[]): string {
  return scrub(oneLine(messageOf(error)), secrets);
}

/**
 * When `error` (or an error in its cause chain) is a TLS handshake failure, the reason on one line
 * (e.g. `wrong version number (ERR_SSL_WRONG_VERSION_NUMBER)`); `null` otherwise. See
 * `tlsFailureReason` in @msgport/core/adapter.
 */
export const tlsFailure = tlsFailureReason;

/** The message of any thrown value; never throws (see describeFailure). */
function messageOf(error: unknown): string {
  return describeFailure(error).message;
}

/** Reply codes RabbitMQ closes a channel with, by name. */
export const REPLY_CODES = Object.freeze({ NOT_FOUND: 404, RESOURCE_LOCKED: 405, PRECONDITION_FAILED: 406 } as const);

/**
 * The AMQP reply code of a channel error the broker raised (404 NOT_FOUND, 405 RESOURCE_LOCKED,
 * 406 PRECONDITION_FAILED …): amqplib's `code`, else the code in its message; `null` for other errors.
 */
export function replyCode(error: unknown): number | null {
  if (typeof error !== 'object' || error === null) return null;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'number' && code >= 300 && code < 600) return code;
  const match = /\b([3-5]\d\d) \(([A-Z_-]+)\)/.exec(messageOf(error));
  return match === null ? null : Number(match[1]);
}
