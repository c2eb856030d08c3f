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

/** The message of `error` with every secret masked, for error messages, logs and health details. */
export function safeText(error: unknown, secrets: readonly string[]): string {
  return scrub(messageOf(error), secrets);
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : String(error);
}
