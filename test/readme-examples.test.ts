import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { format } from 'node:util';

// Every ```ts block of every README is executed, so the docs cannot drift from the code.
// Blocks are written next to this file (so Jest transforms them and resolves @msgport/* to the
// sources) and imported one by one. A block opts out only with a `<!-- not-executed: why -->`
// comment on the line before it, which must say why. A line `console.log(expr); // expected`
// asserts that the printed text is exactly `expected`.

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'test', '.readme-blocks');

interface Block {
  readonly file: string;
  readonly line: number;
  readonly code: string;
}

function readmes(): string[] {
  const found = [join(root, 'README.md')];
  for (const parent of ['packages', 'examples']) {
    for (const name of readdirSync(join(root, parent))) {
      const file = join(root, parent, name, 'README.md');
      if (existsSync(file)) found.push(file);
    }
  }
  return found;
}

function extract(file: string): Block[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i]!)) continue;
    const skipped = i > 0 && /<!--\s*not-executed:\s*\S/.test(lines[i - 1]!);
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
    if (!skipped) blocks.push({ file: relative(root, file), line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

const EXPECT = '__msgportReadmeExpect';

/** Turns `console.log(expr); // expected` into a checked call. */
function withOutputChecks(code: string): string {
  return code
    .split('\n')
    .map((line) => {
      const match = /^(\s*)console\.log\((.*)\);\s*\/\/\s*(.+?)\s*$/.exec(line);
      if (match === null) return line;
      const [, indent, args, expected] = match;
      return `${indent}(globalThis as any).${EXPECT}(${JSON.stringify(expected)}, ${args});`;
    })
    .join('\n');
}

const blocks = readmes().flatMap(extract);
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('README code blocks', () => {
  it('finds code blocks to run', () => {
    expect(blocks.length).toBeGreaterThan(0);
  });

  for (const [index, block] of blocks.entries()) {
    it(`runs ${block.file}:${block.line}`, async () => {
      const path = join(outDir, `block-${index}.ts`);
      // `export {}` makes every block a module, so top-level await is allowed.
      writeFileSync(path, `${withOutputChecks(block.code)}\nexport {};\n`);
      const checked: Array<{ expected: string; actual: string }> = [];
      (globalThis as Record<string, unknown>)[EXPECT] = (expected: string, ...args: unknown[]) => {
        checked.push({ expected, actual: format(...args) });
      };
      const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
      try {
        await import(pathToFileURL(path).href);
      } finally {
        log.mockRestore();
      }
      for (const { expected, actual } of checked) expect(actual).toBe(expected);
    }, 60_000);
  }
});
