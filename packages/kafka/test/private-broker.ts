import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const KAFKA_SH = fileURLToPath(new URL('../../../scripts/kafka.sh', import.meta.url));

/** A TCP port nothing listens on right now (the OS picks it). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A single-node Kafka of its own, started with scripts/kafka.sh in a temporary run directory on
 * free ports, so that a test can SIGKILL it without disturbing the shared broker on 9092 (which
 * other tests, and other people, use).
 */
export class PrivateBroker {
  #dir: string | null = null;
  #env: Record<string, string> = {};
  #bootstrap = '';

  /** `host:port` of its PLAINTEXT listener. */
  get bootstrap(): string {
    return this.#bootstrap;
  }

  /** Formats fresh storage and starts the broker; resolves once it serves requests. */
  async start(): Promise<void> {
    const [port, controllerPort] = [await freePort(), await freePort()];
    this.#dir = mkdtempSync(join(tmpdir(), 'msgport-kafka-test-'));
    this.#bootstrap = `127.0.0.1:${port}`;
    this.#env = {
      MSGPORT_KAFKA_RUN_DIR: join(this.#dir, 'run'),
      KAFKA_PORT: String(port),
      KAFKA_CONTROLLER_PORT: String(controllerPort),
      KAFKA_HEAP_OPTS: '-Xms256m -Xmx512m',
      // A restart after a SIGKILL does not wait ~15 s for the old registration to expire.
      KAFKA_EXTRA_PROPS: 'broker.session.timeout.ms=4000 broker.heartbeat.interval.ms=1000',
    };
    await this.#script('start');
  }

  /** SIGKILL: no clean shutdown; the data stays for {@link restart}. */
  kill(): Promise<void> {
    return this.#script('kill');
  }

  /** Starts it again on its data; resolves once it serves requests. */
  restart(): Promise<void> {
    return this.#script('start', { KAFKA_KEEP_DATA: '1' });
  }

  /** Stops the broker (if it runs) and removes its directory. */
  async destroy(): Promise<void> {
    if (this.#dir === null) return;
    await this.#script('stop').catch(() => undefined);
    rmSync(this.#dir, { recursive: true, force: true });
    this.#dir = null;
  }

  async #script(command: string, extra: Record<string, string> = {}): Promise<void> {
    try {
      await run('bash', [KAFKA_SH, command], { env: { ...process.env, ...this.#env, ...extra }, timeout: 120_000 });
    } catch (error) {
      const { stderr } = error as { stderr?: string };
      throw new Error(
        `scripts/kafka.sh ${command} failed for the private broker on ${this.#bootstrap}: ${stderr ?? String(error)}`,
        { cause: error },
      );
    }
  }
}
