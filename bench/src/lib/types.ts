/** Who a variant stands for in a comparison. */
export type Role = 'msgport' | 'baseline' | 'ceiling';

/** One thing that is measured once per run: msgport in one mode, or one baseline. */
export interface VariantSpec {
  /** Unique within the scenario, e.g. `msgport-seq`. */
  readonly id: string;
  /** Shown in the table, e.g. `msgport, sequential awaited`. */
  readonly label: string;
  readonly role: Role;
  /** `child`: a fresh Node process per run (peak RSS measured); `parent`: a Java tool started by the parent. */
  readonly where: 'child' | 'parent';
  /** JSON-serialisable settings handed to the variant. */
  readonly params: Readonly<Record<string, unknown>>;
  /** `duration`: the table shows the time of one run (1 / rate) instead of a rate. @default 'rate' */
  readonly figure?: 'rate' | 'duration';
  /**
   * Which Node runs a `child` variant: the one running the bench, or Node 24 (tools/node24, the
   * binary the test matrix uses; `--node24` runs every child variant on it). @default 'current'
   */
  readonly node?: 'current' | '24';
}

/** What one run of one variant measured. */
export interface Measurement {
  /** Messages counted in the timed part. */
  readonly messages: number;
  /** Length of the timed part. */
  readonly seconds: number;
  /** messages / seconds. */
  readonly rate: number;
  /** End-to-end latency percentiles (latency scenario only). */
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly maxMs?: number;
  /** Peak resident set size of the process that ran the variant, in KiB. */
  readonly maxRssKiB?: number;
  /** Anything else worth keeping in the JSON (batch counts, rebalance time …). */
  readonly extra?: Readonly<Record<string, number | string>>;
}

/** Which measurement a comparison divides. */
export type Metric = 'rate' | 'p50Ms' | 'p99Ms';

/** A ratio `subject / baseline`, taken run by run (both measured in the same run). */
export interface Comparison {
  readonly id: string;
  readonly label: string;
  readonly subject: string;
  readonly baseline: string;
  readonly metric: Metric;
  /** The ratio the issue asks for, when it asks for one. */
  readonly target?: { readonly min: number; readonly text: string };
}

/** A target on one variant's own figure (e.g. at least 1,000,000 msg/s). */
export interface AbsoluteTarget {
  readonly label: string;
  readonly variant: string;
  readonly metric: Metric;
  readonly min: number;
  readonly text: string;
}

/** What a scenario's `prepare` returns: what to run, what to compare, and how to clean up. */
export interface ScenarioPlan {
  /** One-line description of the workload (sizes included), for the table. */
  readonly workload: string;
  readonly variants: readonly VariantSpec[];
  readonly comparisons: readonly Comparison[];
  readonly absoluteTargets?: readonly AbsoluteTarget[];
  /** JSON-serialisable facts every variant run receives (names of pre-filled topics …). */
  readonly context: Readonly<Record<string, unknown>>;
  /** Deletes everything the scenario created (idempotent, never throws). */
  cleanup(): Promise<void>;
}

export interface PrepareOptions {
  readonly quick: boolean;
  /** How many runs will be made (for cleanups that enumerate per-run names). */
  readonly runs: number;
  /** Unique per invocation; every topic, queue, exchange and group name starts with it. */
  readonly prefix: string;
  readonly log: (line: string) => void;
}

/** What a variant run receives. */
export interface RunInput {
  readonly variant: VariantSpec;
  readonly context: Readonly<Record<string, unknown>>;
  /** 0-based run number; used to make per-run names unique. */
  readonly run: number;
  readonly log: (line: string) => void;
}

export interface Scenario {
  readonly name: string;
  readonly title: string;
  /** Not run by default (only when named with --scenario). */
  readonly optIn?: boolean;
  /** Runs without --runs: `full` by default, `quick` with --quick. @default { full: 5, quick: 2 } */
  readonly runs?: { readonly full: number; readonly quick: number };
  /**
   * Why the scenario (or, given one, that variant) cannot run now — a broker is down — or `null`.
   * The runner waits a while for it before skipping, and before retrying a failed run.
   */
  unavailable(variant?: VariantSpec): Promise<string | null>;
  prepare(options: PrepareOptions): Promise<ScenarioPlan>;
  /** Runs one variant once; called in a child process for `where: 'child'`, in the parent otherwise. */
  run(input: RunInput): Promise<Measurement>;
}
