import { randomBytes } from 'node:crypto';

/** The header that carries a message's identity (C11). Set on every publish unless the publisher set it. */
export const MESSAGE_ID_HEADER = 'msgport-message-id';

/** Random bytes fetched at once, kept as hex; each millisecond with ids takes 19 hex digits of it. */
const POOL_BYTES = 4_096;
/** Largest value of the 12-bit counter in `rand_a`. */
const MAX_COUNTER = 0xfff;
/** The counter as 3 hex digits, for each of its values. */
const COUNTER_HEX: readonly string[] = Array.from({ length: MAX_COUNTER + 1 }, (_, i) => i.toString(16).padStart(3, '0'));
/** The variant digit (binary 10xx) for the char code of a random hex digit (its low 2 bits kept). */
const VARIANT: readonly string[] = (() => {
  const table: string[] = [];
  for (const digit of '0123456789abcdef') table[digit.charCodeAt(0)] = '89ab'[parseInt(digit, 16) & 3]!;
  return table;
})();

/** At most this many ids share one clock reading, however busy the event loop is. */
const IDS_PER_READING = 16;
/** How long a clock reading may be shared, in event-loop time (a timer ends it). */
const READING_LIFETIME_MS = 1;
/** Node's own `setTimeout`, taken before a test framework can replace it with fake timers. */
const schedule = globalThis.setTimeout;

let reading = 0;
/** Ids that may still use `reading` without reading the clock again. */
let readingUses = 0;
/** The timer that ends the current reading's lifetime, while it is pending. */
let expiry: ReturnType<typeof setTimeout> | undefined;

let pool = '';
let poolOffset = 0;
let lastMs = -1;
let counter = 0;
/** `tttttttt-tttt-7` for `lastMs`: the time part changes once per millisecond at most. */
let prefix = '';
/** `-vxxx-xxxxxxxxxxxx`: the 62 random bits of `rand_b` (with the variant), drawn with `prefix`. */
let suffix = '';

/**
 * Returns a new UUID version 7 (RFC 9562): 48 bits of Unix time in milliseconds, a 12-bit counter
 * (`rand_a`), then 62 random bits (`rand_b`, from `crypto.randomBytes`). Ids made by one process
 * sort in creation order, also within one millisecond: the counter starts at a random value below
 * 2048 each millisecond and counts up; when it runs out, the time is moved on by one millisecond,
 * as RFC 9562 allows, and ids never go backwards when the clock does. `rand_b` is drawn afresh
 * whenever the time part changes (RFC 9562's "monotonic random" method with the counter as the
 * increment): ids of one process within one millisecond differ in their counter, ids of two
 * processes in their random bits.
 *
 * Reading the clock is the largest part of an id's cost (about 80 ns on a virtual machine, 2–4
 * times the rest), so ids made in quick succession share one reading (RFC 9562 lets an
 * implementation trade timestamp precision for speed): a reading serves at most 16 ids and for at
 * most 1 ms of event-loop time (an unreferenced timer ends it). An id made after a pause always
 * has the current time; under load, its time part may lag the clock by about a millisecond (more
 * when the event loop runs its timers late), never by more than the 15 ids before it took to make.
 *
 * ```ts
 * createMessageId(); // '019ae4c8-5b1e-7a3c-9f12-8d0e6a4b2c7f'
 * ```
 */
export function createMessageId(): string {
  const ms = readingUses-- > 0 ? reading : readClock();
  if (ms > lastMs) {
    lastMs = ms;
    newTimePart(ms, true);
  } else if (++counter > MAX_COUNTER) {
    // Same millisecond (or the clock went back) and the counter ran out: move the time on.
    newTimePart(++lastMs, false);
  }
  return prefix + COUNTER_HEX[counter]! + suffix;
}

/** Reads the clock; the next {@link IDS_PER_READING} - 1 ids may share the reading until its timer ends it. */
function readClock(): number {
  reading = Date.now();
  readingUses = IDS_PER_READING - 1;
  if (expiry === undefined) {
    expiry = schedule(endReading, READING_LIFETIME_MS);
    // Never keeps a process alive.
    expiry.unref();
  }
  return reading;
}

function endReading(): void {
  expiry = undefined;
  readingUses = 0;
}

/** Starts the ids of millisecond `ms`: its time part, new random bits, the counter's start. */
function newTimePart(ms: number, randomCounter: boolean): void {
  const at = take(19);
  counter = randomCounter ? parseInt(pool.slice(at, at + 3), 16) & 0x7ff : 0;
  const hex = ms.toString(16).padStart(12, '0');
  prefix = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7`;
  suffix = `-${VARIANT[pool.charCodeAt(at + 3)]!}${pool.slice(at + 4, at + 7)}-${pool.slice(at + 7, at + 19)}`;
}

/** Reserves `digits` hex digits of the random pool and returns where they start. */
function take(digits: number): number {
  if (poolOffset + digits > pool.length) {
    pool = randomBytes(POOL_BYTES).toString('hex');
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += digits;
  return at;
}
