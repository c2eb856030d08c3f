import { describe, expect, it, jest } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMessage, createMessageId, MESSAGE_ID_HEADER } from '@msgport/core';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('createMessageId()', () => {
  it('returns UUID v7 strings whose first 48 bits are the current Unix time in milliseconds', async () => {
    createMessageId();
    // After a pause (an earlier clock reading's 1 ms lifetime is over) an id reads the clock.
    await sleep(5);
    const before = Date.now();
    const id = createMessageId();
    const after = Date.now();
    expect(id).toMatch(UUID_V7);
    const ms = parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(after + 1);
  });

  it('returns unique ids that sort in creation order, also many within one millisecond', () => {
    const ids = Array.from({ length: 5_000 }, () => createMessageId());
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it('shares a clock reading among at most 16 ids made in quick succession, and reads it again after a pause', async () => {
    await sleep(5);
    let time = 5_000_000_000_000;
    const now = jest.spyOn(Date, 'now').mockImplementation(() => (time += 7));
    try {
      // A busy loop that never yields: the timer that ends a reading cannot run.
      const ids = Array.from({ length: 160 }, () => createMessageId());
      expect(now).toHaveBeenCalledTimes(10);
      const times = ids.map((id) => parseInt(id.slice(0, 8) + id.slice(9, 13), 16));
      expect(new Set(times).size).toBe(10);
      expect(times[0]).toBe(5_000_000_000_007);
      expect(times[15]).toBe(5_000_000_000_007);
      expect(times[16]).toBe(5_000_000_000_014);
      expect([...ids].sort()).toEqual(ids);
      // The event loop got to its timers: the next id reads the clock, though 15 uses were left.
      createMessageId();
      now.mockClear();
      await sleep(5);
      const later = createMessageId();
      expect(now).toHaveBeenCalledTimes(1);
      expect(parseInt(later.slice(0, 8) + later.slice(9, 13), 16)).toBe(time);
    } finally {
      now.mockRestore();
    }
  });

  it('keeps counting up when the clock stands still or goes back, moving the time on when the counter runs out', async () => {
    await sleep(5);
    const now = jest.spyOn(Date, 'now');
    try {
      now.mockReturnValue(4_000_000_000_000);
      const ids = Array.from({ length: 5_000 }, () => createMessageId()); // more than the 12-bit counter holds
      now.mockReturnValue(3_000_000_000_000); // the clock went back
      ids.push(createMessageId(), createMessageId());
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort()).toEqual(ids);
      for (const id of ids) expect(id).toMatch(UUID_V7);
    } finally {
      now.mockRestore();
    }
  });
});

describe('Message.id', () => {
  it('is the msgport-message-id header of a created message, and absent without it', () => {
    expect(createMessage({ topic: 't', value: 'v', headers: { [MESSAGE_ID_HEADER]: 'abc' } }).id).toBe('abc');
    expect('id' in createMessage({ topic: 't', value: 'v' })).toBe(false);
  });
});
