import { dump } from 'js-yaml';
import { redactUrl } from '@msgport/core/adapter';
import { AMQP_URL_SEPARATOR, type MsgportConfigInput } from './msgport-config-schema.js';

/** What replaces a credential in {@link redactConfig} and {@link formatConfig}. */
export const REDACTED = '***';

/**
 * A deep copy of `config` with every credential masked: `kafka.sasl.password` becomes `***`, and
 * the password in `rabbitmq.url` (`amqp://user:***@host/`; in each URL of a list). Safe to log or print.
 */
export function redactConfig<T extends MsgportConfigInput>(config: T): T {
  const copy = deepCopy(config) as T & Record<string, unknown>;
  const kafka = asRecord(copy['kafka']);
  const sasl = asRecord(kafka?.['sasl']);
  if (sasl !== undefined && sasl['password'] !== undefined) sasl['password'] = REDACTED;
  const rabbitmq = asRecord(copy['rabbitmq']);
  const url = rabbitmq?.['url'];
  // One URL, a comma-separated string of them, or a list: every password is masked.
  if (typeof url === 'string') rabbitmq!['url'] = url.split(AMQP_URL_SEPARATOR).map(redactUrl).join(',');
  else if (Array.isArray(url))
    rabbitmq!['url'] = url.map((entry: unknown) => (typeof entry === 'string' ? redactUrl(entry) : entry));
  return copy;
}

/**
 * The configuration as a `msgport.yaml` document, credentials masked by {@link redactConfig}: for
 * printing the effective configuration at startup.
 */
export function formatConfig(config: MsgportConfigInput): string {
  return dump({ msgport: { messaging: redactConfig(config) } });
}

// Not structuredClone(): its objects come from the main realm, which js-yaml's dump() rejects
// inside a vm context such as Jest's.
function deepCopy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(deepCopy);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, deepCopy(child)]));
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}
