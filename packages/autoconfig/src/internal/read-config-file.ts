import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { ConfigurationError } from '@msgport/core';
import { loadAll, YAMLException } from 'js-yaml';
import { shapeOf } from './schema-walk.js';
import { suggest } from './suggest.js';
import { msgportConfigSchema } from '../msgport-config-schema.js';

/** File names looked for in the working directory, in this order. */
export const CONFIG_FILE_NAMES = ['msgport.yaml', 'msgport.yml', 'pyfly.yaml', 'pyfly.yml'] as const;

/** The config file to read and why. */
export interface LocatedFile {
  readonly path: string;
  /** How it was chosen, for messages: `passed in code`, `named by MSGPORT_CONFIG`, `found in …`. */
  readonly reason: string;
}

/** What a config file holds, once its envelope (`msgport.messaging` or `pyfly.messaging`) is checked. */
export interface ConfigFileContent {
  readonly format: 'msgport' | 'pyfly';
  /** The messaging section (nulls removed), or an empty object. */
  readonly section: Record<string, unknown>;
  /** Problems with the envelope (unknown top-level keys, a section that is not a mapping). */
  readonly issues: readonly string[];
}

/**
 * Picks the config file: the path passed in code, else `MSGPORT_CONFIG`, else the first of
 * {@link CONFIG_FILE_NAMES} in `cwd`; null when there is none.
 *
 * @throws {ConfigurationError} code `CONFIG_FILE_NOT_FOUND` when an explicitly named file is missing,
 *   `INVALID_CONFIG` when both msgport.yaml and msgport.yml exist.
 */
export function locateConfigFile(
  explicit: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): LocatedFile | null {
  const named =
    explicit !== undefined
      ? { path: explicit, reason: 'passed in code' }
      : env['MSGPORT_CONFIG'] !== undefined && env['MSGPORT_CONFIG'] !== ''
        ? { path: env['MSGPORT_CONFIG'], reason: 'named by MSGPORT_CONFIG' }
        : undefined;
  if (named !== undefined) {
    const path = resolve(cwd, named.path);
    if (!existsSync(path)) {
      throw new ConfigurationError(
        `Config file not found: ${path} (${named.reason}). Fix the path, or ${
          named.reason === 'passed in code' ? 'pass none' : 'unset MSGPORT_CONFIG'
        } to use msgport.yaml in the working directory.`,
        { code: 'CONFIG_FILE_NOT_FOUND', issues: [`${path}: file not found (${named.reason})`] },
      );
    }
    return { path, reason: named.reason };
  }
  const found = CONFIG_FILE_NAMES.map((name) => resolve(cwd, name)).filter((path) => isFile(path));
  const [first, second] = found;
  if (first === undefined) return null;
  if (second !== undefined && basename(first).startsWith('msgport.') && basename(second).startsWith('msgport.')) {
    throw new ConfigurationError(`Found both msgport.yaml and msgport.yml in ${cwd}. Keep one of them.`, {
      issues: [`${cwd}: both msgport.yaml and msgport.yml exist`],
    });
  }
  return { path: first, reason: `found in ${cwd}` };
}

/**
 * Reads and parses a config file and checks its envelope.
 *
 * @throws {ConfigurationError} for an unreadable file or a YAML syntax error (with line and column).
 */
