import { InvalidArgumentError, type RetryPolicy } from '@msgport/core';
import { describeValue } from '@msgport/core/adapter';
import type { RabbitMQAdapterOptions, RabbitMQQueueType, RabbitMQTlsOptions } from '../rabbitmq-adapter-options.js';
import { resolveLegacyQueues, type LegacyQueues } from './legacy-options.js';
import { DEFAULT_PARTITIONS, MAX_PARTITIONS, MIN_PARTITIONS } from './partitioning.js';
import { redactUrl, secretsOf } from './redact.js';
import { deadLetterExchangeName } from './topology.js';

/** One node the adapter may connect to. */
export interface Endpoint {
  readonly url: string;
  /** The URL with its password masked, for messages, logs and health details. */
  readonly redacted: string;
  /** `host:port` the URL connects to, for hints. */
  readonly hostPort: string;
}

/** The adapter's options, validated, with their defaults applied. */
export interface Settings {
  /** The nodes to connect to, in the order given (at least one). */
  readonly endpoints: readonly Endpoint[];
  /** Every endpoint's redacted URL, comma-separated, for messages about all of them. */
  readonly redactedUrls: string;
  /** Passwords and the TLS passphrase: masked in every error text and log line. */
  readonly secrets: readonly string[];
  readonly exchange: string;
  readonly deadLetterExchange: string;
  readonly queueType: RabbitMQQueueType;
  readonly partitions: number;
  readonly prefetch: number;
  readonly connectionTimeoutMs: number;
  readonly publishTimeoutMs: number;
  readonly maxMessageBytes: number;
  /** Backoff between connection attempts (core's policy shape, for `backoffDelay`). */
  readonly backoff: RetryPolicy;
  readonly tls: RabbitMQTlsOptions | undefined;
  /** Groups taking over a PyFly service's queue, by (topic, group) (see legacy-queue.ts). */
  readonly legacyQueues: LegacyQueues;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 134_217_728;
const MAX_PREFETCH = 65_535;
const QUEUE_TYPES: ReadonlySet<string> = new Set<RabbitMQQueueType>(['quorum', 'classic']);

/** The `tls.connect()` settings `tls` passes on; nothing else is. */
const TLS_OPTION_KEYS: { readonly [K in keyof Required<RabbitMQTlsOptions>]: true } = {
  ca: true,
  cert: true,
  key: true,
  passphrase: true,
  pfx: true,
  servername: true,
  rejectUnauthorized: true,
  checkServerIdentity: true,
  minVersion: true,
};

/**
 * Where a comma-separated string of URLs is split: at a comma followed by the next URL's scheme
 * (a password may contain a comma, but not one followed by `amqp://`).
 */
const URL_SEPARATOR = /,(?=\s*amqps?:\/\/)/i;

/**
 * `url` as a list: an array as is, a string split at each comma that starts another URL (blanks
 * around it ignored).
 * @throws {InvalidArgumentError} for anything else, or an empty list.
 */
export function urlList(url: unknown): string[] {
  const usage = urlListUsage();
  let urls: unknown[];
  if (typeof url === 'string') urls = url.split(URL_SEPARATOR).map((part) => part.trim());
  else if (Array.isArray(url)) urls = url.map((part: unknown) => (typeof part === 'string' ? part.trim() : part));
  else throw new InvalidArgumentError(usage);
  if (urls.length === 0 || urls.some((part) => typeof part !== 'string' || part === '')) throw new InvalidArgumentError(usage);
  return urls as string[];
}

/**
 * Validates `options` and applies the defaults.
 * @throws {InvalidArgumentError} for a missing or unparseable URL, or an option out of range.
 */
export function resolveSettings(options: RabbitMQAdapterOptions): Settings {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(urlListUsage());
  const urls = urlList(options.url);
  const passphrase = options.tls?.passphrase;
  const secrets = new Set<string>([
    ...urls.flatMap(secretsOf),
    ...(typeof passphrase === 'string' && passphrase !== '' ? [passphrase] : []),
  ]);
  // Every URL must parse before tls is looked at (its error names the URL, redacted).
  for (const url of urls) endpointOf(url, false);
  if (options.tls !== undefined && (typeof options.tls !== 'object' || options.tls === null)) {
    throw new InvalidArgumentError('RabbitMQAdapter: tls must be an object of tls.connect() options (ca, cert, key, …).');
  }
  const endpoints = urls.map((url) => endpointOf(url, options.tls !== undefined));
  const exchange = options.exchangeName ?? 'msgport';
  if (typeof exchange !== 'string' || !/^[A-Za-z0-9._:-]{1,250}$/.test(exchange) || exchange.startsWith('amq.')) {
    throw new InvalidArgumentError(
      `RabbitMQAdapter: invalid exchangeName ${typeof exchange === 'string' ? JSON.stringify(exchange) : describeValue(exchange)}. ` +
        'Use 1-250 characters from ' +
        'A-Z, a-z, 0-9, ".", "_", ":" and "-", not starting with "amq.".',
    );
  }
  const queueType = options.queueType ?? 'quorum';
  if (!QUEUE_TYPES.has(queueType)) {
    throw new InvalidArgumentError(
      `RabbitMQAdapter: queueType must be 'quorum' or 'classic', got ${describeValue(options.queueType)}.`,
    );
  }
  const partitions = options.partitions ?? DEFAULT_PARTITIONS;
  if (!Number.isInteger(partitions) || partitions < MIN_PARTITIONS || partitions > MAX_PARTITIONS) {
    throw new InvalidArgumentError(
      `RabbitMQAdapter: partitions must be an integer from ${MIN_PARTITIONS} to ${MAX_PARTITIONS}, got ${String(options.partitions)}. ` +
        'Use the same value in every publisher and every instance of a topic.',
    );
  }
  const concurrency = options.concurrency ?? 1;
  const prefetch = options.prefetch ?? Math.max(100, concurrency);
  if (!Number.isInteger(prefetch) || prefetch < concurrency || prefetch > MAX_PREFETCH) {
    throw new InvalidArgumentError(
      `RabbitMQAdapter: prefetch must be an integer from concurrency (${concurrency}) to ${MAX_PREFETCH}, got ${describeValue(options.prefetch)}.`,
    );
  }
  const initialDelayMs = positive(options.reconnect?.initialDelayMs, 100, 'reconnect.initialDelayMs');
  const maxDelayMs = positive(options.reconnect?.maxDelayMs, 5_000, 'reconnect.maxDelayMs');
  return Object.freeze({
    endpoints: Object.freeze(endpoints),
    redactedUrls: endpoints.map((endpoint) => endpoint.redacted).join(', '),
    secrets: Object.freeze([...secrets].filter((secret) => secret.length > 0)),
    exchange,
    deadLetterExchange: deadLetterExchangeName(exchange),
    queueType,
    partitions,
    prefetch,
    connectionTimeoutMs: positive(options.connectionTimeoutMs, 10_000, 'connectionTimeoutMs'),
    publishTimeoutMs: positive(options.publishTimeoutMs, 30_000, 'publishTimeoutMs'),
    maxMessageBytes: positive(options.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES, 'maxMessageBytes'),
    backoff: Object.freeze({
      maxAttempts: Number.POSITIVE_INFINITY,
      initialDelayMs,
      multiplier: 2,
      maxDelayMs: Math.max(initialDelayMs, maxDelayMs),
      jitter: 0.2,
      deadLetter: true,
    }),
    tls: options.tls === undefined ? undefined : pickTlsOptions(options.tls),
    legacyQueues: resolveLegacyQueues(options.legacyQueues),
  });
}

function urlListUsage(): string {
  return 'RabbitMQAdapter needs a `url`, e.g. amqp://guest:guest@localhost:5672/ (or a list of them for a cluster).';
}

/** @throws {InvalidArgumentError} for a URL that cannot be parsed, is not amqp(s)://, or is not amqps:// while `tls` is set. */
function endpointOf(url: string, tls: boolean): Endpoint {
  const redacted = redactUrl(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError(`RabbitMQAdapter: invalid url ${redacted}. Use amqp://user:password@host:5672/vhost.`);
  }
  const protocol = parsed.protocol;
  if (protocol !== 'amqp:' && protocol !== 'amqps:') {
    throw new InvalidArgumentError(`RabbitMQAdapter: the url must start with amqp:// or amqps://, got ${redacted}.`);
  }
  if (tls && protocol !== 'amqps:') {
    throw new InvalidArgumentError(
      `RabbitMQAdapter: tls options need an amqps:// url, got ${redacted}. Use amqps://host:5671/ for TLS.`,
    );
  }
  const port = parsed.port === '' ? (protocol === 'amqps:' ? '5671' : '5672') : parsed.port;
  return Object.freeze({ url, redacted, hostPort: `${parsed.hostname}:${port}` });
}

/** Only the supported settings of `tls` (a stray `host` or `timeout` must not reach amqplib). */
function pickTlsOptions(tls: RabbitMQTlsOptions): RabbitMQTlsOptions {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(TLS_OPTION_KEYS) as Array<keyof RabbitMQTlsOptions>) {
    if (tls[key] !== undefined) picked[key] = tls[key];
  }
  return Object.freeze(picked);
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(`RabbitMQAdapter: ${name} must be a number > 0, got ${describeValue(value)}.`);
  }
  return value;
}
