import type { Scenario } from '../lib/types.js';
import { kafkaClientsScenario } from './kafka-clients.js';
import { kafkaConsumeScenario } from './kafka-consume.js';
import { kafkaGroupTopicsScenario } from './kafka-group-topics.js';
import { kafkaKeyParallelScenario } from './kafka-key-parallel.js';
import { kafkaPublishScenario } from './kafka-publish.js';
import { latencyScenario } from './latency.js';
import { memoryScenario } from './memory.js';
import { rabbitmqConsumeScenario } from './rabbitmq-consume.js';
import { rabbitmqInstancesScenario } from './rabbitmq-instances.js';
import { rabbitmqKeyParallelScenario } from './rabbitmq-key-parallel.js';
import { rabbitmqPublishScenario } from './rabbitmq-publish.js';
import { untypedScenario } from './untyped.js';

/** Every scenario, in the order they run. */
export const SCENARIOS: readonly Scenario[] = [
  memoryScenario,
  kafkaPublishScenario,
  kafkaConsumeScenario,
  kafkaKeyParallelScenario,
  kafkaGroupTopicsScenario,
  kafkaClientsScenario,
  rabbitmqPublishScenario,
  rabbitmqConsumeScenario,
  rabbitmqKeyParallelScenario,
  latencyScenario,
  rabbitmqInstancesScenario,
  untypedScenario,
];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
