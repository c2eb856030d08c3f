import { describe, expect, it } from '@jest/globals';
import { isMessagingError } from '@msgport/core';
import { queueTypeArguments, queueTypeMismatch } from '../src/internal/queue-type.js';
import { resolveSettings, urlList } from '../src/internal/settings.js';

describe('urlList()', () => {
  it('takes one URL, a comma-separated string of them, or an array', () => {
    expect(urlList('amqp://a/')).toEqual(['amqp://a/']);
    expect(urlList('amqp://a/, amqp://b:5673/ ,amqp://c/')).toEqual(['amqp://a/', 'amqp://b:5673/', 'amqp://c/']);
    expect(urlList(['amqp://a/', ' amqp://b/'])).toEqual(['amqp://a/', 'amqp://b/']);
  });

  it('refuses an empty list, an empty entry or anything else with INVALID_ARGUMENT', () => {
    for (const url of ['', [], ['amqp://a/', ''], [42], 42, undefined]) {
      expect(() => urlList(url)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });
});

describe('resolveSettings()', () => {
  it('keeps the URLs in order, with their redacted forms and endpoints', () => {
    const settings = resolveSettings({ url: ['amqp://u:pw1@h1/', 'amqps://u:pw2@h2:5000/v'] });
    expect(settings.endpoints).toEqual([
      { url: 'amqp://u:pw1@h1/', redacted: 'amqp://u:***@h1/', hostPort: 'h1:5672' },
      { url: 'amqps://u:pw2@h2:5000/v', redacted: 'amqps://u:***@h2:5000/v', hostPort: 'h2:5000' },
    ]);
    expect(settings.redactedUrls).toBe('amqp://u:***@h1/, amqps://u:***@h2:5000/v');
    expect(settings.secrets).toEqual(expect.arrayContaining(['pw1', 'pw2']));
  });

  it('defaults queueType to quorum and validates it', () => {
    expect(resolveSettings({ url: 'amqp://h/' }).queueType).toBe('quorum');
    expect(resolveSettings({ url: 'amqp://h/', queueType: 'classic' }).queueType).toBe('classic');
    expect(() => resolveSettings({ url: 'amqp://h/', queueType: 'stream' as never })).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining("queueType must be 'quorum' or 'classic'"),
      }),
    );
  });

  it('never echoes a password in its errors, whichever URL of the list is wrong', () => {
    const attempts = [
      () => resolveSettings({ url: ['amqp://u:s3cret@h1/', 'http://u:s3cret@h2/'] }),
      () => resolveSettings({ url: 'amqp://u:s3cret@h1/,amqp://u:s3cret@h2:99999/' }),
      () => resolveSettings({ url: ['amqp://u:s3cret@h1/', 'amqp://u:s3cret@h2/'], tls: { rejectUnauthorized: false } }),
    ];
    for (const attempt of attempts) {
      let error: unknown;
      try {
        attempt();
      } catch (caught) {
        error = caught;
      }
      expect(isMessagingError(error) && error.code).toBe('INVALID_ARGUMENT');
      expect((error as Error).message).not.toContain('s3cret');
    }
  });

  it('splits a string only at a comma that starts another URL: a password may contain commas', () => {
    expect(urlList('amqp://u:pa,ss@h1/')).toEqual(['amqp://u:pa,ss@h1/']);
    expect(urlList('amqp://u:pa,ss@h1/, amqps://u:pa,ss@h2/')).toEqual(['amqp://u:pa,ss@h1/', 'amqps://u:pa,ss@h2/']);
    expect(resolveSettings({ url: 'amqp://u:pa,ss@h1/' }).endpoints[0]?.redacted).toBe('amqp://u:***@h1/');
  });
});

describe('queue types', () => {
  it('gives quorum queues that dead-letter at-least-once dead-lettering, and says the type explicitly', () => {
    expect(queueTypeArguments('quorum', true)).toEqual({
      'x-queue-type': 'quorum',
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    });
    expect(queueTypeArguments('quorum', false)).toEqual({ 'x-queue-type': 'quorum' });
    expect(queueTypeArguments('classic', true)).toEqual({ 'x-queue-type': 'classic' });
  });

  const refusal = (argument: string, queue: string): Error =>
    Object.assign(
      new Error(
        `Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg '${argument}' ` +
          `for queue '${queue}' in vhost '/': received the value 'quorum' of type 'longstr' but current is none"`,
      ),
      { code: 406 },
    );

  it('turns a refusal over the queue type into a ConfigurationError naming the queue, both types and what to do', () => {
    const error = queueTypeMismatch(refusal('x-queue-type', "orders.bill'ing.p0"), 'quorum', []);
    expect(error?.name).toBe('ConfigurationError');
    expect(error?.retriable).toBe(false);
    expect(error?.message).toContain(
      `Cannot declare queue "orders.bill'ing.p0" as a quorum queue (queueType 'quorum'): it exists as a classic queue`,
    );
    expect(error?.message).toContain("set queueType: 'classic'");
    expect(error?.message).toContain('rabbitmqctl delete_queue');
    expect(queueTypeMismatch(refusal('x-dead-letter-strategy', 'q'), 'classic', [])?.message).toContain(
      'it exists as a quorum queue',
    );
  });

  it('leaves other refusals alone', () => {
    expect(queueTypeMismatch(refusal('x-max-length', 'q'), 'quorum', [])).toBeNull();
    expect(queueTypeMismatch(new Error('socket closed'), 'quorum', [])).toBeNull();
  });
});

describe('legacyQueues', () => {
  const url = 'amqp://localhost/';
  it('keeps each (topic, group) with deleteWhenDrained false unless set', () => {
    const { legacyQueues } = resolveSettings({
      url,
      legacyQueues: [
        { topic: 'orders', group: 'billing', queue: 'billing', phase: 'share' },
        { topic: 'orders', group: 'audit', queue: 'audit', phase: 'switch', deleteWhenDrained: true },
      ],
    });
    expect([...legacyQueues.values()]).toEqual([
      { topic: 'orders', group: 'billing', queue: 'billing', phase: 'share', deleteWhenDrained: false },
      { topic: 'orders', group: 'audit', queue: 'audit', phase: 'switch', deleteWhenDrained: true },
    ]);
    expect(resolveSettings({ url }).legacyQueues.size).toBe(0);
  });

  it('refuses a malformed entry, or two entries for one (topic, group), with INVALID_ARGUMENT naming it', () => {
    const entry = { topic: 'orders', group: 'billing', queue: 'billing', phase: 'share' } as const;
    const cases: Array<[unknown, string]> = [
      ['nope', 'legacyQueues must be an array'],
      [[null], 'legacyQueues[0] must be'],
      [[{ ...entry, queue: '' }], 'legacyQueues[0].queue'],
      [[{ ...entry, topic: 1 }], 'legacyQueues[0].topic'],
      [[{ ...entry, phase: 'later' }], 'legacyQueues[0].phase'],
      [[{ ...entry, deleteWhenDrained: 'yes' }], 'legacyQueues[0].deleteWhenDrained'],
      [[entry, { ...entry, queue: 'other' }], 'legacyQueues[1]: topic "orders" in group "billing"'],
    ];
    for (const [legacyQueues, text] of cases) {
      expect(() => resolveSettings({ url, legacyQueues } as never)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(text) as unknown }),
      );
    }
  });
});
