/** What {@link describeFailure} says about a thrown value. */
export interface FailureDescription {
  /**
   * The kind of failure: an Error's `name` (or its class name when the name is plain `Error`), else
   * `typeof` the thrown value (`string`, `symbol`, `bigint`, `object`, `function`, …) or `null`.
   */
  readonly type: string;
  /**
   * A readable message: an Error's `message`, a string as is, other values converted; at most
   * `maxLength` characters, always well-formed Unicode (never half of a surrogate pair).
   */
  readonly message: string;
}

/** Longest message {@link describeFailure} returns unless told otherwise. */
export const DEFAULT_FAILURE_MESSAGE_LENGTH = 4_096;

/** Longest `type` {@link describeFailure} returns. */
const MAX_TYPE_LENGTH = 200;

/** Said of a value every read of which throws (a hostile Proxy, a revoked Proxy). */
const UNREADABLE = 'a thrown value that cannot be read (every attempt to read it threw)';

/** Objects without a message are shown as JSON, up to this many values. */
const MAX_JSON_NODES = 500;

const THREW: unique symbol = Symbol('threw');

/**
 * Describes any thrown value — an `Error`, a string, a symbol, a bigint, `Object.create(null)`, an
 * object whose `toString` throws, an `Error` whose `message` getter throws, a Proxy that throws on
 * every read, a value from another realm, a multi-megabyte message — for dead-letter headers and
 * log lines. It never throws, and what it returns is bounded and safe to put in a header.
 *
 * @param maxLength longest message returned. @default 4096
 */
export function describeFailure(error: unknown, maxLength: number = DEFAULT_FAILURE_MESSAGE_LENGTH): FailureDescription {
  let type: string;
  let message: string;
  try {
    type = typeOf(error);
  } catch {
    type = 'unknown';
  }
  try {
    message = messageOf(error, maxLength);
  } catch {
    message = UNREADABLE;
  }
  return Object.freeze({ type: bounded(type, MAX_TYPE_LENGTH), message: bounded(message, maxLength) });
}

function typeOf(error: unknown): string {
  if (error === null) return 'null';
  const kind = typeof error;
  if (kind !== 'object' && kind !== 'function') return kind;
  const object = error as object;
  if (!isErrorLike(object)) return kind;
  const name = read(object, 'name');
  // `class CardDeclined extends Error {}` keeps name "Error"; its constructor name says more.
  if (typeof name === 'string' && name !== '' && name !== 'Error') return name;
  const constructor = read(object, 'constructor');
  if (typeof constructor === 'function') {
    const constructorName = read(constructor, 'name');
    if (typeof constructorName === 'string' && constructorName !== '') return constructorName;
  }
  return 'Error';
}

function messageOf(error: unknown, maxLength: number): string {
  switch (typeof error) {
    case 'string':
      return error;
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'undefined':
    case 'symbol':
      // String() never throws for these (a template literal would, for a symbol).
      return String(error);
    case 'function': {
      const name = read(error, 'name');
      return typeof name === 'string' && name !== '' ? `[function ${name}]` : '[function]';
    }
    default:
      break;
  }
  if (error === null) return 'null';
  const object = error as object;
  const message = read(object, 'message');
  if (typeof message === 'string') return message;
  if (message === THREW && isErrorLike(object)) return 'an error whose message cannot be read (reading it threw)';
  // An object with its own toString (or an Error without a string message).
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- deliberate: it calls the object's own toString; the default `[object …]` is detected below
  const text = attempt(() => String(object));
  if (typeof text === 'string' && !/^\[object \w*\]$/.test(text)) return text;
  const json = attempt(() => boundedJson(object, maxLength));
  if (typeof json === 'string') return json;
  return typeof text === 'string' ? text : UNREADABLE;
}

/** True for an Error of this realm or another one (a vm context, a worker's structured clone …). */
function isErrorLike(value: object): boolean {
  if (attempt(() => value instanceof Error) === true) return true;
  return attempt(() => Object.prototype.toString.call(value)) === '[object Error]';
}

/** JSON of `value`, or undefined when it has more than {@link MAX_JSON_NODES} values. */
function boundedJson(value: object, maxLength: number): string | undefined {
  let nodes = 0;
  const tooLarge = new Error('too large');
  try {
    return JSON.stringify(value, (_key, item: unknown) => {
      if (++nodes > MAX_JSON_NODES) throw tooLarge;
      if (typeof item === 'bigint') return `${item.toString()}n`;
      if (typeof item === 'string' && item.length > maxLength) return item.slice(0, maxLength);
      return item;
    });
  } catch (error) {
    if (error === tooLarge) return undefined;
    throw error;
  }
}

/** `object[key]`, or {@link THREW} when reading it throws (a getter, a Proxy trap). */
function read(object: object, key: string): unknown {
  try {
    return (object as Record<string, unknown>)[key];
  } catch {
    return THREW;
  }
}

function attempt<T>(fn: () => T): T | typeof THREW {
  try {
    return fn();
  } catch {
    return THREW;
  }
}

/**
 * At most `maxLength` characters of `text`, well-formed: a surrogate pair cut in half at the end is
 * dropped, lone surrogates (which UTF-8 cannot carry) become U+FFFD.
 */
function bounded(text: string, maxLength: number): string {
  let result = text.length > maxLength ? text.slice(0, Math.max(0, maxLength)) : text;
  if (result.length > 0 && result.length < text.length) {
    const last = result.charCodeAt(result.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) result = result.slice(0, -1);
  }
  return LONE_SURROGATE.test(result) ? result.replace(LONE_SURROGATES, '\uFFFD') : result;
}

const LONE_SURROGATE = /\p{Cs}/u;
const LONE_SURROGATES = /\p{Cs}/gu;
