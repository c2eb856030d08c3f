import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Version dry runs: `changeset version` on a copy of the workspace's manifests, CHANGELOGs and
// .changeset config in a temporary directory (no git needed), with the changesets each test
// writes, then a look at the versions it chose. The repository is never touched. That
// `workspace:^` becomes a real range when packing is checked by test/install/install.test.ts.

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CHANGESET = join(root, 'node_modules', '@changesets', 'cli', 'bin.js');
const PUBLISHED = [
  '@msgport/autoconfig',
  '@msgport/core',
  '@msgport/kafka',
  '@msgport/memory',
  '@msgport/rabbitmq',
  '@msgport/testkit',
];
const CORE_PEER_DEPENDENTS = ['@msgport/kafka', '@msgport/memory', '@msgport/rabbitmq', '@msgport/testkit'];

type Bump = 'major' | 'minor' | 'patch';

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  peerDependencies?: Record<string, string>;
  dependencies?: Record<string, string>;
}

/** The workspace package directories, from pnpm-workspace.yaml (`dir` and `dir/*` entries). */
function workspaceDirs(): string[] {
  const globs = [...readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8').matchAll(/^\s*-\s*['"]?([^'"\s]+)['"]?\s*$/gm)].map(
    ([, glob]) => glob!,
  );
  return globs.flatMap((glob) => {
    if (!glob.endsWith('/*')) return existsSync(join(root, glob, 'package.json')) ? [glob] : [];
    const parent = glob.slice(0, -2);
    return readdirSync(join(root, parent), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(join(root, parent, entry.name, 'package.json')))
      .map((entry) => `${parent}/${entry.name}`);
  });
}

function readManifest(file: string): Manifest {
  return JSON.parse(readFileSync(file, 'utf8')) as Manifest;
}

/** The bumps a changeset file asks for, from its front matter. */
function parseChangeset(text: string): Record<string, Bump> {
  const front = /^---\n([\s\S]*?)\n---/.exec(text)?.[1] ?? '';
  return Object.fromEntries(
    [...front.matchAll(/^\s*["']?([^"':]+)["']?\s*:\s*(major|minor|patch)\s*$/gm)].map(([, name, bump]) => [name!, bump as Bump]),
  );
}

function changeset(bumps: Record<string, Bump>, summary: string): string {
  return `---\n${Object.entries(bumps)
    .map(([name, bump]) => `"${name}": ${bump}`)
    .join('\n')}\n---\n\n${summary}\n`;
}

interface DryRunOptions {
  /** Changeset files to write (name → content); `'repository'` takes the pending ones of the repository. */
  readonly changesets: Record<string, string> | 'repository';
  /** Version to give every published package first; the repository's versions otherwise. */
  readonly version?: string;
  /** Drop `onlyUpdatePeerDependentsWhenOutOfRange` from the config. */
  readonly withoutPeerOption?: boolean;
}

interface DryRun {
  readonly before: Record<string, string>;
  readonly after: Record<string, string>;
  readonly manifests: Record<string, Manifest>;
  readonly changelogs: Record<string, string>;
  readonly output: string;
}

