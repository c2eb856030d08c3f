import type { MessageBrokerPort, MessageHandler } from '@msgport/core';
import { delay } from './deferred.js';

/**
 * Watches the handlers of several instances of one group for per-key order: values are
 * `<key>|<seq>`, published in `seq` order per key. A message must never run while another of its
 * key runs, and a new message must come after every earlier one of its key. A redelivery of a
 * message already handled (at-least-once) is ignored.
 */
export interface PerKeyOrder {
  /** The handler of instance `instance` (named in violations). */
  readonly handlerOf: (instance: number) => MessageHandler;
  /** `<key>|<seq>` of every message handled at least once. */
  readonly handled: ReadonlySet<string>;
  /** One line per message handled after a later one of its key. */
  readonly violations: readonly string[];
  /** How often a message started while another of its key ran. */
  readonly overlaps: number;
}

/** A {@link PerKeyOrder} whose handlers each take a random 0 to `maxDelayMs` ms. */
export function perKeyOrder(maxDelayMs: number): PerKeyOrder {
  const lastSeq = new Map<string, number>();
  const active = new Map<string, number>();
  const handled = new Set<string>();
  const violations: string[] = [];
  let overlaps = 0;
  return {
    handlerOf:
      (instance: number): MessageHandler =>
      async (message) => {
        const [key, seqText] = message.value.toString('utf8').split('|') as [string, string];
        const running = (active.get(key) ?? 0) + 1;
        active.set(key, running);
        if (running > 1) overlaps++;
        // Yield for a while so that a broker running two same-key messages at once is caught overlapping.
        await delay(Math.floor(Math.random() * (maxDelayMs + 1)));
        active.set(key, active.get(key)! - 1);
        const seq = Number(seqText);
        const id = `${key}|${seq}`;
        if (handled.has(id)) return;
        handled.add(id);
        if (seq < (lastSeq.get(key) ?? -1)) violations.push(`${key}: ${seq} after ${lastSeq.get(key)} (instance ${instance})`);
        else lastSeq.set(key, seq);
      },
    handled,
    violations,
    get overlaps() {
      return overlaps;
    },
  };
}

/**
 * Publishes `total` messages `<key>|<seq>` over `keys` keys (`key-0` …), in seq order per key, up to
 * `window` at a time, round-robin over `publishers`. With several publishers every round over the
 * keys is awaited before the next, so two publishes of one key never race on two connections.
 */
export async function publishKeyed(
  publishers: readonly MessageBrokerPort[],
  topic: string,
  options: { readonly total: number; readonly keys: number; readonly window: number },
): Promise<void> {
  const { total, keys, window: size } = options;
  const seqs = new Map<string, number>();
  let window: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const key = `key-${i % keys}`;
    const seq = seqs.get(key) ?? 0;
    seqs.set(key, seq + 1);
    window.push(publishers[i % publishers.length]!.publish(topic, `${key}|${seq}`, { key }));
    if (window.length >= size || (publishers.length > 1 && i % keys === keys - 1)) {
      await Promise.all(window);
      window = [];
    }
  }
  await Promise.all(window);
}
