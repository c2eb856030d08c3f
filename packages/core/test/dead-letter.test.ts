import { describe, expect, it } from '@jest/globals';
import { DeadLetterHeaders, createMessage } from '@msgport/core';
import { createDeadLetterMessage } from '@msgport/core/adapter';

describe('createDeadLetterMessage()', () => {
  const original = createMessage({
    topic: 'orders',
    value: Buffer.from([0, 1, 255]),
    key: 'order-1',
    headers: { 'x-trace': 'abc', 'x-unicode': 'ü🚀' },
    metadata: { partition: 2, offset: '17', attempt: 3 },
  });

  it('keeps key, value and headers, adds the msgport error headers and targets the destination', () => {
    const dead = createDeadLetterMessage(original, 'orders.DLT', {
      error: new TypeError('bad total'),
      group: 'billing',
      attempts: 3,
    });
    expect(dead.topic).toBe('orders.DLT');
    expect(dead.value.equals(original.value)).toBe(true);
    expect(dead.key!.equals(original.key!)).toBe(true);
    expect(dead.headers).toEqual({
      'x-trace': 'abc',
      'x-unicode': 'ü🚀',
      'msgport-error-message': 'bad total',
      'msgport-error-type': 'TypeError',
      'msgport-original-topic': 'orders',
      'msgport-group': 'billing',
      'msgport-attempts': '3',
    });
    expect(dead.metadata).toEqual({ attempt: 1 });
    expect(Object.isFrozen(dead)).toBe(true);
    expect(Object.isFrozen(dead.headers)).toBe(true);
  });

  it('names the headers with DeadLetterHeaders', () => {
    expect(DeadLetterHeaders).toEqual({
      errorMessage: 'msgport-error-message',
      errorType: 'msgport-error-type',
      originalTopic: 'msgport-original-topic',
      group: 'msgport-group',
      attempts: 'msgport-attempts',
      deadLetterError: 'msgport-dead-letter-error',
    });
    expect(Object.isFrozen(DeadLetterHeaders)).toBe(true);
  });

  it('writes an empty group for a broadcast subscription and keeps a null key', () => {
    const noKey = createMessage({ topic: 'alerts', value: 'a' });
    const dead = createDeadLetterMessage(noKey, 'alerts.DLT', { error: new Error('x'), group: null, attempts: 1 });
    expect(dead.key).toBeNull();
    expect(dead.headers[DeadLetterHeaders.group]).toBe('');
    expect(dead.headers[DeadLetterHeaders.attempts]).toBe('1');
  });

  it('describes thrown values that are not Errors', () => {
    const dead = createDeadLetterMessage(original, 'd', { error: 'plain string', group: 'g', attempts: 2 });
    expect(dead.headers[DeadLetterHeaders.errorMessage]).toBe('plain string');
    expect(dead.headers[DeadLetterHeaders.errorType]).toBe('string');
    const deadObject = createDeadLetterMessage(original, 'd', { error: undefined, group: 'g', attempts: 2 });
    expect(deadObject.headers[DeadLetterHeaders.errorType]).toBe('undefined');
  });

  it('uses the error name, so custom error classes that set it are recognisable', () => {
    class OrderRejected extends Error {
      override name = 'OrderRejected';
    }
    const dead = createDeadLetterMessage(original, 'd', { error: new OrderRejected('no stock'), group: 'g', attempts: 3 });
    expect(dead.headers[DeadLetterHeaders.errorType]).toBe('OrderRejected');
  });

  it('truncates very long error messages to 4096 characters', () => {
    const dead = createDeadLetterMessage(original, 'd', { error: new Error('x'.repeat(10_000)), group: 'g', attempts: 3 });
    expect(dead.headers[DeadLetterHeaders.errorMessage]).toHaveLength(4_096);
  });

  it('overrides msgport headers already present on the failed message', () => {
    const redead = createMessage({ topic: 'orders', value: 'v', headers: { 'msgport-attempts': '9', 'msgport-group': 'old' } });
    const dead = createDeadLetterMessage(redead, 'd', { error: new Error('x'), group: 'new', attempts: 3 });
    expect(dead.headers[DeadLetterHeaders.attempts]).toBe('3');
    expect(dead.headers[DeadLetterHeaders.group]).toBe('new');
  });
});

describe('createDeadLetterMessage() error type', () => {
  it('names a subclass that does not set its own name by its constructor', () => {
    class CardDeclined extends Error {}
    const message = createMessage({ topic: 'payments', value: 'p-1' });
    const dead = createDeadLetterMessage(message, 'payments.DLT', { error: new CardDeclined('no'), group: 'g', attempts: 1 });
    expect(dead.headers[DeadLetterHeaders.errorType]).toBe('CardDeclined');
  });
});
