import { InvalidArgumentError } from './errors/invalid-argument-error.js';
import { describe } from './message.js';

/**
 * Legal topic and group names: 1–249 characters from `A–Z a–z 0–9 . _ -`. This is Kafka's rule,
 * applied on every adapter so that an application never depends on names only one broker accepts.
 */
export const NAME_PATTERN = /^[A-Za-z0-9._-]{1,249}$/;

/**
 * Names that are legal for Kafka but name a property of every JavaScript object (`toString`,
 * `constructor`, `__proto__`, `valueOf`, …). kafkajs keeps per-topic state in plain objects, so a
 * topic with one of these names fails deep inside it (a publish retries until `publishTimeoutMs`,
 * a consumer crashes); refused on every adapter, for the same reason as {@link NAME_PATTERN}.
 */
const OBJECT_PROPERTY_NAMES: ReadonlySet<string> = new Set(
  Object.getOwnPropertyNames(Object.prototype).filter((name) => NAME_PATTERN.test(name)),
);

/**
 * @throws {InvalidArgumentError} when `topic` is not a legal topic name.
 */
export function assertTopic(topic: unknown, operation: string): asserts topic is string {
  if (typeof topic !== 'string' || !NAME_PATTERN.test(topic) || topic === '.' || topic === '..') {
    throw new InvalidArgumentError(
      `Cannot ${operation}: invalid topic ${typeof topic === 'string' ? JSON.stringify(topic) : describe(topic)}. ` +
        `Use 1-249 characters from A-Z, a-z, 0-9, ".", "_" and "-" (not "." or "..").`,
    );
  }
  if (OBJECT_PROPERTY_NAMES.has(topic)) {
    throw new InvalidArgumentError(
      `Cannot ${operation}: invalid topic ${JSON.stringify(topic)}: it is the name of a property every JavaScript ` +
        'object has, and the Kafka client (kafkajs) keeps per-topic state in plain objects, where such a topic breaks ' +
        'it. msgport refuses these names on every adapter; choose another topic name.',
    );
  }
}

/**
 * @throws {InvalidArgumentError} when `group` is not a legal group name.
 */
export function assertGroup(group: unknown, topic: string): asserts group is string {
  if (typeof group !== 'string' || !NAME_PATTERN.test(group)) {
    throw new InvalidArgumentError(
      `Cannot subscribe to "${topic}": invalid group ${typeof group === 'string' ? JSON.stringify(group) : describe(group)}. ` +
        `Use 1-249 characters from A-Z, a-z, 0-9, ".", "_" and "-", or omit the group for broadcast.`,
    );
  }
}
