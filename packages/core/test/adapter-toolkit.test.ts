import { describe, expect, it } from '@jest/globals';
import {
  backoffDelay,
  createRedactor,
  errorChain,
  IdleLatch,
  oneLine,
  redactUrl,
  settledBefore,
  settleWithin,
  TimeoutExpiredError,
  tlsFailureReason,
  urlSecrets,
} from '@msgport/core/adapter';

/** A promise with its resolve and reject functions. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: Error) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('settleWithin()', () => {
  it('settles like the promise when it settles in time', async () => {
    await expect(settleWithin(Promise.resolve(7), 1_000)).resolves.toBe(7);
    await expect(settleWithin(Promise.reject(new RangeError('no')), 1_000)).rejects.toThrow(RangeError);
  });

  it('rejects with a TimeoutExpiredError (or the error asked for) when time runs out first', async () => {
    await expect(settleWithin(new Promise(() => undefined), 5)).rejects.toBeInstanceOf(TimeoutExpiredError);
    await expect(settleWithin(new Promise(() => undefined), 5, { timeoutError: () => new Error('custom') })).rejects.toThrow(
      'custom',
    );
  });

  it('rejects when the signal aborts, with its reason when that is an Error', async () => {
    const controller = new AbortController();
    const pending = settleWithin(new Promise(() => undefined), 60_000, { signal: controller.signal });
    controller.abort(new Error('closing'));
    await expect(pending).rejects.toThrow('closing');
    const plain = new AbortController();
    plain.abort('just a string');
    await expect(settleWithin(new Promise(() => undefined), 60_000, { signal: plain.signal })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });

  it('hands a value that arrives too late to onLate', async () => {
    const late: number[] = [];
    const slow = deferred<number>();
    await expect(settleWithin(slow.promise, 5, { onLate: (value) => late.push(value) })).rejects.toBeInstanceOf(
      TimeoutExpiredError,
    );
    slow.resolve(3);
    await slow.promise;
    await Promise.resolve();
    expect(late).toEqual([3]);
  });
});

describe('settledBefore()', () => {
  it('resolves true when the promise settles (either way) before the deadline, false after it', async () => {
    await expect(settledBefore(Promise.resolve(), Date.now() + 1_000)).resolves.toBe(true);
    await expect(settledBefore(Promise.reject(new Error('x')), Date.now() + 1_000)).resolves.toBe(true);
    await expect(settledBefore(new Promise(() => undefined), Date.now() + 5)).resolves.toBe(false);
    await expect(settledBefore(new Promise(() => undefined), Date.now() - 1_000)).resolves.toBe(false);
  });
});

describe('IdleLatch', () => {
  it('resolves whenIdle() once the last piece of work left, and at once when none is in progress', async () => {
    const latch = new IdleLatch();
    await latch.whenIdle();
    latch.enter();
    latch.enter();
    let idle = false;
    const waiting = latch.whenIdle().then(() => (idle = true));
    latch.leave();
    await Promise.resolve();
    expect(idle).toBe(false);
    expect(latch.count).toBe(1);
    latch.leave();
    await waiting;
    expect(idle).toBe(true);
    latch.leave();
    expect(latch.count).toBe(0);
  });
});

describe('backoffDelay()', () => {
  it('grows by the multiplier from the initial delay up to the cap, without spread when jitter is 0', () => {
    const backoff = { initialDelayMs: 100, multiplier: 2, maxDelayMs: 1_000, jitter: 0 };
    expect([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(backoff, attempt))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });
});

describe('redactors', () => {
  it('createRedactor() masks every secret, longest first, and ignores empty ones', () => {
    const redact = createRedactor(['pw', 'pw-long', '', undefined]);
    expect(redact('pw-long and pw')).toBe('*** and ***');
    expect(createRedactor([])('nothing to hide')).toBe('nothing to hide');
  });

  it('redactUrl() masks the password, keeps a URL without one as is, and never echoes an unparseable one', () => {
    expect(redactUrl('amqp://guest:s3cret@localhost:5672/vh')).toBe('amqp://guest:***@localhost:5672/vh');
    expect(redactUrl('amqp://localhost')).toBe('amqp://localhost');
    expect(redactUrl('amqp://user:p4ss@host:notaport/')).toBe('<unparseable URL>');
    expect(redactUrl('not a url with p4ss')).toBe('<unparseable URL>');
  });

  it('urlSecrets() finds the password as written, normalized and decoded', () => {
    const secrets = urlSecrets('amqp://u:p%40ss:w0rd@host/');
    expect(createRedactor(secrets)('failed for p@ss:w0rd and p%40ss:w0rd')).toBe('failed for *** and ***');
    expect(urlSecrets('amqp://host/')).toEqual([]);
  });
});

describe('tlsFailureReason()', () => {
  const wrap = (message: string, code?: string): Error =>
    new Error('Connection error', { cause: Object.assign(new Error(message), code === undefined ? {} : { code }) });

  it('names the reason of a TLS failure found anywhere in the cause chain', () => {
    expect(
      tlsFailureReason(wrap('write EPROTO 40E7:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:\n', 'EPROTO')),
    ).toBe('wrong version number (EPROTO)');
    expect(
      tlsFailureReason(wrap('Client network socket disconnected before secure TLS connection was established', 'ECONNRESET')),
    ).toBe('Client network socket disconnected before secure TLS connection was established (ECONNRESET)');
    expect(
      tlsFailureReason(new AggregateError([new Error('x'), wrap('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT')])),
    ).toBe('self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)');
  });

  it('is null for other failures and for a handshake timeout (worth retrying)', () => {
    expect(tlsFailureReason(wrap('connect ECONNREFUSED 127.0.0.1:5671', 'ECONNREFUSED'))).toBeNull();
    expect(tlsFailureReason(wrap('TLS handshake timeout', 'ERR_TLS_HANDSHAKE_TIMEOUT'))).toBeNull();
    expect(tlsFailureReason('a string')).toBeNull();
  });
});

describe('errorChain() and oneLine()', () => {
  it('walks cause, originalError and errors once each, and survives a getter that throws', () => {
    const inner = new Error('inner');
    const hostile = Object.defineProperty(new Error('hostile'), 'cause', {
      get() {
        throw new Error('no');
      },
    });
    const outer = Object.assign(new Error('outer', { cause: inner }), { originalError: hostile, errors: [inner] });
    expect(errorChain(outer).map((error) => (error as Error).message)).toEqual(['outer', 'inner', 'hostile']);
    expect(oneLine('  first\r\n   second \n')).toBe('first second');
  });
});
