import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { APP_DIR } from './paths.js';

/** One JSON line an application instance wrote on stdout, stamped with the time it arrived. */
export interface AppEvent {
  readonly e: string;
  readonly id?: number;
  readonly at: number;
  readonly [field: string]: unknown;
}

export interface AppExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly at: number;
}

export type AppScript = 'consumer' | 'producer' | 'bad-input' | 'secrets';

const running = new Set<AppProcess>();

/**
 * A child application instance (test/reliability/app/<script>.mjs on the built packages). Its
 * stdout is parsed as JSON lines into {@link events}; stderr (its log) is kept for diagnostics.
 */
export class AppProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly events: AppEvent[] = [];
  /** Everything the process wrote, verbatim: stdout then stderr chunks in arrival order. */
  readonly output: string[] = [];
  readonly stderrLines: string[] = [];
  readonly exited: Promise<AppExit>;
  exit: AppExit | null = null;
  readonly startedAt = Date.now();
  readonly #counts = new Map<string, number>();
  readonly #listeners = new Set<(event: AppEvent) => void>();

  /** `script`: one of the suite's applications, or `{ file }`: another one (the cluster suite's). */
  constructor(
    script: AppScript | { readonly file: string },
    name: string,
    config: Record<string, unknown>,
    env: Record<string, string> = {},
  ) {
    this.name = name;
    const file = typeof script === 'string' ? join(APP_DIR, `${script}.mjs`) : script.file;
    this.child = spawn(process.execPath, [file], {
      env: { ...process.env, ...env, NODE_OPTIONS: '', RELIABILITY_APP_CONFIG: JSON.stringify({ name, ...config }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(this);
    // RELIABILITY_KEEP_LOGS=<dir>: every application's whole output also goes to <dir>/<name>-<pid>.log.
    const keepLogs = process.env['RELIABILITY_KEEP_LOGS'];
    if (keepLogs !== undefined && keepLogs !== '') {
      mkdirSync(keepLogs, { recursive: true });
      const file = createWriteStream(join(keepLogs, `${name.replace(/[^\w.-]+/g, '_')}-${this.child.pid}.log`));
      this.child.stdout!.pipe(file, { end: false });
      this.child.stderr!.pipe(file, { end: false });
      this.child.once('close', () => file.end());
    }
    let pending = '';
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => {
      this.output.push(chunk);
      pending += chunk;
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line.length > 0) this.#onLine(line);
      }
    });
    let pendingErr = '';
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => {
      this.output.push(chunk);
      pendingErr += chunk;
      const lines = pendingErr.split('\n');
      pendingErr = lines.pop() ?? '';
      this.stderrLines.push(...lines);
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        if (pendingErr.length > 0) this.stderrLines.push(pendingErr);
        this.exit = { code, signal, at: Date.now() };
        running.delete(this);
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  count(kind: string): number {
    return this.#counts.get(kind) ?? 0;
  }

  /** Calls `listener` for every event from now on (and, with `replay`, for those already received). */
  onEvent(listener: (event: AppEvent) => void, replay = true): void {
    if (replay) for (const event of this.events) listener(event);
    this.#listeners.add(listener);
  }

  find(kind: string): AppEvent | undefined {
    return this.events.find((event) => event.e === kind);
  }

  /** Resolves with the first event of `kind`; rejects when the process exits first or the deadline passes. */
  async waitForEvent(kind: string, timeoutMs: number): Promise<AppEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const event = this.find(kind);
      if (event !== undefined) return event;
      const crash = this.find('crash') ?? this.find('start-failed');
      if (crash !== undefined)
        throw new Error(`${this.name} reported ${JSON.stringify(crash)} while we waited for "${kind}".\n${this.logTail()}`);
      if (this.exit !== null) {
        throw new Error(`${this.name} exited (${JSON.stringify(this.exit)}) before reporting "${kind}".\n${this.logTail()}`);
      }
      if (Date.now() >= deadline)
        throw new Error(`${this.name} did not report "${kind}" within ${timeoutMs} ms.\n${this.logTail()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  signal(signal: NodeJS.Signals): number {
    const at = Date.now();
    if (this.exit === null) this.child.kill(signal);
    return at;
  }

  /** Resolves with the exit, or null when the process is still running after `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<AppExit | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Waits for an application that has reported "done" to exit by itself with code 0, and fails with
   * its log tail (which names any handle still holding the event loop) when it does not.
   */
  async expectCleanExit(timeoutMs: number): Promise<AppExit> {
    const exit = await this.waitForExit(timeoutMs);
    if (exit === null) {
      // Everything from the first "[lingering]" report on (see reportLingeringHandles), at least 80 lines.
      const first = this.stderrLines.findIndex((line) => line.startsWith('[lingering]'));
      const lines = first < 0 ? 80 : Math.max(80, this.stderrLines.length - first + 20);
      throw new Error(`${this.name} did not exit within ${timeoutMs} ms after it finished.\n${this.logTail(lines)}`);
    }
    if (exit.code !== 0)
      throw new Error(`${this.name} exited with ${JSON.stringify(exit)} instead of code 0.\n${this.logTail(80)}`);
    return exit;
  }

  logTail(lines = 40): string {
    return `--- last log lines of ${this.name} (pid ${this.child.pid}) ---\n${this.stderrLines.slice(-lines).join('\n')}`;
  }

  #onLine(line: string): void {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      parsed = { e: 'stdout', text: line };
    }
    const event = { ...parsed, at: Date.now() } as AppEvent;
    this.events.push(event);
    this.#counts.set(event.e, (this.#counts.get(event.e) ?? 0) + 1);
    for (const listener of this.#listeners) listener(event);
  }
}

/** SIGKILLs every application instance still running (afterEach/afterAll safety net). */
export async function killAllApps(): Promise<void> {
  const apps = [...running];
  for (const app of apps) app.signal('SIGKILL');
  await Promise.all(apps.map((app) => app.exited));
}
