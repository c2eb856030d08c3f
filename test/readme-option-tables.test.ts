import { describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_RETRY_POLICY } from '@msgport/core';
import { DEFAULT_CAPABILITIES } from '@msgport/testkit';
import ts from 'typescript';

// The option tables of the package READMEs list exactly the options of the interfaces they
// document, say which are required as the types do, and state the defaults that the TSDoc
// (`@default`) and the code (`options.x ?? value`) use. (The autoconfig key table is checked
// against its schema by packages/autoconfig/test/readme.test.ts.)

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Public entries whose exported interfaces the tables document. */
const ENTRIES = {
  core: ['packages/core/src/index.ts', 'packages/core/src/adapter/index.ts'],
  memory: ['packages/memory/src/index.ts'],
  kafka: ['packages/kafka/src/index.ts'],
  rabbitmq: ['packages/rabbitmq/src/index.ts'],
  testkit: ['packages/testkit/src/index.ts'],
} as const;

type Entry = keyof typeof ENTRIES;

interface TableSpec {
  readonly readme: string;
  /** Which option table of the README (0 = the first), counted over headers `| option |` / `| flag |`. */
  readonly index: number;
  readonly entry: Entry;
  readonly type: string;
  /** Packages whose sources apply the defaults (`options.x ?? value`): the entry's own, plus core for inherited options. */
  readonly sources: readonly string[];
  /**
   * The object that holds the defaults at run time, when the code takes them from one (the
   * table documents a `Partial<…>` of its type: nothing is required).
   */
  readonly runtimeDefaults?: Readonly<Record<string, unknown>>;
}

const TABLES: readonly TableSpec[] = [
  {
    readme: 'packages/core/README.md',
    index: 0,
    entry: 'core',
    type: 'RetryPolicyOptions',
    sources: ['core'],
    runtimeDefaults: { ...DEFAULT_RETRY_POLICY },
  },
  { readme: 'packages/core/README.md', index: 1, entry: 'core', type: 'MessageBrokerBaseOptions', sources: ['core'] },
  {
    readme: 'packages/memory/README.md',
    index: 0,
    entry: 'memory',
    type: 'InMemoryMessageBrokerOptions',
    sources: ['memory', 'core'],
  },
  { readme: 'packages/kafka/README.md', index: 0, entry: 'kafka', type: 'KafkaAdapterOptions', sources: ['kafka', 'core'] },
  {
    readme: 'packages/rabbitmq/README.md',
    index: 0,
    entry: 'rabbitmq',
    type: 'RabbitMQAdapterOptions',
    sources: ['rabbitmq', 'core'],
  },
  { readme: 'packages/testkit/README.md', index: 0, entry: 'testkit', type: 'ConformanceSuiteOptions', sources: ['testkit'] },
  {
    readme: 'packages/testkit/README.md',
    index: 1,
    entry: 'testkit',
    type: 'ConformanceCapabilities',
    sources: ['testkit'],
    runtimeDefaults: { ...DEFAULT_CAPABILITIES },
  },
  { readme: 'packages/testkit/README.md', index: 2, entry: 'testkit', type: 'FuzzSuiteOptions', sources: ['testkit'] },
];

interface Row {
  readonly name: string;
  readonly typeCell: string;
  readonly defaultCell: string;
  readonly line: number;
}

/** The rows of the `index`-th option table of a README (header `| option | type | default | … |`). */
function optionTable(readme: string, index: number): Row[] {
  const lines = readFileSync(join(root, readme), 'utf8').split('\n');
  const starts = lines.flatMap((line, i) => (/^\| (option|flag) \| type \| default \|/.test(line) ? [i] : []));
  const start = starts[index];
  if (start === undefined) throw new Error(`${readme} has ${starts.length} option table(s), not ${index + 1}.`);
  const rows: Row[] = [];
  for (let i = start + 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
    // Cells split on `|` not escaped as `\|`.
    const cells = lines[i]!.split(/(?<!\\)\|/).map((cell) => cell.trim());
    const name = /^`([A-Za-z0-9_.]+)`$/.exec(cells[1] ?? '')?.[1];
    if (name === undefined) throw new Error(`${readme}:${i + 1}: the first cell is not one \`option\`: ${lines[i]}`);
    rows.push({ name, typeCell: cells[2] ?? '', defaultCell: cells[3] ?? '', line: i + 1 });
  }
  return rows;
}

