#!/usr/bin/env node
// Builds every package (tsc -b) and packs it with pnpm, the way it would be published: pnpm
// rewrites `workspace:` ranges into real semver ranges (npm pack would not). Then checks every
// tarball's package.json: no `workspace:` range left, and each rewritten range is the one pnpm
// documents for it (`workspace:^` → `^<version>`, `workspace:~` → `~<version>`,
// `workspace:*` → `<version>`, `workspace:<range>` → `<range>`).
//
//   node scripts/pack-packages.mjs [--out <dir>] [--no-build] [--json]
//
// --out       where the tarballs go (default: .tmp/packs in the repository, which git ignores)
// --no-build  skip `tsc -b` (the packages must already be built)
// --json      print the result as JSON on stdout (progress goes to stderr either way)
//
// The result, also written to <out>/packs.json:
//   { "outDir": "…", "packages": [{ "name", "version", "dir", "tarball", "files", "manifest" }] }
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEPENDENCY_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies'];

function parseArgs(argv) {
  const args = { out: join(root, '.tmp', 'packs'), build: true, json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--out') args.out = resolve(argv[++i] ?? fail('--out needs a directory'));
    else if (arg === '--no-build') args.build = false;
    else if (arg === '--json') args.json = true;
    else
      fail(`Unknown argument ${JSON.stringify(arg)}. Usage: node scripts/pack-packages.mjs [--out <dir>] [--no-build] [--json]`);
  }
  return args;
}

function fail(message) {
  process.stderr.write(`pack-packages: ${message}\n`);
  process.exit(1);
}

function run(command, args, cwd) {
  return new Promise((resolvePromise, reject) => {
    execFile(command, args, { cwd, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${[command, ...args].join(' ')} failed in ${cwd}:\n${stderr || stdout || error.message}`));
      } else {
        resolvePromise(stdout);
      }
    });
  });
}

/** The workspace's own pnpm (a devDependency), run by this Node; the pinned version through npx otherwise. */
function pnpmCommand() {
  const bin = join(root, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
  if (existsSync(bin)) return [process.execPath, [bin]];
  const packageManager = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager;
  return ['npx', ['-y', packageManager]];
}

/** The publishable packages: packages/<name> with a package.json that is not private. */
export function listPackages() {
  const dir = join(root, 'packages');
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, 'package.json')))
    .map((entry) => {
      const pkgDir = join(dir, entry.name);
      return { dir: pkgDir, manifest: JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) };
    })
    .filter(({ manifest }) => manifest.private !== true)
    .sort((a, b) => a.manifest.name.localeCompare(b.manifest.name));
}

/** The entries of a .tgz (regular files only), as a Map from path to content. */
export function readTarball(file) {
  const data = gunzipSync(readFileSync(file));
  const entries = new Map();
  let longName = null;
  for (let offset = 0; offset + 512 <= data.length;) {
    const header = data.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const field = (start, length) =>
      header
        .subarray(start, start + length)
        .toString('utf8')
        .replace(/\0[\s\S]*$/, '');
    const size = Number.parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1) || '0';
    const prefix = field(345, 155);
    const body = data.subarray(offset + 512, offset + 512 + size);
    if (type === 'x') {
      // A pax header: a "path=" record names the next entry.
      const path = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString('utf8'));
      longName = path ? path[1] : null;
    } else if (type === '0' || type === '7') {
      entries.set(longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100)), Buffer.from(body));
      longName = null;
    }
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return entries;
}

/** What pnpm publishes for a `workspace:` range of a package at `version`. */
function expectedRange(workspaceRange, version) {
  const spec = workspaceRange.slice('workspace:'.length);
  if (spec === '^' || spec === '~') return `${spec}${version}`;
  if (spec === '*') return version;
  return spec;
}

/** Problems in a packed manifest, compared with the workspace manifest it came from. */
export function checkPackedManifest(source, packed, versions) {
  const problems = [];
  if (packed.name !== source.name || packed.version !== source.version) {
    problems.push(`packed as ${packed.name}@${packed.version}, expected ${source.name}@${source.version}`);
  }
  for (const field of DEPENDENCY_FIELDS) {
    for (const [name, range] of Object.entries(packed[field] ?? {})) {
      if (String(range).startsWith('workspace:')) {
        problems.push(`${field}.${name} is still "${range}" in the tarball`);
        continue;
      }
      const original = source[field]?.[name];
      if (typeof original === 'string' && original.startsWith('workspace:')) {
        const version = versions.get(name);
        if (version === undefined) {
          problems.push(`${field}.${name} is "${original}" but ${name} is not a package of this workspace`);
        } else if (range !== expectedRange(original, version)) {
          problems.push(`${field}.${name}: "${original}" became "${range}", expected "${expectedRange(original, version)}"`);
        }
      }
    }
  }
  return problems;
}

export async function packPackages({
  out = join(root, '.tmp', 'packs'),
  build = true,
  log = (line) => process.stderr.write(`${line}\n`),
} = {}) {
  const started = Date.now();
  if (build) {
    log('pack-packages: building (tsc -b tsconfig.json)');
    await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'tsconfig.json'], root);
  }
  const packages = listPackages();
  const versions = new Map(packages.map(({ manifest }) => [manifest.name, manifest.version]));
  for (const { dir, manifest } of packages) {
    const entry = join(dir, manifest.exports?.['.']?.default ?? manifest.main ?? 'dist/index.js');
    if (!existsSync(entry))
      throw new Error(`${manifest.name} is not built: ${entry} is missing (run tsc -b, or drop --no-build).`);
  }

  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const [pnpm, pnpmArgs] = pnpmCommand();
  // One pnpm per package, all at once: each only reads its own directory and writes its own tarball.
  const results = await Promise.all(
    packages.map(async ({ dir, manifest }) => {
      const stdout = await run(pnpm, [...pnpmArgs, 'pack', '--pack-destination', out, '--json'], dir);
      const report = JSON.parse(stdout.slice(stdout.indexOf('{')));
      const tarball = resolve(out, report.filename);
      const entries = readTarball(tarball);
      const packedJson = entries.get('package/package.json');
      if (packedJson === undefined) throw new Error(`${tarball} has no package/package.json`);
      const packed = JSON.parse(packedJson.toString('utf8'));
      const problems = checkPackedManifest(manifest, packed, versions);
      if (problems.length > 0) {
        throw new Error(`${manifest.name}: the packed package.json is not publishable:\n  ${problems.join('\n  ')}`);
      }
      const files = [...entries.keys()].map((path) => path.replace(/^package\//, '')).sort();
      log(`pack-packages: ${manifest.name}@${manifest.version} → ${tarball} (${files.length} files)`);
      return { name: manifest.name, version: manifest.version, dir, tarball, files, manifest: packed };
    }),
  );
  const result = { outDir: out, packages: results };
  writeFileSync(join(out, 'packs.json'), `${JSON.stringify(result, null, 2)}\n`);
  log(`pack-packages: ${results.length} packages packed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = parseArgs(process.argv.slice(2));
  try {
    const result = await packPackages({ out: args.out, build: args.build });
    if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
}
