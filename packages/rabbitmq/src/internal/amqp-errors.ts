import { describeFailure } from '@msgport/core';
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
 * OpenSSL's certificate verification codes, as Node reports them in `error.code` when the broker's
 * certificate is not trusted (plus Node's own `ERR_TLS_CERT_ALTNAME_INVALID`, matched by prefix).
 */
const CERTIFICATE_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'UNABLE_TO_GET_CRL',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_CHAIN_TOO_LONG',
  'CRL_SIGNATURE_FAILURE',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'HOSTNAME_MISMATCH',
]);

/** Messages of TLS failures that come without a telling `code` (or wrapped in another error). */
const TLS_MESSAGES: readonly RegExp[] = [
  /wrong version number/i,
  /SSL routines/,
  /before secure TLS connection was established/,
  /\bcertificate\b/i,
  /\baltnames\b/,
];

/**
 * When `error` (or an error in its `cause` chain, or one of an `AggregateError`'s errors) is a TLS
 * handshake failure, the reason on one line (e.g. `wrong version number
 * (ERR_SSL_WRONG_VERSION_NUMBER)`); `null` otherwise. Such failures do not go away by retrying:
 * the listener does not speak TLS (`amqps://` to a plain AMQP port), or its certificate is not
 * trusted. A handshake *timeout* is not one of them (a slow network is worth retrying).
 */
export function tlsFailure(error: unknown): string | null {
  const seen = new Set<unknown>();
  const pending: unknown[] = [error];
  while (pending.length > 0 && seen.size < 16) {
    const current = pending.shift();
    if (current === null || current === undefined || seen.has(current)) continue;
    seen.add(current);
    const reason = tlsReasonOf(current);
    if (reason !== null) return reason;
    const cause = read(current, 'cause');
    const errors = read(current, 'errors');
    if (cause !== undefined) pending.push(cause);
    if (Array.isArray(errors)) pending.push(...(errors as unknown[]).slice(0, 16));
  }
  return null;
}

function tlsReasonOf(error: unknown): string | null {
  const code = codeOf(error);
  const message = messageOf(error);
  const byCode =
    code !== undefined &&
    code !== 'ERR_TLS_HANDSHAKE_TIMEOUT' &&
    (code === 'EPROTO' || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || CERTIFICATE_CODES.has(code));
  if (!byCode && !TLS_MESSAGES.some((pattern) => pattern.test(message))) return null;
  // OpenSSL's own text ("8C1F…:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:…/ssl3_record.c:350:\n")
  // is reduced to its reason; Node also hands that reason over as `error.reason`.
  const openSslReason = /SSL routines:[^:]*:([^:]+)/.exec(message)?.[1];
  const ownReason = read(error, 'reason');
  const text = oneLine(typeof ownReason === 'string' && ownReason !== '' ? ownReason : (openSslReason ?? message));
  return code === undefined || text.includes(code) ? text : `${text} (${code})`;
}

function codeOf(error: unknown): string | undefined {
  const code = read(error, 'code');
  return typeof code === 'string' && code !== '' ? code : undefined;
}

/** `error[key]` when `error` is an object and reading it does not throw; else undefined. */
function read(error: unknown, key: string): unknown {
  if (typeof error !== 'object' || error === null) return undefined;
  try {
    return (error as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** `text` with its line breaks (and the blanks around them) turned into single spaces, trimmed. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

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
