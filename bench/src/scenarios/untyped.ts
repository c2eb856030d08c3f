import { ensureReferenceBuild, REFERENCE_COMMIT, type Build } from '../lib/builds.js';
import type { Comparison, Measurement, RunInput, Scenario, ScenarioPlan, VariantSpec } from '../lib/types.js';
import { kafkaConsumeScenario } from './kafka-consume.js';
import { kafkaPublishScenario } from './kafka-publish.js';
import { memoryScenario } from './memory.js';
import { rabbitmqConsumeScenario } from './rabbitmq-consume.js';
import { rabbitmqPublishScenario } from './rabbitmq-publish.js';

/**
 * Issue 12's "untyped publish/consume does not regress": the msgport variants of the memory,
 * publish and consume scenarios, each run twice in the same bench run — on this checkout's
 * packages and on the packages as they were before issue 12 (typed topics, message ids, failure
 * control, per-subscription concurrency; {@link REFERENCE_COMMIT}, built from git by
 * lib/builds.ts). Same workloads, handlers and options as those scenarios; the ratio is this build
 * over the reference, run by run. The raw clients' own cost of the message-id header (raw with it /
 * raw without, from the publish scenarios) is measured beside them. Only when named (`--scenario untyped`): it adds nothing to what
 * the other scenarios say about the raw clients.
 */
interface Part {
  readonly scenario: Scenario;
  /** Short name, in variant ids (and so in topic and group names). */
  readonly tag: string;
  /** The scenario's msgport variants that run here, as they are or with other params. */
  readonly variants: readonly VariantChoice[];
  /**
   * The scenario's comparisons of raw clients that run here as they are (both of their variants
   * too): what the message-id header costs the raw client itself, in the same run.
   */
  readonly raw?: readonly string[];
}

/** A variant of the part's scenario: its id, or its id with other params under a new id and label. */
type VariantChoice =
  | string
  | { readonly id: string; readonly as: string; readonly label: string; readonly params: Readonly<Record<string, unknown>> };

const PARTS: readonly Part[] = [
  {
    scenario: memoryScenario,
    tag: 'mem',
    variants: [
      'msgport-seq',
      'msgport-async-seq',
      'msgport-async-batch',
      // The default options differ between the builds: the record of published messages was
      // unbounded before issue 12 and keeps the last 1,000 now, which alone makes the default
      // rows faster. Without the record both builds do the same work.
      {
        id: 'msgport-async-seq',
        as: 'msgport-async-seq-norecord',
        label: 'msgport memory, async handlers, sequential awaited, recordPublished: false',
        params: { recordPublished: false },
      },
    ],
  },
  {
    scenario: kafkaPublishScenario,
    tag: 'kp',
    variants: ['msgport-seq', 'msgport-conc'],
    raw: ['kafka-publish-id-header-cost'],
  },
  { scenario: kafkaConsumeScenario, tag: 'kc', variants: ['msgport'] },
  {
    scenario: rabbitmqPublishScenario,
    tag: 'rp',
    variants: ['msgport-seq', 'msgport-conc'],
    raw: ['rabbitmq-publish-id-header-cost'],
  },
  { scenario: rabbitmqConsumeScenario, tag: 'rc', variants: ['msgport'] },
];

const REFERENCE = REFERENCE_COMMIT.slice(0, 7);

/** What a variant of this scenario carries besides its part's own params. */
interface Routing {
  readonly part: string;
  readonly build: Build;
}

