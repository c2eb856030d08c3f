import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

/**
 * A reader-writer lock across Jest workers (processes) for the shared RabbitMQ: test files that
 * use the broker hold it shared; the restart test holds it exclusively, so it never restarts the
 * broker under another test file of this package. Lock files carry the holder's pid, and files of
 * dead processes are ignored, so a crashed worker cannot block the others.
 */
const DIRECTORY = join(tmpdir(), 'msgport-rabbitmq-test-locks');

export interface BrokerLock {
  release(): void;
}

/** Takes the lock shared: waits while a restart holds or wants it. */
export async function lockBrokerShared(timeoutMs = 300_000): Promise<BrokerLock> {
  const file = holderFile('shared');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Announce first, then look: a restart that announced concurrently is always seen by one side.
    writeFileSync(file, String(process.pid));
    if (liveHolders('exclusive').length === 0) return { release: () => rmSync(file, { force: true }) };
    rmSync(file, { force: true });
    if (Date.now() >= deadline) throw new Error(`Waited ${timeoutMs} ms for a RabbitMQ restart by another test file to end.`);
    await pause(200);
  }
}

/**
 * Takes the lock exclusively: announces itself (new shared holders wait), then waits until no other
 * test file holds it shared. Returns the holders still there when `timeoutMs` ran out (then the
 * caller goes ahead anyway). Waits first, without a deadline, for exclusive holders that announced
 * earlier (live processes only).
 */
export async function lockBrokerExclusive(timeoutMs: number): Promise<BrokerLock & { readonly stillShared: number }> {
  const file = holderFile('exclusive');
  writeFileSync(file, String(process.pid));
  const deadline = Date.now() + timeoutMs;
  // Restarts queue among themselves, first announced first (two test runs on one machine, e.g. CI
  // and a developer's run, must not stop the broker under each other), then wait for shared holders.
  const mine = { name: basename(file), since: statSync(file).mtimeMs };
  const earlierExclusive = (): boolean =>
    liveHolders('exclusive').some((name) => {
      if (name === mine.name) return false;
      const since = mtimeOf(name);
      return since !== undefined && (since < mine.since || (since === mine.since && name < mine.name));
    });
  while (earlierExclusive()) await pause(200);
  let shared = liveHolders('shared');
  while (shared.length > 0 && Date.now() < deadline) {
    await pause(200);
    shared = liveHolders('shared');
  }
  return { stillShared: shared.length, release: () => rmSync(file, { force: true }) };
}

function holderFile(kind: 'shared' | 'exclusive'): string {
  mkdirSync(DIRECTORY, { recursive: true });
  return join(DIRECTORY, `${kind}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

function liveHolders(kind: 'shared' | 'exclusive'): string[] {
  let names: string[];
  try {
    names = readdirSync(DIRECTORY);
  } catch {
    return [];
  }
  return names.filter((name) => {
    const match = new RegExp(`^${kind}-(\\d+)-`).exec(name);
    if (match === null) return false;
    if (isAlive(Number(match[1]))) return true;
    rmSync(join(DIRECTORY, name), { force: true });
    return false;
  });
}

function mtimeOf(name: string): number | undefined {
  try {
    return statSync(join(DIRECTORY, name)).mtimeMs;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
