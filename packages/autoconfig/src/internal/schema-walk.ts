import type { z } from 'zod';
import { msgportConfigSchema } from '../msgport-config-schema.js';

/** The prefix of every environment variable that overrides a `msgport.messaging` key. */
export const ENV_PREFIX = 'MSGPORT_MESSAGING_';

/** Paths (dot-joined, under `msgport.messaging`) whose value is or may contain a credential. */
export const SECRET_PATHS: ReadonlySet<string> = new Set(['kafka.sasl.password', 'rabbitmq.url']);

export interface SchemaDef {
  readonly type: string;
  readonly innerType?: z.ZodType;
  readonly shape?: Record<string, z.ZodType>;
  readonly entries?: Record<string, string>;
  readonly defaultValue?: unknown;
  readonly in?: z.ZodType;
}

/** Strips optional/default/prefault/pipe wrappers, collecting the default and description. */
export function unwrap(schema: z.ZodType): { base: z.ZodType; default?: unknown; description?: string } {
  let current = schema;
  let description: string | undefined;
  let fallback: { value: unknown } | undefined;
  for (;;) {
    description ??= current.description;
    const def = current.def as unknown as SchemaDef;
    if ((def.type === 'default' || def.type === 'prefault') && fallback === undefined) {
      fallback = { value: def.defaultValue };
    }
    if (def.innerType !== undefined) current = def.innerType;
    else if (def.type === 'pipe' && def.in !== undefined) current = def.in;
    else break;
  }
  return {
    base: current,
    ...(fallback === undefined ? {} : { default: fallback.value }),
    ...(description === undefined ? {} : { description }),
  };
}

/** The object shape of `schema` after unwrapping, or null when it is not an object. */
export function shapeOf(schema: z.ZodType): Record<string, z.ZodType> | null {
  const def = unwrap(schema).base.def as unknown as SchemaDef;
  return def.type === 'object' && def.shape !== undefined ? def.shape : null;
}

/** The schema of the key at `path` under `msgport.messaging`, or null. */
export function schemaAt(path: readonly PropertyKey[]): z.ZodType | null {
  let current: z.ZodType = msgportConfigSchema;
  for (const segment of path) {
    const shape = shapeOf(current);
    const next = shape === null || typeof segment !== 'string' ? undefined : shape[segment];
    if (next === undefined) return null;
    current = next;
  }
  return current;
}

/** The environment variable name of a key path: `MSGPORT_MESSAGING_` + upper snake case. */
export function envName(path: readonly string[]): string {
  return ENV_PREFIX + path.map((segment) => segment.toUpperCase().replace(/-/g, '_')).join('_');
}
