import { appendFileSync, mkdirSync } from 'node:fs';
import { RESULTS_DIR, ROWS_FILE } from './paths.js';

/** One scenario's figures: a row of the per-broker tables in results/latest.md. */
export interface FigureRow {
  readonly scenario: string;
  readonly broker: 'kafka' | 'rabbitmq' | 'both';
  /** Publishes attempted. */
  readonly sent: number | null;
  /** Publishes that resolved (C2: durably accepted). */
  readonly confirmed: number | null;
  /** Distinct message ids handled at least once. */
  readonly received: number | null;
  /** Confirmed but never handled. Must be 0. */
  readonly lost: number | null;
  /** Handlings beyond the first of each id. */
  readonly duplicates: number | null;
  /** Scenario-specific; see `notes` for what it measures. */
  readonly recoverMs: number | null;
  readonly durationMs: number;
  readonly notes: string;
}

/**
 * Prints the row as one JSON line and appends it to results/latest.jsonl (rendered into
 * results/latest.md by the global teardown). Called BEFORE the scenario's assertions, so a failing
 * scenario still shows its figures.
 */
export function recordFigures(row: FigureRow): void {
  console.log(`reliability ${JSON.stringify(row)}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  appendFileSync(ROWS_FILE, `${JSON.stringify({ ...row, recordedAt: new Date().toISOString() })}\n`);
}