/** A literal default (number, boolean, quoted string or array of them) in one normal form; undefined for prose. */
function literal(text: string): string | undefined {
  const value = text
    .trim()
    .replace(/^`([^`]*)`(\s*\(.*\))?$/, '$1')
    .trim();
  if (/^-?\d[\d_]*(\.\d+)?$/.test(value)) return String(Number(value.replaceAll('_', '')));
  if (value === 'true' || value === 'false') return value;
  if (/^'[^']*'$/.test(value) || /^"[^"]*"$/.test(value)) return `'${value.slice(1, -1)}'`;
  if (/^\[('[^']*'(,\s*)?)*\]$/.test(value)) return value.replace(/\s+/g, '');
  return undefined;
}

/** `value` in the normal form of {@link literal}; undefined for what a table cannot state as a literal. */
function literalOf(value: unknown): string | undefined {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value) && value.every((item) => typeof item === 'string'))
    return `[${value.map((item) => `'${item}'`).join(',')}]`;
  return undefined;
}

const isRequiredCell = (cell: string): boolean => /^(— \()?required\)?$/.test(cell.replaceAll('`', '').trim());

const compilerOptions = (() => {
  const configFile = join(root, 'test', 'tsconfig.json');
  const read = ts.readConfigFile(configFile, (file) => ts.sys.readFile(file));
  return ts.parseJsonConfigFileContent(read.config, ts.sys, dirname(configFile)).options;
})();
const program = ts.createProgram({
  rootNames: Object.values(ENTRIES)
    .flat()
    .map((file) => join(root, file)),
  options: compilerOptions,
});
const checker = program.getTypeChecker();

interface OptionInfo {
  readonly required: boolean;
  readonly tsdocDefault: string | undefined;
  /** The declared type, `undefined` removed, as the checker prints it. */
  readonly type: string;
  /** Nested options (for `parent.child` rows); empty unless the option is a plain object type. */
  readonly nested: ReadonlyMap<string, OptionInfo>;
}

function exportedType(entry: Entry, name: string): ts.Type {
  for (const file of ENTRIES[entry]) {
    const source = program.getSourceFile(join(root, file));
    const moduleSymbol = source === undefined ? undefined : checker.getSymbolAtLocation(source);
    if (moduleSymbol === undefined) throw new Error(`Cannot load ${file}.`);
    let symbol = checker.getExportsOfModule(moduleSymbol).find((exported) => exported.name === name);
    if (symbol === undefined) continue;
    if (symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
    return checker.getDeclaredTypeOfSymbol(symbol);
  }
  throw new Error(`${name} is not exported by @msgport/${entry}.`);
}

function optionsOf(type: ts.Type, depth = 0): Map<string, OptionInfo> {
  const options = new Map<string, OptionInfo>();
  for (const property of checker.getPropertiesOfType(type)) {
    const tag = property.getJsDocTags(checker).find((candidate) => candidate.name === 'default');
    const declaration = property.valueDeclaration ?? property.declarations?.[0];
    const propertyType = declaration === undefined ? undefined : checker.getNonNullableType(checker.getTypeOfSymbol(property));
    const plainObject =
      propertyType !== undefined &&
      depth === 0 &&
      propertyType.getCallSignatures().length === 0 &&
      (propertyType.flags & ts.TypeFlags.Object) !== 0 &&
      propertyType.aliasSymbol === undefined &&
      /Options$/.test(propertyType.symbol?.name ?? '');
    options.set(property.name, {
      required: (property.flags & ts.SymbolFlags.Optional) === 0,
      tsdocDefault: tag?.text === undefined ? undefined : ts.displayPartsToString(tag.text).trim(),
      type: propertyType === undefined ? '' : checker.typeToString(propertyType),
      nested: plainObject ? optionsOf(propertyType, depth + 1) : new Map(),
    });
  }
  return options;
}

function sourceFiles(pkg: string): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts')) files.push(path);
    }
  };
  walk(join(root, 'packages', pkg, 'src'));
  return files;
}