export const untypedScenario: Scenario = {
  name: 'untyped',
  title: `Untyped publish/consume: this build vs the build before issue 12 (${REFERENCE})`,
  optIn: true,
  runs: { full: 5, quick: 3 },
  async unavailable(variant?: VariantSpec) {
    if (variant === undefined) return null;
    return partOf(variant).scenario.unavailable();
  },
  async prepare(options): Promise<ScenarioPlan> {
    await ensureReferenceBuild(options.log);
    const variants: VariantSpec[] = [];
    const comparisons: Comparison[] = [];
    const context: Record<string, unknown> = {};
    const cleanups: Array<() => Promise<void>> = [];
    const workloads: string[] = [];
    try {
      for (const part of PARTS) {
        if ((await part.scenario.unavailable()) !== null) continue;
        // Prepared once per build, so that each build's variants keep their ids and find what
        // the scenario made for them (pre-created topics, pre-filled queues) under its own names.
        const plan = await part.scenario.prepare({ ...options, prefix: `${options.prefix}-${part.tag}` });
        cleanups.push(() => plan.cleanup());
        const referencePlan = await part.scenario.prepare({ ...options, prefix: `${options.prefix}-${part.tag}r` });
        cleanups.push(() => referencePlan.cleanup());
        context[contextKey(part, 'this')] = plan.context;
        context[contextKey(part, 'reference')] = referencePlan.context;
        workloads.push(`${part.scenario.name}: ${plan.workload}`);
        for (const choice of part.variants) {
          const chosen = typeof choice === 'string' ? { id: choice, as: choice, params: {} } : choice;
          const found = plan.variants.find((v) => v.id === chosen.id);
          if (found === undefined) continue; // not in a quick plan
          const original = typeof choice === 'string' ? found : { ...found, label: choice.label };
          const ours = `${part.tag}-${chosen.as}`;
          const theirs = `${ours}-ref`;
          const routed = (build: Build): Record<string, unknown> => ({
            ...original.params,
            ...chosen.params,
            part: part.scenario.name,
            build,
          });
          variants.push(
            { ...original, id: ours, label: `${original.label} (this build)`, role: 'msgport', params: routed('this') },
            {
              ...original,
              id: theirs,
              label: `${original.label} (before issue 12)`,
              role: 'baseline',
              params: routed('reference'),
            },
          );
          comparisons.push({
            id: `untyped-${ours}`,
            label: `${original.label}: this build / before issue 12`,
            subject: ours,
            baseline: theirs,
            metric: 'rate',
            target: { min: 0.95, text: '≥ 0.95× (no regression beyond noise)' },
          });
        }
        for (const id of part.raw ?? []) {
          const comparison = plan.comparisons.find((c) => c.id === id);
          if (comparison === undefined) continue;
          for (const variantId of [comparison.subject, comparison.baseline]) {
            const original = plan.variants.find((v) => v.id === variantId)!;
            const ours = `${part.tag}-${variantId}`;
            if (variants.some((v) => v.id === ours)) continue;
            variants.push({ ...original, id: ours, params: { ...original.params, part: part.scenario.name, build: 'this' } });
          }
          const { target: _target, ...rest } = comparison;
          comparisons.push({
            ...rest,
            id: `untyped-${id}`,
            subject: `${part.tag}-${comparison.subject}`,
            baseline: `${part.tag}-${comparison.baseline}`,
          });
        }
      }
    } catch (error) {
      for (const cleanup of cleanups) await cleanup();
      throw error;
    }
    return {
      workload: `as in each scenario, on this build and on ${REFERENCE} (built from git); ${workloads.join('; ')}`,
      variants,
      comparisons,
      context,
      cleanup: async () => {
        for (const cleanup of cleanups) await cleanup();
      },
    };
  },
  run(input: RunInput): Promise<Measurement> {
    const part = partOf(input.variant);
    const { build } = input.variant.params as unknown as Routing;
    return part.scenario.run({
      ...input,
      // The part's own id: it names the topics, queues and groups the part prepared.
      variant: { ...input.variant, id: input.variant.id.slice(part.tag.length + 1).replace(/-ref$/, '') },
      context: input.context[contextKey(part, build)] as Record<string, unknown>,
    });
  },
};

function contextKey(part: Part, build: Build): string {
  return `${part.scenario.name}:${build}`;
}

function partOf(variant: VariantSpec): Part {
  const name = (variant.params as unknown as Routing).part;
  const part = PARTS.find((p) => p.scenario.name === name);
  if (part === undefined) throw new Error(`untyped: no part named ${String(name)} (variant ${variant.id})`);
  return part;
}
