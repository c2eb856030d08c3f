import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The repository root. */
export const ROOT = join(here, '..', '..', '..');
/** The child applications. */
export const APP_DIR = join(here, '..', 'app');
/** Where the suite writes its figures. */
export const RESULTS_DIR = join(here, '..', 'results');
/** One JSON row per scenario of the current run (reset by the global setup). */
export const ROWS_FILE = join(RESULTS_DIR, 'latest.jsonl');

/** The brokers under test; the local defaults match scripts/kafka.sh and the RabbitMQ package. */
export const KAFKA_BROKERS = process.env['MSGPORT_KAFKA_BROKERS'] ?? '127.0.0.1:9092';
export const RABBITMQ_URL = process.env['MSGPORT_RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672/';
