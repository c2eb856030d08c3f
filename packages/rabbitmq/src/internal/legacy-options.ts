import { InvalidArgumentError } from '@msgport/core';
import { describeValue, type ConsumerSpec } from '@msgport/core/adapter';
import type { RabbitMQLegacyPhase, RabbitMQLegacyQueue } from '../rabbitmq-adapter-options.js';

// The `legacyQueues` option (see legacy-queue.ts for what it does).

/** The legacy queues of the adapter, by (topic, group). */
export type LegacyQueues = ReadonlyMap<string, Readonly<Required<RabbitMQLegacyQueue>>>;

const PHASES: ReadonlySet<string> = new Set<RabbitMQLegacyPhase>(['share', 'switch']);
function keyOf(topic: string, group: string): string {
  return `${topic}\u0000${group}`;
}

/**
 * Validates the `legacyQueues` option.
 * @throws {InvalidArgumentError} for a malformed entry or two entries for one (topic, group).
 */
export function resolveLegacyQueues(value: readonly RabbitMQLegacyQueue[] | undefined): LegacyQueues {
  const queues = new Map<string, Readonly<Required<RabbitMQLegacyQueue>>>();
  if (value === undefined) return queues;
  if (!Array.isArray(value)) {
    throw new InvalidArgumentError(`RabbitMQAdapter: legacyQueues must be an array, got ${describeValue(value)}.`);
  }
  for (const [index, entry] of (value as unknown[]).entries()) {
    const where = `RabbitMQAdapter: legacyQueues[${index}]`;
    if (typeof entry !== 'object' || entry === null) {
      throw new InvalidArgumentError(`${where} must be { topic, group, queue, phase }, got ${describeValue(entry)}.`);
    }
    const { topic, group, queue, phase, deleteWhenDrained = false } = entry as Partial<RabbitMQLegacyQueue>;
    for (const [name, field] of Object.entries({ topic, group, queue })) {
      if (typeof field !== 'string' || field === '') {
        throw new InvalidArgumentError(`${where}.${name} must be a non-empty string, got ${describeValue(field)}.`);
      }
    }
    if (typeof phase !== 'string' || !PHASES.has(phase)) {
      throw new InvalidArgumentError(`${where}.phase must be 'share' or 'switch', got ${describeValue(phase)}.`);
    }
    if (typeof deleteWhenDrained !== 'boolean') {
      throw new InvalidArgumentError(`${where}.deleteWhenDrained must be a boolean, got ${describeValue(deleteWhenDrained)}.`);
    }
    const key = keyOf(topic!, group!);
    if (queues.has(key)) {
      throw new InvalidArgumentError(`${where}: topic "${topic}" in group "${group}" has a legacy queue already.`);
    }
    queues.set(key, Object.freeze({ topic: topic!, group: group!, queue: queue!, phase, deleteWhenDrained }));
  }
  return queues;
}

/** The legacy queue configured for `spec`'s (topic, group), if any. */
export function legacyQueueFor(
  settings: { readonly legacyQueues: LegacyQueues },
  spec: ConsumerSpec,
): Required<RabbitMQLegacyQueue> | null {
  if (spec.group === null) return null;
  return settings.legacyQueues.get(keyOf(spec.topic, spec.group)) ?? null;
}
