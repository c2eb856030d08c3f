import { describeFailure } from '../describe-failure.js';
import { errorChain, readField } from './error-chain.js';
import { oneLine } from './one-line.js';

/**
 * OpenSSL's certificate verification codes, as Node reports them in `error.code` when the broker's
 * certificate is not trusted (Node's own `ERR_TLS_…` codes are matched by prefix).
 */
const CERTIFICATE_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'UNABLE_TO_GET_CRL',
  'CRL_SIGNATURE_FAILURE',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'HOSTNAME_MISMATCH',
]);

/** Prefixes of Node's and OpenSSL's codes of TLS failures (protocol errors and certificate checks). */
const TLS_CODE_PREFIXES = /^(EPROTO$|ERR_SSL_|ERR_TLS_|ERR_OSSL_|CERT_)/;

/**
 * Messages of TLS failures that come with a generic code or none: a plaintext listener closes the
 * connection at the TLS ClientHello ("Client network socket disconnected before secure TLS
 * connection was established", code ECONNRESET), OpenSSL's own texts, certificate checks.
 */
const TLS_MESSAGES =
  /before secure TLS connection was established|wrong version number|SSL routines|tlsv1 alert|handshake failure|\bcertificate\b|\baltnames\b|Hostname\/IP does not match/i;

/**
 * When `error` (or an error of its cause chain, see {@link errorChain}) is a failed TLS handshake,
 * the reason on one line (`wrong version number (ERR_SSL_WRONG_VERSION_NUMBER)`); `null`
 * otherwise. Such failures do not go away by retrying: the listener does not speak TLS, or its
 * certificate is not trusted (or is one for another host): the configuration must change. A
 * handshake *timeout* is not one of them (a slow network is worth retrying).
 */
export function tlsFailureReason(error: unknown): string | null {
  for (const current of errorChain(error, 16)) {
    const reason = tlsReasonOf(current);
    if (reason !== null) return reason;
  }
  return null;
}

function tlsReasonOf(error: object): string | null {
  const rawCode = readField(error, 'code');
  const code = typeof rawCode === 'string' && rawCode !== '' ? rawCode : undefined;
  const message = describeFailure(error).message;
  const byCode =
    code !== undefined && code !== 'ERR_TLS_HANDSHAKE_TIMEOUT' && (TLS_CODE_PREFIXES.test(code) || CERTIFICATE_CODES.has(code));
  if (!byCode && !TLS_MESSAGES.test(message)) return null;
  // OpenSSL's own text ("8C1F…:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:…/ssl3_record.c:350:\n")
  // is reduced to its reason; Node also hands that reason over as `error.reason`.
  const openSslReason = /SSL routines:[^:]*:([^:]+)/.exec(message)?.[1];
  const ownReason = readField(error, 'reason');
  const text = oneLine(typeof ownReason === 'string' && ownReason !== '' ? ownReason : (openSslReason ?? message));
  return code === undefined || text.includes(code) ? text : `${text} (${code})`;
}