/** Literal fallbacks the code applies to option `name`: `.name ?? value` and `integer('name', value, …)`. */
function codeDefaults(name: string, packages: readonly string[]): Set<string> {
  const found = new Set<string>();
  const leaf = name.split('.').at(-1)!;
  const patterns = [
    new RegExp(`\\.${leaf}\\s*\\?\\?\\s*([^;,)\\n]+)`, 'g'),
    new RegExp(`\\(\\s*'${leaf}'\\s*,\\s*([^,)\\n]+)`, 'g'),
  ];
  for (const file of packages.flatMap(sourceFiles)) {
    const text = readFileSync(file, 'utf8');
    for (const pattern of patterns) {
      for (const match of text.matchAll(pattern)) {
        const value = literal(match[1]!);
        if (value !== undefined) found.add(value);
      }
    }
  }
  return found;
}

describe.each(TABLES)('$readme option table $index ($type)', (spec) => {
  const rows = optionTable(spec.readme, spec.index);
  const options = optionsOf(exportedType(spec.entry, spec.type));
  const lookup = (name: string): OptionInfo | undefined => {
    const [head, ...rest] = name.split('.');
    let info = options.get(head!);
    for (const part of rest) info = info?.nested.get(part);
    return info;
  };

  it(`lists every option of ${spec.type} once, and no option it does not have`, () => {
    const names = rows.map((row) => row.name);
    expect(names.filter((name, i) => names.indexOf(name) !== i)).toEqual([]);
    expect(names.filter((name) => lookup(name) === undefined)).toEqual([]);
    // An option documented by its nested rows (`reconnect.initialDelayMs`) is listed by them.
    const expected = [...options].flatMap(([name, info]) =>
      names.some((row) => row.startsWith(`${name}.`)) ? [...info.nested.keys()].map((child) => `${name}.${child}`) : [name],
    );
    expect([...names].sort()).toEqual(expected.sort());
  });

  it('marks exactly the required options as required', () => {
    const required = (name: string): boolean => spec.runtimeDefaults === undefined && lookup(name)!.required;
    const wrong = rows.filter((row) => isRequiredCell(row.defaultCell) !== required(row.name));
    expect(wrong.map((row) => `${spec.readme}:${row.line} ${row.name}: "${row.defaultCell}"`)).toEqual([]);
  });

  it('gives the type of the code where it names a primitive (number, boolean, string)', () => {
    const wrong = rows.flatMap((row) => {
      const stated = /^`(number|boolean|string)`$/.exec(row.typeCell)?.[1];
      const actual = lookup(row.name)!.type;
      return stated === undefined || stated === actual
        ? []
        : [`${spec.readme}:${row.line} ${row.name}: README ${stated}, code ${actual}`];
    });
    expect(wrong).toEqual([]);
  });

  it('states the defaults of the TSDoc and of the code', () => {
    const problems: string[] = [];
    for (const row of rows) {
      const stated = literal(row.defaultCell);
      const info = lookup(row.name)!;
      const tsdoc = info.tsdocDefault === undefined ? undefined : literal(info.tsdocDefault);
      const where = `${spec.readme}:${row.line} ${row.name}`;
      if (stated !== undefined && tsdoc !== undefined && stated !== tsdoc)
        problems.push(`${where}: README ${stated}, TSDoc @default ${tsdoc}`);
      if (spec.runtimeDefaults !== undefined) {
        const actual = spec.runtimeDefaults[row.name];
        if (stated !== literalOf(actual) && !(stated === undefined && actual === undefined))
          problems.push(`${where}: README "${row.defaultCell}", ${spec.type} defaults to ${String(literalOf(actual) ?? actual)}`);
      } else if (stated !== undefined && info.tsdocDefault === undefined && !info.required)
        problems.push(`${where}: README ${stated}, no @default in the TSDoc`);
      if (stated === undefined && tsdoc !== undefined)
        problems.push(`${where}: README "${row.defaultCell}", TSDoc @default ${tsdoc}`);
      const inCode = codeDefaults(row.name, spec.sources);
      if (stated !== undefined && inCode.size > 0 && !inCode.has(stated))
        problems.push(`${where}: README ${stated}, the code falls back to ${[...inCode].join(' or ')}`);
    }
    expect(problems).toEqual([]);
  });
});
