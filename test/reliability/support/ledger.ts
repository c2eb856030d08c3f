import type { AppEvent, AppProcess } from './app-process.js';

export interface Handling {
  readonly id: number;
  readonly app: string;
  readonly at: number;
  readonly partition?: number;
  readonly redelivered: boolean;
}

/**
 * What every application instance of a scenario reported, in one place: which publishes were
 * confirmed or rejected, and which message ids were handled by whom, how often.
 */
export class Ledger {
  readonly confirmed = new Set<number>();
  readonly rejected = new Map<number, AppEvent>();
  /** id → number of successful handlings, across every instance. */
  readonly handled = new Map<number, number>();
  readonly handlings: Handling[] = [];
  /** Poison refusals (handler threw on purpose): id → attempts seen. */
  readonly refused = new Map<number, number>();
  firstConfirmAt: number | null = null;
  lastConfirmAt: number | null = null;

  /** Records the events of `app` (those already received and every later one). */
  attach(app: AppProcess): void {
    app.onEvent((event) => this.#record(app.name, event));
  }

  get handledEvents(): number {
    return this.handlings.length;
  }

  /** Distinct ids handled at least once. */
  get received(): number {
    return this.handled.size;
  }

  /** Handlings beyond the first of each id. */
  get duplicates(): number {
    return this.handlings.length - this.handled.size;
  }

  /** Confirmed ids that no instance handled. */
  lost(exclude: (id: number) => boolean = () => false): number[] {
    return [...this.confirmed].filter((id) => !exclude(id) && !this.handled.has(id)).sort((a, b) => a - b);
  }

  /** Ids handled more than once, with the instances that handled them. */
  duplicated(): Array<{ id: number; by: string[] }> {
    const by = new Map<number, string[]>();
    for (const handling of this.handlings) {
      if ((this.handled.get(handling.id) ?? 0) > 1) by.set(handling.id, [...(by.get(handling.id) ?? []), handling.app]);
    }
    return [...by.entries()].map(([id, apps]) => ({ id, by: apps }));
  }

  /** Rejected publishes that were delivered anyway (allowed: the broker may have stored them). */
  get rejectedButDelivered(): number {
    return [...this.rejected.keys()].filter((id) => this.handled.has(id)).length;
  }

  /** Longest pause between two consecutive handlings (from the first to the last). */
  maxGapMs(from = 0): number {
    const times = this.handlings
      .map((handling) => handling.at)
      .filter((at) => at >= from)
      .sort((a, b) => a - b);
    let gap = 0;
    for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
    return gap;
  }

  #record(app: string, event: AppEvent): void {
    switch (event.e) {
      case 'c':
        this.confirmed.add(event.id!);
        this.firstConfirmAt ??= event.at;
        this.lastConfirmAt = event.at;
        break;
      case 'f':
        this.rejected.set(event.id!, event);
        break;
      case 'h': {
        const id = event.id!;
        this.handled.set(id, (this.handled.get(id) ?? 0) + 1);
        this.handlings.push({
          id,
          app,
          at: event.at,
          ...(typeof event['p'] === 'number' ? { partition: event['p'] } : {}),
          redelivered: event['r'] === 1,
        });
        break;
      }
      case 'x':
        this.refused.set(event.id!, (this.refused.get(event.id!) ?? 0) + 1);
        break;
      default:
        break;
    }
  }
}

/** Summarizes rejected publishes by code, e.g. `PUBLISH_TIMEOUT×12`. */
export function rejectionSummary(ledger: Ledger): string {
  const codes = new Map<string, number>();
  for (const event of ledger.rejected.values()) {
    const code = describeCode(event['code'] ?? event['name']);
    codes.set(code, (codes.get(code) ?? 0) + 1);
  }
  return [...codes.entries()].map(([code, count]) => `${code}×${count}`).join(', ');
}

/** An error code or name from the ledger as text (a code that is not a string is shown as JSON). */
function describeCode(code: unknown): string {
  if (code === undefined || code === null) return 'unknown';
  return typeof code === 'string' ? code : JSON.stringify(code);
}
