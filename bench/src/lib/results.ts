import { spread, type Spread } from './stats.js';
import type { AbsoluteTarget, Comparison, Measurement, Metric, Role } from './types.js';

/** A failed run of a variant. */
export interface Failure {
  readonly error: string;
}

export type RunOutcome = Measurement | Failure;

export const isFailure = (outcome: RunOutcome | undefined): outcome is Failure => outcome !== undefined && 'error' in outcome;

export interface VariantResult {
  readonly id: string;
  readonly label: string;
  readonly role: Role;
  readonly figure?: 'rate' | 'duration';
  /** One entry per run, in run order. */
  readonly runs: RunOutcome[];
  readonly rate: Spread;
  readonly p50Ms?: Spread;
  readonly p99Ms?: Spread;
  readonly maxRssMiB: Spread;
}

export interface ComparisonResult extends Comparison {
  /** subject / baseline of each run where both succeeded. */
  readonly ratios: number[];
  readonly ratio: Spread;
  /** Whether the median ratio meets the target (undefined when there is none or no data). */
  readonly met?: boolean;
}

export interface AbsoluteTargetResult extends AbsoluteTarget {
  readonly value: Spread;
  readonly met?: boolean;
}

export interface ScenarioResult {
  readonly name: string;
  readonly title: string;
  readonly workload?: string;
  readonly runs: number;
  readonly skipped?: string;
  readonly seconds: number;
  readonly variants: VariantResult[];
  readonly comparisons: ComparisonResult[];
  readonly absoluteTargets: AbsoluteTargetResult[];
}

export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
  readonly kafka?: string;
  readonly rabbitmq?: string;
}

export interface BenchResults {
  readonly startedAt: string;
  readonly seconds: number;
  readonly command: string;
  readonly quick: boolean;
  readonly machine: MachineInfo;
  readonly scenarios: ScenarioResult[];
}

function metricOf(outcome: RunOutcome | undefined, metric: Metric): number | undefined {
  if (outcome === undefined || isFailure(outcome)) return undefined;
  const value = outcome[metric];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function summarizeVariant(
  id: string,
  label: string,
  role: Role,
  runs: RunOutcome[],
  figure: 'rate' | 'duration' = 'rate',
): VariantResult {
  const ok = runs.filter((r): r is Measurement => !isFailure(r));
  const p50 = ok.map((r) => r.p50Ms).filter((v): v is number => v !== undefined);
  const p99 = ok.map((r) => r.p99Ms).filter((v): v is number => v !== undefined);
  return {
    id,
    label,
    role,
    ...(figure === 'rate' ? {} : { figure }),
    runs,
    rate: spread(ok.map((r) => r.rate)),
    ...(p50.length > 0 ? { p50Ms: spread(p50) } : {}),
    ...(p99.length > 0 ? { p99Ms: spread(p99) } : {}),
    maxRssMiB: spread(
      ok
        .map((r) => r.maxRssKiB)
        .filter((v): v is number => v !== undefined)
        .map((kib) => kib / 1024),
    ),
  };
}

export function summarizeComparison(comparison: Comparison, variants: readonly VariantResult[]): ComparisonResult {
  const subject = variants.find((v) => v.id === comparison.subject);
  const baseline = variants.find((v) => v.id === comparison.baseline);
  const ratios: number[] = [];
  if (subject !== undefined && baseline !== undefined) {
    for (let run = 0; run < Math.min(subject.runs.length, baseline.runs.length); run++) {
      const s = metricOf(subject.runs[run], comparison.metric);
      const b = metricOf(baseline.runs[run], comparison.metric);
      if (s !== undefined && b !== undefined && b > 0) ratios.push(s / b);
    }
  }
  const ratio = spread(ratios);
  const met = comparison.target === undefined || ratio.n === 0 ? undefined : ratio.median >= comparison.target.min;
  return { ...comparison, ratios, ratio, ...(met === undefined ? {} : { met }) };
}

export function summarizeAbsolute(target: AbsoluteTarget, variants: readonly VariantResult[]): AbsoluteTargetResult {
  const variant = variants.find((v) => v.id === target.variant);
  const values = (variant?.runs ?? []).map((r) => metricOf(r, target.metric)).filter((v): v is number => v !== undefined);
  const value = spread(values);
  return { ...target, value, ...(value.n === 0 ? {} : { met: value.median >= target.min }) };
}
