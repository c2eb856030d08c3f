import { expect } from '@jest/globals';
import { describeFailure, isMessagingError, type Logger, type Message } from '@msgport/core';
import { rejectingThenable } from './hostile-values.js';

/** Header value of every message the fuzz suite publishes to a subscribed topic: which case it belongs to. */
export const CASE_HEADER = 'x-fuzz-case';

/** What the handler of the thrown-values property does for `mode`; `handled` records a message it returns normally for. */
export function outcomeOf(mode: string, value: unknown, handled: (message: Message) => void): (message: Message) => unknown {
  switch (mode) {
    case 'throws':
      return () => {
        throw value;
      };
    case 'rejects':
      return () => Promise.reject(value);
    case 'returns a rejecting thenable':
      return () => rejectingThenable(value);
    default:
      return (message) => {
        handled(message);
        return value;
      };
  }
}

/** Whether awaiting `value` throws while reading its `then` (a Proxy that throws on reads). */
export function throwsOnThen(value: unknown): boolean {
  return thenError(value) !== NO_ERROR;
}

const NO_ERROR = Symbol('no error');

export function thenError(value: unknown): unknown {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return NO_ERROR;
  try {
    void (value as { then?: unknown }).then;
    return NO_ERROR;
  } catch (error) {
    return error;
  }
}

/** Remembers the first delivery of each case (at-least-once: a redelivery is not a new case). */
export function record(into: Map<string, Message>, message: Message): void {
  const id = message.headers[CASE_HEADER];
  if (id !== undefined && !into.has(id)) into.set(id, message);
}

export function recordingLogger(lines: string[]): Logger {
  const write =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void => {
      let text: string;
      try {
        text = fields === undefined ? '' : ` ${JSON.stringify(fields)}`;
      } catch {
        text = ' <fields that JSON cannot show>';
      }
      lines.push(`${level}: ${message}${text}`);
    };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/**
 * The promise `call` returns. A port method reports every failure as a rejection: one that throws
 * synchronously instead fails the property, with what it threw.
 */
export function rejectsInsteadOfThrowing<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return call();
  } catch (error) {
    throw new Error(`${what} threw synchronously instead of rejecting: ${describeFailure(error).message}`, { cause: error });
  }
}

/** Waits for `promise`; returns what it rejected with, or undefined; fails when it takes longer than `ms`. */
export async function settle(promise: Promise<unknown>, ms: number, what: string): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} neither resolved nor rejected within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => undefined,
        (error: unknown) => error ?? new Error('rejected with nothing'),
      ),
      hung,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function expectResolved(promise: Promise<unknown>, ms: number): Promise<void> {
  const error = await settle(promise, ms, 'publish()');
  if (error !== undefined) throw new Error(`publish() rejected: ${describeFailure(error).message}`);
}

export function expectMessagingError(error: unknown, secrets: readonly string[]): void {
  if (!isMessagingError(error))
    throw new Error(`Expected a MessagingError, got ${describeFailure(error).type}: ${describeFailure(error).message}`);
  expect(typeof error.message).toBe('string');
  expect(error.message.length).toBeGreaterThan(0);
  expect(typeof error.code).toBe('string');
  expectNoSecret(secrets, error.message, 'an error message');
}

export function expectNoSecret(secrets: readonly string[], text: string, where: string): void {
  for (const secret of secrets) {
    if (secret.length > 0 && text.includes(secret)) throw new Error(`A secret appeared in ${where}: ${text.slice(0, 300)}`);
  }
}

export function toBytes(payload: string | Uint8Array): Uint8Array {
  return typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
}

/**
 * Fails unless `actual` has exactly the bytes of `expected`, with a short message (a diff of
 * megabytes would take Jest minutes to compute).
 */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (Buffer.compare(actual, expected) === 0) return;
  let at = 0;
  while (at < actual.length && at < expected.length && actual[at] === expected[at]) at++;
  throw new Error(
    `The ${what} arrived changed: ${actual.length} bytes instead of ${expected.length}, first difference at byte ${at}.`,
  );
}

/** Fails unless `actual` has exactly the headers of `expected` (own string properties, `__proto__` included). */
export function expectSameHeaders(actual: Readonly<Record<string, string>>, expected: Readonly<Record<string, string>>): void {
  const got = new Map(Object.entries(actual));
  const want = new Map(Object.entries(expected));
  const problems: string[] = [];
  for (const [name, value] of want) {
    if (!got.has(name)) problems.push(`${JSON.stringify(name.slice(0, 40))} is missing`);
    else if (got.get(name) !== value)
      problems.push(`${JSON.stringify(name.slice(0, 40))} changed (${value.length} -> ${got.get(name)!.length} characters)`);
  }
  for (const name of got.keys()) if (!want.has(name)) problems.push(`${JSON.stringify(name.slice(0, 40))} was added`);
  if (problems.length > 0) throw new Error(`The headers arrived changed: ${problems.join('; ')}.`);
}
