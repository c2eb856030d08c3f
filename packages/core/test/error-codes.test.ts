import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import {
  BrokerStateError,
  ConfigurationError,
  ConnectionError,
  InvalidArgumentError,
  MESSAGING_ERROR_CODES,
  MessagingError,
  PublishError,
  SubscribeError,
  type MessagingErrorCode,
} from '@msgport/core';

const packagesDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const codes = MESSAGING_ERROR_CODES as Record<string, { error: string; retriable: boolean | 'either'; doc: string }>;

interface Row {
  readonly readme: string;
  readonly line: number;
  readonly errorClass: string | null;
  readonly codes: readonly string[];
  readonly retriable: string | null;
}

/** The rows of every table of a README's "## Errors" section that has a `code` column. */
function errorTableRows(readme: string): Row[] {
  const lines = readFileSync(join(packagesDir, readme), 'utf8').split('\n');
  const start = lines.findIndex((line) => /^## Errors\b/.test(line));
  if (start < 0) return [];
  const rows: Row[] = [];
  let header: string[] | null = null;
  let previousClass: string | null = null;
  for (let i = start + 1; i < lines.length && !/^## /.test(lines[i]!); i++) {
    const line = lines[i]!;
    if (!line.startsWith('|')) {
      header = null;
      continue;
    }
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim());
    if (header === null) {
      header = cells;
      continue;
    }
    if (cells.every((cell) => /^-+$/.test(cell))) continue;
    const at = (name: string): string | null => {
      const index = header!.indexOf(name);
      return index < 0 ? null : cells[index]!;
    };
    const codeCell = at('code');
    if (codeCell === null) continue;
    const classCell = at('class');
    const errorClass: string | null = classCell === null ? null : classCell === '' ? previousClass : classCell.replace(/`/g, '');
    previousClass = errorClass;
    rows.push({
      readme,
      line: i + 1,
      errorClass,
      codes: [...codeCell.matchAll(/`([A-Z][A-Z_]+)`/g)].map((match) => match[1]!),
      retriable: at('retriable'),
    });
  }
  return rows;
}

const readmes = readdirSync(packagesDir)
  .map((name) => join(name, 'README.md'))
  .filter((readme) => existsSync(join(packagesDir, readme)));

describe('MESSAGING_ERROR_CODES', () => {
  it('has a doc line for every code', () => {
    for (const [code, info] of Object.entries(codes)) {
      expect(`${code}: ${info.doc}`).toMatch(new RegExp(`^${code}: \\S.{10,}`));
    }
  });

  it('names the default code of each error class as one of that class', () => {
    const defaults: Array<[MessagingError, string]> = [
      [new MessagingError('m'), 'MessagingError'],
      [new PublishError('m'), 'PublishError'],
      [new BrokerStateError('m'), 'BrokerStateError'],
      [new InvalidArgumentError('m'), 'InvalidArgumentError'],
      [new ConnectionError('m'), 'ConnectionError'],
      [new ConfigurationError('m'), 'ConfigurationError'],
      [new SubscribeError('m'), 'SubscribeError'],
    ];
    for (const [error, name] of defaults) {
      expect({ code: error.code, class: codes[error.code]?.error }).toEqual({ code: error.code, class: name });
      const retriable = codes[error.code]!.retriable;
      if (retriable !== 'either')
        expect({ code: error.code, retriable: error.retriable }).toEqual({ code: error.code, retriable });
    }
  });

  it('narrows each class to its own codes (a type check: a code of another class does not compile)', () => {
    const publishCode: PublishError['code'] = 'PUBLISH_TIMEOUT';
    // @ts-expect-error TLS_FAILED is a ConnectionError code, not a PublishError one
    const wrong: PublishError['code'] = 'TLS_FAILED';
    const any: MessagingErrorCode = wrong;
    expect([publishCode, any]).toEqual(['PUBLISH_TIMEOUT', 'TLS_FAILED']);
  });
});

describe('the README error tables', () => {
  const rows = readmes.flatMap(errorTableRows);

  it('exist in every package README that has an Errors section', () => {
    expect(new Set(rows.map((row) => row.readme))).toEqual(
      new Set([
        'autoconfig/README.md',
        'core/README.md',
        'kafka/README.md',
        'memory/README.md',
        'rabbitmq/README.md',
        'testkit/README.md',
      ]),
    );
  });

  it('list only codes of the map, under the class and with the retriable flag the map gives', () => {
    const problems: string[] = [];
    for (const row of rows) {
      if (row.codes.length === 0) problems.push(`${row.readme}:${row.line}: no code in the code column`);
      for (const code of row.codes) {
        const info = codes[code];
        if (info === undefined) {
          problems.push(`${row.readme}:${row.line}: ${code} is not in MESSAGING_ERROR_CODES`);
          continue;
        }
        if (row.errorClass !== null && row.errorClass !== info.error) {
          problems.push(`${row.readme}:${row.line}: ${code} is listed under ${row.errorClass}, thrown as ${info.error}`);
        }
        if (row.retriable !== null && info.retriable !== 'either') {
          const listed = /^yes\b/i.test(row.retriable) ? true : /^no\b/i.test(row.retriable) ? false : null;
          if (listed !== info.retriable)
            problems.push(
              `${row.readme}:${row.line}: ${code} is listed retriable "${row.retriable}", the map says ${info.retriable}`,
            );
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('of core list every code of the map', () => {
    const listed = new Set(rows.filter((row) => row.readme === 'core/README.md').flatMap((row) => row.codes));
    expect(Object.keys(codes).filter((code) => !listed.has(code))).toEqual([]);
  });
});
