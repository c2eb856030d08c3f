import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './env.js';

/** Runs `java` under /usr/bin/time (for its peak RSS); resolves with stdout+stderr and peak RSS in KiB. */
export function runJava(args: string[], timeoutMs = 180_000): Promise<{ output: string; maxRssKiB: number | undefined }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', '@@maxrss %M', 'java', '-Xmx512m', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const rss = /@@maxrss (\d+)/.exec(output);
      if (code !== 0) reject(new Error(`java exited ${String(code)}: ${output.trim().split('\n').slice(-4).join(' | ')}`));
      else resolve({ output, maxRssKiB: rss === null ? undefined : Number(rss[1]) });
    });
  });
}

let toolsClasspath: Promise<string> | null = null;

/** The classpath of org.apache.kafka:kafka-tools (downloaded by scripts/kafka.sh on first use). */
export function kafkaToolsClasspath(): Promise<string> {
  toolsClasspath ??= promisify(execFile)('bash', [join(REPO_ROOT, 'scripts', 'kafka.sh'), 'tools-classpath'], {
    timeout: 600_000,
  }).then(({ stdout }) => stdout.trim());
  return toolsClasspath;
}

export const kafkaLog4j = (): string => `-Dlog4j.configuration=file:${join(REPO_ROOT, 'scripts', 'kafka', 'log4j.properties')}`;
