import { describe, expect, it } from '@jest/globals';
import kafkajs from 'kafkajs';
import { isRetriableSendError, isTlsFailure, toConnectionError } from '../src/internal/errors.js';

// kafkajs' real error classes (its typings omit some of them and some constructor arguments).
type ErrorClass = new (...args: unknown[]) => Error;
const {
  KafkaJSConnectionError,
  KafkaJSConnectionClosedError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSRequestTimeoutError,
  KafkaJSSASLAuthenticationError,
} = kafkajs as unknown as Record<
  | 'KafkaJSConnectionError'
  | 'KafkaJSConnectionClosedError'
  | 'KafkaJSNonRetriableError'
  | 'KafkaJSNumberOfRetriesExceeded'
  | 'KafkaJSProtocolError'
  | 'KafkaJSRequestTimeoutError'
  | 'KafkaJSSASLAuthenticationError',
  ErrorClass
>;

const protocol = (type: string, retriable: boolean) =>
  new KafkaJSProtocolError({ message: `broker says ${type}`, type, code: 1, retriable });
/** What kafkajs' retrier throws when it gives up: the last error, wrapped. */
const exhausted = (error: Error) => new KafkaJSNumberOfRetriesExceeded(error, { retryCount: 5, retryTime: 1000 });
const noop = (text: string) => text;

describe('isRetriableSendError', () => {
  it('is true for unreachable brokers and retriable broker answers, also when kafkajs gave up on them', () => {
    const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092', { code: 'ECONNREFUSED' });
    expect(isRetriableSendError(refused)).toBe(true);
    expect(isRetriableSendError(exhausted(refused))).toBe(true);
    expect(isRetriableSendError(new KafkaJSNonRetriableError(refused, { cause: refused }))).toBe(true);
    expect(isRetriableSendError(new KafkaJSConnectionClosedError('Closed connection', { host: 'h', port: 1 }))).toBe(true);
    expect(isRetriableSendError(new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out'))).toBe(true);
    expect(isRetriableSendError(exhausted(protocol('NOT_LEADER_OR_FOLLOWER', true)))).toBe(true);
    expect(isRetriableSendError(protocol('NOT_ENOUGH_REPLICAS', true))).toBe(true);
  });

  it('is false for answers that waiting does not change', () => {
    expect(isRetriableSendError(protocol('MESSAGE_TOO_LARGE', false))).toBe(false);
    expect(isRetriableSendError(exhausted(protocol('UNKNOWN_TOPIC_OR_PARTITION', true)))).toBe(false);
    expect(isRetriableSendError(protocol('TOPIC_AUTHORIZATION_FAILED', false))).toBe(false);
    expect(isRetriableSendError(protocol('OUT_OF_ORDER_SEQUENCE_NUMBER', false))).toBe(false);
    expect(isRetriableSendError(new KafkaJSSASLAuthenticationError('SASL PLAIN authentication failed'))).toBe(false);
    expect(
      isRetriableSendError(
        new KafkaJSNonRetriableError("The producer is disconnecting; therefore, it can't safely accept messages anymore"),
      ),
    ).toBe(false);
    expect(isRetriableSendError(new TypeError('x is not a function'))).toBe(false);
    const tls = new KafkaJSConnectionError(
      'Connection error: Client network socket disconnected before secure TLS connection was established',
      {
        code: 'ECONNRESET',
      },
    );
    expect(isRetriableSendError(exhausted(tls))).toBe(false);
  });
});

describe('isTlsFailure', () => {
  it('recognizes a plaintext listener, a protocol mismatch and untrusted certificates', () => {
    const wrap = (message: string, code: string) =>
      exhausted(new KafkaJSConnectionError(`Connection error: ${message}`, { code }));
    expect(
      isTlsFailure(wrap('Client network socket disconnected before secure TLS connection was established', 'ECONNRESET')),
    ).toBe(true);
    expect(
      isTlsFailure(wrap('write EPROTO 40E7:error:0A00010B:SSL routines:ssl3_get_record:wrong version number', 'EPROTO')),
    ).toBe(true);
    expect(isTlsFailure(wrap('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT'))).toBe(true);
    expect(isTlsFailure(wrap('unable to verify the first certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'))).toBe(true);
    expect(isTlsFailure(wrap("Hostname/IP does not match certificate's altnames", 'ERR_TLS_CERT_ALTNAME_INVALID'))).toBe(true);
    expect(isTlsFailure(wrap('certificate has expired', 'CERT_HAS_EXPIRED'))).toBe(true);
  });

  it('leaves ordinary connection failures alone', () => {
    expect(
      isTlsFailure(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092', { code: 'ECONNREFUSED' })),
    ).toBe(false);
    expect(isTlsFailure(new KafkaJSConnectionError('Connection timeout'))).toBe(false);
    expect(isTlsFailure(new KafkaJSConnectionError('Connection error: read ECONNRESET', { code: 'ECONNRESET' }))).toBe(false);
  });
});

describe('toConnectionError', () => {
  it('makes a TLS failure a non-retriable TLS_FAILED on one line, with advice about `ssl`', () => {
    const cause = exhausted(
      new KafkaJSConnectionError('Connection error: unable to verify\nthe first certificate', {
        code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      }),
    );
    const error = toConnectionError(cause, ['b1:9093', 'b2:9093'], noop);
    expect(error).toMatchObject({ name: 'ConnectionError', code: 'TLS_FAILED', retriable: false });
    expect(error.message).toBe(
      'Cannot connect to Kafka at b1:9093,b2:9093: the TLS handshake failed (Connection error: unable to verify the first certificate). ' +
        "Check `ssl` — the broker's listener may not use TLS, or its certificate is not trusted.",
    );
  });
});
