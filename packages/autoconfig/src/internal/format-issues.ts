import type { z } from 'zod';
import { schemaAt, SECRET_PATHS, shapeOf } from './schema-walk.js';
import { suggest } from './suggest.js';

/** Where a value came from: shown after each issue so the user knows what to fix. */
export interface Origin {
  /** `in /app/msgport.yaml`, `from MSGPORT_MESSAGING_KAFKA_SSL`, `in options` … */
  readonly label: string;
  /** How the section is spelled in that source: `msgport.messaging` or `pyfly.messaging`. */
  readonly prefix: string;
}

/** Origins of merged values, by dot-joined path under the section. */
export type Origins = ReadonlyMap<string, Origin>;

const DEFAULT_PREFIX = 'msgport.messaging';

/**
 * Turns zod issues into one line each: `<path>: <what was expected, what was found> (<source>)`.
 * Values are quoted only where they cannot be credentials (enum choices, numbers); strings are
 * described by type only, so a password in the wrong place is never echoed.
 */
export function formatIssues(issues: readonly z.core.$ZodIssue[], input: unknown, origins: Origins): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const path = issue.path.filter((segment): segment is string | number => typeof segment !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      const target = schemaAt(path);
      const known = target === null ? [] : Object.keys(shapeOf(target) ?? {});
      for (const key of issue.keys) {
        const hint = suggest(key, known);
        lines.push(
          line(
            [...path, key],
            origins,
            `unknown key${hint === undefined ? '' : `, did you mean "${hint}"?`} Expected one of: ${known.join(', ')}`,
          ),
        );
      }
      continue;
    }
    lines.push(line(path, origins, describeIssue(issue, path, valueAt(input, path))));
  }
  return lines;
}

/** Formats one issue line for a path under the section. */
export function line(path: readonly (string | number)[], origins: Origins, text: string): string {
  const origin = originOf(path, origins);
  const where = [origin?.prefix ?? DEFAULT_PREFIX, ...path.map(String)].join('.');
  return `${where}: ${text}${origin === undefined ? '' : ` (${origin.label})`}`;
}

function describeIssue(issue: z.core.$ZodIssue, path: readonly (string | number)[], value: unknown): string {
  const secret = SECRET_PATHS.has(path.join('.'));
  switch (issue.code) {
    case 'invalid_type':
      if (value === undefined) return `required, expected ${expectedText(issue.expected)}`;
      return `expected ${expectedText(issue.expected)}, got ${typeText(value)}`;
    case 'invalid_value': {
      const choices = issue.values.map(String);
      if (value === undefined) return `required, expected one of ${choices.join(', ')}`;
      const got = typeof value === 'string' && !secret ? `"${value}"` : typeText(value);
      const hint = typeof value === 'string' ? suggest(value, choices) : undefined;
      return `expected one of ${choices.join(', ')}, got ${got}${hint === undefined ? '' : `; did you mean "${hint}"?`}`;
    }
    case 'too_small':
      if (issue.origin === 'string')
        return Number(issue.minimum) <= 1 ? 'expected a non-empty string' : `expected at least ${issue.minimum} characters`;
      return `expected a number ${issue.inclusive === false ? '>' : '>='} ${issue.minimum}, got ${numberText(value)}`;
    case 'too_big':
      if (issue.origin === 'string') return `expected at most ${issue.maximum} characters`;
      return `expected a number ${issue.inclusive === false ? '<' : '<='} ${issue.maximum}, got ${numberText(value)}`;
    default:
      // Custom checks (URL, bootstrap servers) write credential-free messages themselves; zod's
      // own messages do not include the input unless asked to (reportInput), which we never do.
      return issue.message;
  }
}

function expectedText(expected: string): string {
  switch (expected) {
    case 'int':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean (true or false)';
    case 'object':
      return 'a mapping of keys';
    case 'string':
      return 'a string';
    default:
      return expected;
  }
}

/** The type of a value, never the value itself. */
export function typeText(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `a ${typeof value}`;
}

function numberText(value: unknown): string {
  return typeof value === 'number' ? String(value) : typeText(value);
}

function valueAt(input: unknown, path: readonly (string | number)[]): unknown {
  let current = input;
  for (const segment of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

function originOf(path: readonly (string | number)[], origins: Origins): Origin | undefined {
  for (let length = path.length; length >= 0; length--) {
    const origin = origins.get(path.slice(0, length).join('.'));
    if (origin !== undefined) return origin;
  }
  return undefined;
}
