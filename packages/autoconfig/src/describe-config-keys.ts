import type { z } from 'zod';
import { envName, SECRET_PATHS, shapeOf, unwrap, type SchemaDef } from './internal/schema-walk.js';
import { msgportConfigSchema } from './msgport-config-schema.js';

/**
 * The type of a configuration key, as far as YAML and environment variables are concerned: `json`
 * is a list (of objects) in YAML, and JSON text in its environment variable.
 */
export type ConfigKeyType = 'string' | 'integer' | 'number' | 'boolean' | 'enum' | 'json';

/** One leaf key (a scalar, or a list of type `json`) of the `msgport.messaging` section, derived from {@link msgportConfigSchema}. */
export interface ConfigKeyInfo {
  /** Path under `msgport.messaging`, e.g. `['kafka', 'bootstrap-servers']`. */
  readonly path: readonly string[];
  /** The environment variable that overrides it, e.g. `MSGPORT_MESSAGING_KAFKA_BOOTSTRAP_SERVERS`. */
  readonly env: string;
  readonly type: ConfigKeyType;
  /** The allowed values of an `enum` key. */
  readonly values?: readonly string[];
  /** The default the schema applies; absent when the adapter's own default applies. */
  readonly default?: unknown;
  /** Smallest allowed number, for numeric keys with a bound. */
  readonly min?: number;
  /** Largest allowed number, for numeric keys with a bound. */
  readonly max?: number;
  /** True for keys whose value is a credential (never printed). */
  readonly secret: boolean;
  readonly description: string;
}

/**
 * Every leaf key (scalars, and lists as `json`) of the `msgport.messaging` section with its type, default, environment
 * variable and description, derived from the schema (so docs and tools cannot drift from it).
 */
export function describeConfigKeys(): readonly ConfigKeyInfo[] {
  const keys: ConfigKeyInfo[] = [];
  const walk = (schema: z.ZodType, path: string[]): void => {
    const shape = shapeOf(schema);
    if (shape !== null) {
      for (const [name, child] of Object.entries(shape)) walk(child, [...path, name]);
      return;
    }
    const { base, default: fallback, description } = unwrap(schema);
    const def = base.def as unknown as SchemaDef;
    const bounds = base as unknown as { minValue?: number | null; maxValue?: number | null; isInt?: boolean };
    let type: ConfigKeyType;
    switch (def.type) {
      case 'enum':
        type = 'enum';
        break;
      case 'number':
        type = bounds.isInt === true ? 'integer' : 'number';
        break;
      case 'boolean':
        type = 'boolean';
        break;
      case 'array':
        type = 'json';
        break;
      default:
        type = 'string';
    }
    const min = type === 'integer' || type === 'number' ? finite(bounds.minValue) : undefined;
    const max = type === 'integer' || type === 'number' ? finite(bounds.maxValue) : undefined;
    keys.push(
      Object.freeze({
        path: Object.freeze([...path]),
        env: envName(path),
        type,
        ...(def.type === 'enum' && def.entries !== undefined ? { values: Object.freeze(Object.values(def.entries)) } : {}),
        ...(fallback === undefined ? {} : { default: fallback }),
        ...(min === undefined ? {} : { min }),
        ...(max === undefined ? {} : { max }),
        secret: SECRET_PATHS.has(path.join('.')),
        description: description ?? '',
      }),
    );
  };
  walk(msgportConfigSchema, []);
  return Object.freeze(keys);
}

function finite(value: number | null | undefined): number | undefined {
  // zod reports safe-integer bounds for z.int(); those are not user-facing limits.
  return typeof value === 'number' && Number.isFinite(value) && Math.abs(value) < Number.MAX_SAFE_INTEGER ? value : undefined;
}
