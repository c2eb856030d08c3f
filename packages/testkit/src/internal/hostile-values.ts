/**
 * Values real handlers throw that are not plain Errors: from other realms, proxies of ORMs and RPC
 * clients, objects parsed from JSON with a null prototype, and values built to break whatever
 * reads them. Each is made fresh on every call (some are stateful or revoked).
 */
export interface HostileValue {
  /** Says what the value is, for test names and failure reports. */
  readonly name: string;
  readonly make: () => unknown;
}

/** A Proxy whose every trap throws: reading any property, its prototype, its keys … */
export function throwingProxy(): object {
  const trap = (): never => {
    throw new Error('hostile proxy: every trap throws');
  };
  return new Proxy(
    {},
    {
      get: trap,
      set: trap,
      has: trap,
      ownKeys: trap,
      getOwnPropertyDescriptor: trap,
      getPrototypeOf: trap,
      setPrototypeOf: trap,
      defineProperty: trap,
      deleteProperty: trap,
      isExtensible: trap,
      preventExtensions: trap,
    },
  );
}

/** An Error whose `message` getter throws. */
export function errorWithThrowingMessage(): Error {
  const error = new RangeError();
  Object.defineProperty(error, 'message', {
    get(): never {
      throw new Error('hostile: the message getter throws');
    },
  });
  return error;
}

/** An object whose `toString` (and `valueOf`) throw. */
export function objectWithThrowingToString(): object {
  return {
    code: 'E_HOSTILE',
    toString(): never {
      throw new Error('hostile: toString throws');
    },
    valueOf(): never {
      throw new Error('hostile: valueOf throws');
    },
  };
}

/** A thenable that rejects with `reason` (what a handler may return instead of a Promise). */
export function rejectingThenable(reason: unknown): PromiseLike<never> {
  return {
    then(_onFulfilled, onRejected) {
      // A thenable settles asynchronously, like a Promise; and it may ignore the callbacks' result.
      queueMicrotask(() => {
        void onRejected?.(reason);
      });
      return undefined as unknown as PromiseLike<never>;
    },
  };
}

/** 5 MiB of message. */
export const HUGE_MESSAGE_LENGTH = 5 * 1024 * 1024;

/** The rows of issue 20's table, then more of the same kind. */
export const HOSTILE_VALUES: readonly HostileValue[] = [
  { name: "Symbol('s')", make: () => Symbol('s') },
  { name: '10n', make: () => 10n },
  { name: 'an Error with a 5 MiB message', make: () => new Error('x'.repeat(HUGE_MESSAGE_LENGTH)) },
  { name: 'Object.create(null)', make: () => Object.create(null) as object },
  { name: 'an object whose toString throws', make: objectWithThrowingToString },
  { name: 'an Error whose message getter throws', make: errorWithThrowingMessage },
  { name: 'a Proxy that throws on every property read', make: throwingProxy },
  {
    name: 'a revoked Proxy',
    make: () => {
      const { proxy, revoke } = Proxy.revocable(new Error('revoked'), {});
      revoke();
      return proxy;
    },
  },
  {
    name: 'an Error whose name getter throws',
    make: () => {
      const error = new TypeError('name hidden');
      Object.defineProperty(error, 'name', {
        get(): never {
          throw new Error('hostile: the name getter throws');
        },
      });
      return error;
    },
  },
  {
    name: 'an object with a throwing Symbol.toPrimitive and toJSON',
    make: () => ({
      [Symbol.toPrimitive](): never {
        throw new Error('hostile: toPrimitive throws');
      },
      toJSON(): never {
        throw new Error('hostile: toJSON throws');
      },
    }),
  },
  {
    name: 'a cyclic object',
    make: () => {
      const cyclic: Record<string, unknown> = { reason: 'cycle' };
      cyclic['self'] = cyclic;
      return cyclic;
    },
  },
  {
    name: 'an Error whose cause is itself',
    make: () => {
      const error = new Error('own cause');
      (error as { cause?: unknown }).cause = error;
      return error;
    },
  },
  { name: 'an Error with half of a surrogate pair in its message', make: () => new Error('broken \uD83D pair') },
  { name: 'an Error with 10,000 emoji (cut mid-pair at 4,096)', make: () => new Error(`x${'🚀'.repeat(10_000)}`) },
  { name: 'an Error whose message is an object', make: () => Object.assign(new Error(), { message: { nested: true } }) },
  { name: 'an AggregateError of hostile values', make: () => new AggregateError([throwingProxy(), Object.create(null)], 'many') },
  { name: 'a function', make: () => function namedFailure(): void {} },
  { name: 'null', make: () => null },
  { name: 'undefined', make: () => undefined },
  { name: 'an empty string', make: () => '' },
  { name: 'a boxed string', make: () => new String('boxed') },
  { name: 'a huge plain object', make: () => Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`k${i}`, i])) },
];
