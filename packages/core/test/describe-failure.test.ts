import { describe, expect, it } from '@jest/globals';
import { runInNewContext } from 'node:vm';
import { describeFailure } from '@msgport/core';

const UNREADABLE = 'a thrown value that cannot be read (every attempt to read it threw)';

function throwingProxy(): object {
  const trap = (): never => {
    throw new Error('trap');
  };
  return new Proxy({}, { get: trap, has: trap, ownKeys: trap, getOwnPropertyDescriptor: trap, getPrototypeOf: trap });
}

describe('describeFailure()', () => {
  it('describes Errors by name (or class name) and message', () => {
    class CardDeclined extends Error {}
    expect(describeFailure(new TypeError('bad total'))).toEqual({ type: 'TypeError', message: 'bad total' });
    expect(describeFailure(new CardDeclined('no'))).toEqual({ type: 'CardDeclined', message: 'no' });
    expect(describeFailure(Object.assign(new Error('x'), { name: 'OrderRejected' }))).toEqual({
      type: 'OrderRejected',
      message: 'x',
    });
  });

  it('describes Errors from another realm like Errors of this one', () => {
    const foreign = runInNewContext('new RangeError("from a vm context")') as unknown;
    expect(foreign instanceof Error).toBe(false);
    expect(describeFailure(foreign)).toEqual({ type: 'RangeError', message: 'from a vm context' });
  });

  it('describes primitives by typeof and String()', () => {
    expect(describeFailure('plain')).toEqual({ type: 'string', message: 'plain' });
    expect(describeFailure(Symbol('s'))).toEqual({ type: 'symbol', message: 'Symbol(s)' });
    expect(describeFailure(10n)).toEqual({ type: 'bigint', message: '10' });
    expect(describeFailure(42)).toEqual({ type: 'number', message: '42' });
    expect(describeFailure(undefined)).toEqual({ type: 'undefined', message: 'undefined' });
    expect(describeFailure(null)).toEqual({ type: 'null', message: 'null' });
    expect(describeFailure(function namedFailure() {})).toEqual({ type: 'function', message: '[function namedFailure]' });
  });

  it('describes objects without a message by their own toString, else as bounded JSON', () => {
    expect(describeFailure(Object.create(null))).toEqual({ type: 'object', message: '{}' });
    expect(describeFailure({ code: 'E_X', count: 2n })).toEqual({ type: 'object', message: '{"code":"E_X","count":"2n"}' });
    expect(describeFailure({ toString: () => 'custom text' })).toEqual({ type: 'object', message: 'custom text' });
    const throwingToString = {
      code: 'E_HOSTILE',
      toString(): never {
        throw new Error('no');
      },
    };
    expect(describeFailure(throwingToString)).toEqual({ type: 'object', message: '{"code":"E_HOSTILE"}' });
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(describeFailure(cyclic)).toEqual({ type: 'object', message: '[object Object]' });
    const huge = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`k${i}`, i]));
    expect(describeFailure(huge)).toEqual({ type: 'object', message: '[object Object]' });
  });

  it('never throws for values whose every read throws', () => {
    expect(describeFailure(throwingProxy())).toEqual({ type: 'object', message: UNREADABLE });
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(describeFailure(proxy)).toEqual({ type: 'object', message: UNREADABLE });
    const hiddenMessage = Object.defineProperty(new RangeError(), 'message', {
      get(): never {
        throw new Error('no');
      },
    });
    expect(describeFailure(hiddenMessage)).toEqual({
      type: 'RangeError',
      message: 'an error whose message cannot be read (reading it threw)',
    });
    const hiddenName = Object.defineProperty(new TypeError('named'), 'name', {
      get(): never {
        throw new Error('no');
      },
    });
    expect(describeFailure(hiddenName)).toEqual({ type: 'TypeError', message: 'named' });
  });

  it('cuts long messages to maxLength (4,096 by default) without leaving half of a surrogate pair', () => {
    expect(describeFailure(new Error('x'.repeat(5 * 1024 * 1024))).message).toHaveLength(4_096);
    const emoji = describeFailure(new Error(`x${'🚀'.repeat(10_000)}`)).message;
    expect(emoji).toHaveLength(4_095);
    expect(/\p{Cs}/u.test(emoji)).toBe(false);
    expect(describeFailure('abcdef', 3).message).toBe('abc');
  });

  it('replaces lone surrogates, which UTF-8 headers cannot carry', () => {
    expect(describeFailure(new Error('broken \uD83D pair')).message).toBe('broken \uFFFD pair');
  });

  it('returns a frozen description', () => {
    expect(Object.isFrozen(describeFailure(new Error('x')))).toBe(true);
  });
});
