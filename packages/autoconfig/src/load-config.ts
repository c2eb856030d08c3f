import { ConfigurationError } from '@msgport/core';
import { describeConfigKeys, type ConfigKeyInfo } from './describe-config-keys.js';
import { formatIssues, type Origin } from './internal/format-issues.js';
import { rememberLoaded } from './internal/loaded-configs.js';
import { isPlainObject, locateConfigFile, readConfigFile, stripNulls } from './internal/read-config-file.js';
import { ENV_PREFIX } from './internal/schema-walk.js';
import { suggest } from './internal/suggest.js';
import { msgportConfigSchema, type MsgportConfig, type MsgportConfigInput } from './msgport-config-schema.js';

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /**
   * The config file to read (relative to `cwd`). Wins over `MSGPORT_CONFIG`. A missing file is an
   * error.
   */
  readonly path?: string;
  /**
   * Where `MSGPORT_CONFIG` and the `MSGPORT_MESSAGING_*` overrides are read from.
   * @default process.env
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * The directory searched for `msgport.yaml`, `msgport.yml`, `pyfly.yaml`, `pyfly.yml` (in this
   * order), and against which relative paths are resolved.
   * @default process.cwd()
   */
  readonly cwd?: string;
  /** Options in code (the `msgport.messaging` section's shape): win over environment, file and defaults. */
  readonly overrides?: MsgportConfigInput;
}

/**
 * Loads the `msgport.messaging` configuration: defaults, then the config file, then
 * `MSGPORT_MESSAGING_*` environment variables, then `overrides` (each wins over the previous), and
 * validates the result against {@link msgportConfigSchema}. The result is deeply frozen.
 *
 * The file is the one passed as `path`, else the one named by `MSGPORT_CONFIG`, else
 * `msgport.yaml` / `msgport.yml` in `cwd`, else a PyFly `pyfly.yaml` / `pyfly.yml` there (its
 * `pyfly.messaging` section); no file at all means defaults.
 *
 * @throws {ConfigurationError} code `INVALID_CONFIG` listing every problem by path (unknown keys,
 *   wrong types, bad values, YAML syntax errors with line and column, unknown `MSGPORT_MESSAGING_*`
 *   variables), `CONFIG_FILE_NOT_FOUND` when an explicitly named file does not exist.
 */
/** PyFly's defaults that differ from msgport's, applied under a `pyfly:` file (its `RabbitMQAdapter` publishes to `pyfly`). */
const PYFLY_DEFAULTS = { rabbitmq: { 'exchange-name': 'pyfly' } } as const;

export function loadConfig(options: LoadConfigOptions = {}): MsgportConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const issues: string[] = [];
  const merged: Record<string, unknown> = {};
  const origins = new Map<string, Origin>();

  const file = locateConfigFile(options.path, env, cwd);
  if (file !== null) {
    const content = readConfigFile(file.path);
    issues.push(...content.issues);
    // A PyFly file gets PyFly's defaults where they differ from msgport's, so that a service
    // configured by the same pyfly.yaml as its PyFly neighbours talks to them.
    if (content.format === 'pyfly') {
      merge(merged, PYFLY_DEFAULTS, [], { label: "(PyFly's default)", prefix: 'pyfly.messaging' }, origins);
    }
    merge(merged, content.section, [], { label: `in ${file.path}`, prefix: `${content.format}.messaging` }, origins);
  }

  const keys = describeConfigKeys();
  const byEnv = new Map(keys.map((key) => [key.env, key]));
  for (const name of Object.keys(env).sort()) {
    const raw = env[name];
    if (!name.startsWith(ENV_PREFIX) || raw === undefined || raw === '') continue;
    const key = byEnv.get(name);
    if (key === undefined) {
      const hint = suggest(name, byEnv.keys());
      issues.push(
        `${name}: unknown environment variable${hint === undefined ? '' : `, did you mean ${hint}?`} ` +
          `Overrides are named ${ENV_PREFIX}<KEY PATH>, e.g. ${ENV_PREFIX}KAFKA_BOOTSTRAP_SERVERS`,
      );
      continue;
    }
    merge(merged, nest(key.path, coerce(raw, key)), [], { label: `from ${name}`, prefix: 'msgport.messaging' }, origins);
  }

  if (options.overrides !== undefined) {
    if (!isPlainObject(options.overrides)) {
      issues.push('overrides: expected an object shaped like the msgport.messaging section (in options)');
    } else {
      merge(merged, stripNulls(options.overrides), [], { label: 'in options', prefix: 'msgport.messaging' }, origins);
    }
  }

  const result = msgportConfigSchema.safeParse(merged);
  if (!result.success) issues.push(...formatIssues(result.error.issues, merged, origins));
  if (issues.length > 0 || !result.success) {
    throw new ConfigurationError(
      `Invalid msgport configuration (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n` +
        issues.map((issue) => `  - ${issue}`).join('\n'),
      { issues },
    );
  }
  const config = deepFreeze(result.data);
  rememberLoaded(config, file?.path ?? null);
  return config;
}

/** Merges `source` into `target`, recording where each value came from. */
function merge(
  target: Record<string, unknown>,
  source: unknown,
  path: string[],
  origin: Origin,
  origins: Map<string, Origin>,
): void {
  if (!isPlainObject(source)) return;
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined) continue;
    const childPath = [...path, key];
    const dotted = childPath.join('.');
    const existing = target[key];
    if (isPlainObject(value)) {
      // A mapping over a scalar from a lower layer keeps the scalar, so its error is reported.
      if (existing !== undefined && !isPlainObject(existing)) continue;
      if (existing === undefined) {
        target[key] = {};
        origins.set(dotted, origin);
      }
      merge(target[key] as Record<string, unknown>, value, childPath, origin, origins);
    } else {
      target[key] = value;
      for (const known of [...origins.keys()]) if (known.startsWith(`${dotted}.`)) origins.delete(known);
      origins.set(dotted, origin);
    }
  }
}

function nest(path: readonly string[], value: unknown): Record<string, unknown> {
  let result: unknown = value;
  for (let index = path.length - 1; index >= 0; index--) result = { [path[index]!]: result };
  return result as Record<string, unknown>;
}

/** Environment values are strings: numbers and booleans are converted; anything else is left for zod to reject. */
function coerce(raw: string, key: ConfigKeyInfo): unknown {
  const text = raw.trim();
  switch (key.type) {
    case 'integer':
    case 'number':
      return /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i.test(text) ? Number(text) : raw;
    case 'boolean':
      if (/^(true|1)$/i.test(text)) return true;
      if (/^(false|0)$/i.test(text)) return false;
      return raw;
    case 'json':
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return raw; // the schema then reports the key with the type it expects
      }
    default:
      return raw;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