export function readConfigFile(path: string): ConfigFileContent {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigurationError(`Cannot read config file ${path}: ${(error as Error).message}`, {
      cause: error,
      issues: [`${path}: unreadable`],
    });
  }
  let documents: unknown[];
  try {
    documents = loadAll(text, { filename: path });
  } catch (error) {
    if (error instanceof YAMLException) {
      // Only the reason and position: js-yaml's full message quotes the source lines, which may
      // hold a password. For the same reason the original error is not attached as `cause`.
      const where = error.mark === undefined ? '' : `:${error.mark.line + 1}:${error.mark.column + 1}`;
      const at = error.mark === undefined ? '' : ` at line ${error.mark.line + 1}, column ${error.mark.column + 1}`;
      throw new ConfigurationError(
        `Cannot parse ${path}: YAML syntax error${at}: ${error.reason}. Fix the file and start again.`,
        {
          issues: [`${path}${where}: ${error.reason}`],
        },
      );
    }
    throw new ConfigurationError(`Cannot parse ${path}: ${(error as Error).message}`, {
      cause: error,
      issues: [`${path}: unreadable YAML`],
    });
  }
  if (documents.length > 1) {
    return { format: 'msgport', section: {}, issues: [`${path}: expected one YAML document, found ${documents.length}`] };
  }
  return envelope(path, stripNulls(documents[0]));
}

function envelope(path: string, document: unknown): ConfigFileContent {
  if (document === undefined) return { format: formatByName(path), section: {}, issues: [] };
  if (!isPlainObject(document)) {
    return {
      format: formatByName(path),
      section: {},
      issues: [
        `${path}: expected a mapping with a "msgport:" section at the top, got ${document === null ? 'nothing' : Array.isArray(document) ? 'a list' : `a ${typeof document}`}`,
      ],
    };
  }
  const format = 'msgport' in document ? 'msgport' : 'pyfly' in document ? 'pyfly' : formatByName(path);
  const issues: string[] = [];
  const label = `(in ${path})`;
  const sectionKeys = Object.keys(shapeOf(msgportConfigSchema) ?? {});

  if (format === 'msgport') {
    for (const key of Object.keys(document)) {
      if (key === 'msgport') continue;
      const hint =
        key === 'messaging'
          ? ', did you mean "msgport.messaging"? Put it under msgport:'
          : sectionKeys.includes(key)
            ? `, did you mean "msgport.messaging.${key}"? Put it under msgport: messaging:`
            : suggestion(key, ['msgport']);
      issues.push(`${key}: unknown key${hint}. Expected one of: msgport ${label}`);
    }
  }
  // A PyFly file holds the whole application's config: only pyfly.messaging is ours.
  const root = document[format];
  if (root === undefined) return { format, section: {}, issues };
  if (!isPlainObject(root)) {
    issues.push(`${format}: expected a mapping with a "messaging:" section, got ${describeType(root)} ${label}`);
    return { format, section: {}, issues };
  }
  if (format === 'msgport') {
    for (const key of Object.keys(root)) {
      if (key === 'messaging') continue;
      const hint = sectionKeys.includes(key)
        ? `, did you mean "msgport.messaging.${key}"? Put it under messaging:`
        : suggestion(key, ['messaging']);
      issues.push(`msgport.${key}: unknown key${hint}. Expected one of: messaging ${label}`);
    }
  }
  const section = root['messaging'];
  if (section === undefined) return { format, section: {}, issues };
  if (!isPlainObject(section)) {
    issues.push(`${format}.messaging: expected a mapping of keys, got ${describeType(section)} ${label}`);
    return { format, section: {}, issues };
  }
  return { format, section, issues };
}

function suggestion(key: string, candidates: readonly string[]): string {
  const hint = suggest(key, candidates);
  return hint === undefined ? '' : `, did you mean "${hint}"?`;
}

function formatByName(path: string): 'msgport' | 'pyfly' {
  return basename(path).startsWith('pyfly.') ? 'pyfly' : 'msgport';
}

function describeType(value: unknown): string {
  return Array.isArray(value) ? 'a list' : `a ${typeof value}`;
}

/** Removes null values from mappings: an empty YAML key (`kafka:`) counts as unset. */
export function stripNulls(value: unknown): unknown {
  if (value === null) return undefined;
  if (!isPlainObject(value)) return value;
  const result: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const stripped = stripNulls(child);
    if (stripped !== undefined) result[key] = stripped;
  }
  return result;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  // Any realm's Object.prototype (objects built in a vm context, e.g. under Jest, count too).
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
