import { randomBytes } from 'node:crypto';

/** The header that carries a message's identity (C11). Set on every publish unless the publisher set it. */
export const MESSAGE_ID_HEADER = 'msgport-message-id';

/** Random bytes fetched at once; one id takes 8 (the rest of its 16 bytes are time and counter). */
const POOL_SIZE = 8 * 512;
/** Largest value of the 12-bit counter in `rand_a`. */
const MAX_COUNTER = 0xfff;

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

let pool = randomBytes(POOL_SIZE);
let poolOffset = 0;
let lastMs = -1;
let counter = 0;

/**
 * Returns a new UUID version 7 (RFC 9562): 48 bits of Unix time in milliseconds, then a 12-bit
 * counter, then 62 random bits. Ids made by one process sort in creation order, also within one
 * millisecond (the counter starts at a random value below 2048 each millisecond and counts up; when
 * it runs out, the time is moved on by one millisecond, as RFC 9562 allows), and never go backwards
 * when the clock does.
 *
 * ```ts
 * createMessageId(); // '019ae4c8-5b1e-7a3c-9f12-8d0e6a4b2c7f'
 * ```
 */
export function createMessageId(): string {
  let ms = Date.now();
  if (ms > lastMs) {
    lastMs = ms;
    counter = nextRandomByte() | ((nextRandomByte() & 0x07) << 8);
  } else {
    // Same millisecond, or the clock went back: keep counting from the last id.
    ms = lastMs;
    if (++counter > MAX_COUNTER) {
      ms = ++lastMs;
      counter = 0;
    }
  }
  if (poolOffset + 8 > POOL_SIZE) refill();
  const r = pool;
  const o = poolOffset;
  poolOffset += 8;
  // 48-bit time: the high 16 bits and the low 32 bits.
  const high = Math.floor(ms / 0x1_0000_0000);
  const low = ms >>> 0;
  return (
    HEX[(high >>> 8) & 0xff]! +
    HEX[high & 0xff]! +
    HEX[low >>> 24]! +
    HEX[(low >>> 16) & 0xff]! +
    '-' +
    HEX[(low >>> 8) & 0xff]! +
    HEX[low & 0xff]! +
    '-' +
    HEX[0x70 | (counter >>> 8)]! +
    HEX[counter & 0xff]! +
    '-' +
    HEX[0x80 | (r[o]! & 0x3f)]! +
    HEX[r[o + 1]!]! +
    '-' +
    HEX[r[o + 2]!]! +
    HEX[r[o + 3]!]! +
    HEX[r[o + 4]!]! +
    HEX[r[o + 5]!]! +
    HEX[r[o + 6]!]! +
    HEX[r[o + 7]!]!
  );
}

function nextRandomByte(): number {
  if (poolOffset >= POOL_SIZE) refill();
  return pool[poolOffset++]!;
}

function refill(): void {
  pool = randomBytes(POOL_SIZE);
  poolOffset = 0;
}