async function versionDryRun(options: DryRunOptions): Promise<DryRun> {
  const dir = mkdtempSync(join(tmpdir(), 'msgport-versioning-'));
  try {
    for (const file of ['package.json', 'pnpm-workspace.yaml']) cpSync(join(root, file), join(dir, file));
    // changesets resolves its changelog generator (@changesets/cli/changelog) from the project.
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    const before: Record<string, string> = {};
    const locations: Record<string, string> = {};
    for (const pkgDir of workspaceDirs()) {
      mkdirSync(join(dir, pkgDir), { recursive: true });
      const manifest = readManifest(join(root, pkgDir, 'package.json'));
      if (options.version !== undefined && PUBLISHED.includes(manifest.name)) manifest.version = options.version;
      writeFileSync(join(dir, pkgDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      if (existsSync(join(root, pkgDir, 'CHANGELOG.md')))
        cpSync(join(root, pkgDir, 'CHANGELOG.md'), join(dir, pkgDir, 'CHANGELOG.md'));
      before[manifest.name] = manifest.version;
      locations[manifest.name] = pkgDir;
    }

    mkdirSync(join(dir, '.changeset'));
    const config = JSON.parse(readFileSync(join(root, '.changeset', 'config.json'), 'utf8')) as Record<string, unknown>;
    if (options.withoutPeerOption) delete config.___experimentalUnsafeOptions_WILL_CHANGE_IN_PATCH;
    writeFileSync(join(dir, '.changeset', 'config.json'), JSON.stringify(config, null, 2));
    const changesets =
      options.changesets === 'repository'
        ? Object.fromEntries(
            readdirSync(join(root, '.changeset'))
              .filter((name) => name.endsWith('.md') && name !== 'README.md')
              .map((name) => [name, readFileSync(join(root, '.changeset', name), 'utf8')]),
          )
        : options.changesets;
    for (const [name, text] of Object.entries(changesets)) writeFileSync(join(dir, '.changeset', name), text);

    const output = await new Promise<string>((resolve, reject) => {
      const env = { ...process.env };
      delete env.NODE_OPTIONS;
      execFile(process.execPath, [CHANGESET, 'version'], { cwd: dir, env, timeout: 60_000 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`changeset version failed:\n${stdout}\n${stderr}`));
        else resolve(`${stdout}${stderr}`);
      });
    });

    const after: Record<string, string> = {};
    const manifests: Record<string, Manifest> = {};
    const changelogs: Record<string, string> = {};
    for (const [name, pkgDir] of Object.entries(locations)) {
      manifests[name] = readManifest(join(dir, pkgDir, 'package.json'));
      after[name] = manifests[name].version;
      const changelog = join(dir, pkgDir, 'CHANGELOG.md');
      if (existsSync(changelog)) changelogs[name] = readFileSync(changelog, 'utf8');
    }
    return { before, after, manifests, changelogs, output };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const published = (versions: Record<string, string>) => Object.fromEntries(PUBLISHED.map((name) => [name, versions[name]]));
const major = (version: string) => Number(version.split('.')[0]);

describe('versioning with changesets', () => {
  it('every published package has a CHANGELOG.md whose latest entry is its current version', () => {
    const found: Record<string, string | null> = {};
    for (const pkgDir of workspaceDirs()) {
      const manifest = readManifest(join(root, pkgDir, 'package.json'));
      if (!PUBLISHED.includes(manifest.name)) continue;
      const file = join(root, pkgDir, 'CHANGELOG.md');
      const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
      expect(text.startsWith(`# ${manifest.name}\n`)).toBe(true);
      found[manifest.name] = /^## (\S+)/m.exec(text)?.[1] ?? null;
    }
    expect(found).toEqual(
      Object.fromEntries(
        PUBLISHED.map((name) => [
          name,
          readManifest(join(root, 'packages', name.slice('@msgport/'.length), 'package.json')).version,
        ]),
      ),
    );
  });

  it('a minor changeset for @msgport/core at 1.x releases core 1.1.0 and leaves the packages that take it as a peer at 1.0.0', async () => {
    const run = await versionDryRun({
      version: '1.0.0',
      changesets: { 'core-feature.md': changeset({ '@msgport/core': 'minor' }, 'Add a feature to the port.') },
    });
    expect(published(run.after)).toEqual({
      '@msgport/autoconfig': '1.0.0',
      '@msgport/core': '1.1.0',
      '@msgport/kafka': '1.0.0',
      '@msgport/memory': '1.0.0',
      '@msgport/rabbitmq': '1.0.0',
      '@msgport/testkit': '1.0.0',
    });
    expect(run.changelogs['@msgport/core']).toMatch(
      /^# @msgport\/core\n\n## 1\.1\.0\n\n### Minor Changes\n\n- Add a feature to the port\.\n/,
    );
    // Ranges stay workspace:^ in the repository; pnpm pack turns them into ^1.1.0-style ranges.
    for (const name of CORE_PEER_DEPENDENTS)
      expect(`${name} ${run.manifests[name]!.peerDependencies?.['@msgport/core']}`).toBe(`${name} workspace:^`);
  }, 60_000);

  it('without onlyUpdatePeerDependentsWhenOutOfRange the same changeset would release every peer dependent of core as 2.0.0', async () => {
    // Why .changeset/config.json sets the option: changesets 2.x bumps a peer dependent a major
    // version whenever its peer goes up a minor, in range or not.
    const run = await versionDryRun({
      version: '1.0.0',
      withoutPeerOption: true,
      changesets: { 'core-feature.md': changeset({ '@msgport/core': 'minor' }, 'Add a feature to the port.') },
    });
    expect(run.after['@msgport/core']).toBe('1.1.0');
    for (const name of CORE_PEER_DEPENDENTS) expect(`${name}@${run.after[name]}`).toBe(`${name}@2.0.0`);
  }, 60_000);

  it('at 0.x a core feature released as a patch (0.1.1) stays inside ^0.1.0 and leaves every other package alone', async () => {
    const run = await versionDryRun({
      version: '0.1.0',
      changesets: { 'core-feature.md': changeset({ '@msgport/core': 'patch' }, 'Add a feature to the port.') },
    });
    expect(published(run.after)).toEqual({
      ...Object.fromEntries(PUBLISHED.map((name) => [name, '0.1.0'])),
      '@msgport/core': '0.1.1',
    });
  }, 60_000);

  it('at 0.x a minor changeset for core leaves the ^0.1.0 peer range, so every peer dependent would be released as 1.0.0', async () => {
    // Semver for 0.x: ^0.1.0 excludes 0.2.0, so a 0.x minor of core is a breaking release for
    // its peer dependents, and changesets gives them a major bump, which for 0.x means 1.0.0.
    // Until 1.0, release features of core as patches and breaking changes as minors.
    const run = await versionDryRun({
      version: '0.1.0',
      changesets: { 'core-feature.md': changeset({ '@msgport/core': 'minor' }, 'Change the port.') },
    });
    expect(run.after['@msgport/core']).toBe('0.2.0');
    for (const name of CORE_PEER_DEPENDENTS) expect(`${name}@${run.after[name]}`).toBe(`${name}@1.0.0`);
  }, 60_000);

  it('the pending changesets in .changeset/ release no package a major version it did not ask for', async () => {
    const asked: Record<string, Bump> = {};
    const order: Bump[] = ['patch', 'minor', 'major'];
    for (const name of readdirSync(join(root, '.changeset')).filter((file) => file.endsWith('.md') && file !== 'README.md')) {
      for (const [pkg, bump] of Object.entries(parseChangeset(readFileSync(join(root, '.changeset', name), 'utf8')))) {
        if (asked[pkg] === undefined || order.indexOf(bump) > order.indexOf(asked[pkg])) asked[pkg] = bump;
      }
    }
    const run = await versionDryRun({ changesets: 'repository' });
    const unasked = PUBLISHED.filter(
      (name) => asked[name] !== 'major' && major(run.after[name]!) !== major(run.before[name]!),
    ).map((name) => `${name} ${run.before[name]} → ${run.after[name]} (asked: ${asked[name] ?? 'nothing'})`);
    expect(unasked).toEqual([]);
  }, 60_000);
});
