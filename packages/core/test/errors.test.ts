import { describe, expect, it } from '@jest/globals';
import {
  BrokerStateError,
  ConfigurationError,
  ConnectionError,
  InvalidArgumentError,
  MessagingError,
  PublishError,
  SubscribeError,
  isMessagingError,
} from '@msgport/core';

describe('MessagingError hierarchy', () => {
  it.each([
    [() => new MessagingError('m'), 'MessagingError', 'MESSAGING_ERROR', false],
    [() => new PublishError('m'), 'PublishError', 'PUBLISH_FAILED', true],
    [() => new BrokerStateError('m'), 'BrokerStateError', 'BROKER_NOT_RUNNING', false],
    [() => new InvalidArgumentError('m'), 'InvalidArgumentError', 'INVALID_ARGUMENT', false],
    [() => new ConnectionError('m'), 'ConnectionError', 'CONNECTION_FAILED', true],
    [() => new ConfigurationError('m'), 'ConfigurationError', 'INVALID_CONFIG', false],
    [() => new SubscribeError('m'), 'SubscribeError', 'SUBSCRIBE_FAILED', true],
  ] as const)('%#: %p has name %s, code %s and retriable %s by default', (create, name, code, retriable) => {
    const error = create();
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(MessagingError);
    expect(error.name).toBe(name);
    expect(error.code).toBe(code);
    expect(error.retriable).toBe(retriable);
    expect(error.message).toBe('m');
    expect(error.cause).toBeUndefined();
    expect(isMessagingError(error)).toBe(true);
    expect(String(error)).toBe(`${name}: m`);
  });

  it('keeps the standard cause', () => {
    const cause = new Error('ECONNREFUSED');
    const error = new ConnectionError('Cannot reach the broker', { cause });
    expect(error.cause).toBe(cause);
    expect(new PublishError('p', { cause: 'not an error' }).cause).toBe('not an error');
    expect(new MessagingError('x', 'WAIT_TIMEOUT', { cause, retriable: true })).toMatchObject({
      code: 'WAIT_TIMEOUT',
      retriable: true,
      cause,
    });
  });

  it('lets leaf errors take a specific code and retriable flag where documented', () => {
    expect(new PublishError('too big', { code: 'MESSAGE_TOO_LARGE', retriable: false })).toMatchObject({
      code: 'MESSAGE_TOO_LARGE',
      retriable: false,
    });
    expect(new PublishError('slow', { code: 'PUBLISH_TIMEOUT' })).toMatchObject({ code: 'PUBLISH_TIMEOUT', retriable: true });
    expect(new ConnectionError('denied', { code: 'AUTHENTICATION_FAILED', retriable: false })).toMatchObject({
      code: 'AUTHENTICATION_FAILED',
      retriable: false,
    });
  });

  it('ConfigurationError is never retriable and carries its issues, frozen', () => {
    const error = new ConfigurationError('bad config', {
      code: 'PROVIDER_NOT_INSTALLED',
      retriable: true,
      issues: ['msgport.messaging.provider: unknown'],
    });
    expect(error.retriable).toBe(false);
    expect(error.code).toBe('PROVIDER_NOT_INSTALLED');
    expect(error.issues).toEqual(['msgport.messaging.provider: unknown']);
    expect(Object.isFrozen(error.issues)).toBe(true);
    expect(new ConfigurationError('x').issues).toEqual([]);
  });
});

describe('isMessagingError()', () => {
  it('is false for other errors and for non-errors', () => {
    expect(isMessagingError(new Error('x'))).toBe(false);
    expect(isMessagingError(Object.assign(new Error('x'), { code: 'PUBLISH_FAILED', retriable: true }))).toBe(false);
    expect(isMessagingError({ code: 'PUBLISH_FAILED' })).toBe(false);
    expect(isMessagingError(null)).toBe(false);
    expect(isMessagingError(undefined)).toBe(false);
    expect(isMessagingError('MessagingError')).toBe(false);
    expect(isMessagingError(Symbol.for('msgport.MessagingError'))).toBe(false);
  });

  it('recognises an error from another copy of @msgport/core by its Symbol.for brand', () => {
    // What a second installed copy of core creates: a different class, the same global brand.
    class ForeignMessagingError extends Error {
      readonly code = 'PUBLISH_FAILED';
      readonly retriable = true;
      constructor(message: string) {
        super(message);
        Object.defineProperty(this, Symbol.for('msgport.MessagingError'), { value: true });
      }
    }
    const foreign = new ForeignMessagingError('from the other copy');
    expect(foreign instanceof MessagingError).toBe(false);
    expect(isMessagingError(foreign)).toBe(true);
  });

  it('does not treat an error as branded when the brand is not exactly true', () => {
    const error = new Error('x');
    Object.defineProperty(error, Symbol.for('msgport.MessagingError'), { value: 'yes' });
    expect(isMessagingError(error)).toBe(false);
  });
});
