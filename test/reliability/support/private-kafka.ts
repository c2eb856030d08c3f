import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './paths.js';

const run = promisify(execFile);
const KAFKA_SH = join(ROOT, 'scripts', 'kafka.sh');

export interface PrivateKafkaOptions {
  /** Base port: base = PLAINTEXT listener, base+1 = controller, base+2 = SASL_PLAINTEXT listener (when `sasl`). */
  readonly basePort: number;
  /** A SASL_PLAINTEXT listener (mechanism PLAIN) with this one user. */
  readonly sasl?: { readonly user: string; readonly password: string };
}

/**
 * A private single-node Kafka started with scripts/kafka.sh in a run directory of its own, on
 * ports of its own: scenarios kill and restart it without disturbing the shared broker on 9092
 * (and the tests of others that use it). Optionally with a SASL_PLAINTEXT listener.
 */
export class PrivateKafka {
  /** The PLAINTEXT listener. */
  readonly bootstrap: string;
  /** The SASL_PLAINTEXT listener, when configured. */
  readonly saslBootstrap: string;
  readonly #dir: string;
  readonly #env: Record<string, string>;

  constructor(options: PrivateKafkaOptions) {
    this.#dir = mkdtempSync(join(tmpdir(), 'msgport-rel-kafka-'));
    const plaintext = options.basePort;
    const controller = options.basePort + 1;
    const saslPort = options.basePort + 2;
    this.bootstrap = `127.0.0.1:${plaintext}`;
    this.saslBootstrap = `127.0.0.1:${saslPort}`;
    // Restarts after a SIGKILL do not wait ~15 s for the old registration to expire.
    const props = ['broker.session.timeout.ms=4000', 'broker.heartbeat.interval.ms=1000'];
    let jvmOptions = '';
    if (options.sasl !== undefined) {
      const jaas = join(this.#dir, 'jaas.conf');
      const quoted = options.sasl.password.replaceAll('\\', '\\\\').replaceAll('"', '\\"');
      writeFileSync(
        jaas,
        `KafkaServer {\n  org.apache.kafka.common.security.plain.PlainLoginModule required\n  user_${options.sasl.user}="${quoted}";\n};\n`,
        { mode: 0o600 },
      );
      jvmOptions = `-Djava.security.auth.login.config=${jaas}`;
      const listeners = `PLAINTEXT://127.0.0.1:${plaintext},SASL_PLAINTEXT://127.0.0.1:${saslPort},CONTROLLER://127.0.0.1:${controller}`;
      props.push(
        `listeners=${listeners}`,
        `advertised.listeners=${listeners}`,
        'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT',
        'sasl.enabled.mechanisms=PLAIN',
      );
    }
    this.#env = {
      MSGPORT_KAFKA_RUN_DIR: join(this.#dir, 'run'),
      KAFKA_PORT: String(plaintext),
      KAFKA_CONTROLLER_PORT: String(controller),
      KAFKA_HEAP_OPTS: '-Xms256m -Xmx512m',
      KAFKA_JVM_OPTS: jvmOptions,
      KAFKA_EXTRA_PROPS: props.join(' '),
    };
  }

  async #script(command: string, extra: Record<string, string> = {}): Promise<void> {
    await run('bash', [KAFKA_SH, command], { env: { ...process.env, ...this.#env, ...extra }, timeout: 180_000 });
  }

  start(): Promise<void> {
    return this.#script('start');
  }

  /** SIGKILL (data stays). */
  kill(): Promise<void> {
    return this.#script('kill');
  }

  /** Starts it again on its data; resolves once it serves requests. */
  restart(): Promise<void> {
    return this.#script('start', { KAFKA_KEEP_DATA: '1' });
  }

  /** Stops the broker and removes its directory (data, logs, the JAAS file). */
  async destroy(): Promise<void> {
    await this.#script('stop').catch(() => undefined);
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
