import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeConfigKeys, loadConfig } from '@msgport/autoconfig';
import { tempDir } from './temp-dir.js';

// The YAML shown in the docs must be valid configuration, and the reference table must list every
// key of the schema: docs cannot drift from the code.

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const readmes = ['packages/autoconfig/README.md', 'README.md', 'examples/order-pipeline/README.md']
  .map((file) => join(root, file))
  .filter((file) => existsSync(file));

function yamlBlocks(file: string): Array<{ line: number; text: string }> {
  const lines = readFileSync(file, 'utf8').split('\n');
  const blocks: Array<{ line: number; text: string }> = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```ya?ml\s*$/.test(lines[i]!)) continue;
    let end = i + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
    blocks.push({ line: i + 2, text: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

const dir = tempDir({});
afterAll(() => dir.cleanup());

describe('YAML in the READMEs', () => {
  const blocks = readmes.flatMap((file) => yamlBlocks(file).map((block) => ({ ...block, file: relative(root, file) })));

  it('finds configuration examples', () => {
    expect(blocks.length).toBeGreaterThan(1);
  });

  for (const block of blocks) {
    it(`${block.file}:${block.line} is valid configuration`, () => {
      const name = /^\s*pyfly:/m.test(block.text) ? 'pyfly.yaml' : 'msgport.yaml';
      const made = tempDir({ [name]: block.text });
      try {
        expect(() => loadConfig({ cwd: made.dir, env: {} })).not.toThrow();
      } finally {
        made.cleanup();
      }
    });
  }
});

describe('the configuration reference table', () => {
  const readme = readFileSync(join(root, 'packages/autoconfig/README.md'), 'utf8');
  const rows = new Map(
    readme
      .split('\n')
      .filter((line) => /^\| `[a-z.-]+` \|/.test(line))
      .map((line) => [/^\| `([a-z.-]+)` \|/.exec(line)![1]!, line]),
  );

  it('has one row per key of the schema, and no other', () => {
    expect([...rows.keys()].sort()).toEqual(
      describeConfigKeys()
        .map((key) => key.path.join('.'))
        .sort(),
    );
  });

  for (const key of describeConfigKeys()) {
    it(`shows ${key.path.join('.')} with its environment variable and default`, () => {
      const row = rows.get(key.path.join('.'))!;
      expect(row).toContain(`\`${key.env}\``);
      const fallback = key.default;
      if (typeof fallback === 'string' || typeof fallback === 'number' || typeof fallback === 'boolean')
        expect(row).toContain(`\`${fallback}\``);
      else expect(fallback).toBeUndefined();
      for (const value of key.values ?? []) expect(row).toContain(`\`${value}\``);
    });
  }
});
