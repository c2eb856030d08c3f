/**
 * Every `code` a {@link MessagingError} carries, with the class that throws it, whether it is
 * retriable (`'either'`: the message says; see the package's README) and one line on what it means.
 * The one source of the codes: `MessagingErrorCode` is derived from it, each error class narrows
 * `code` to its own subset, and a test checks the README error tables against it.
 */
export const MESSAGING_ERROR_CODES = Object.freeze({
  MESSAGING_ERROR: { error: 'MessagingError', retriable: false, doc: 'a MessagingError created without a more specific code' },
  WAIT_TIMEOUT: {
    error: 'MessagingError',
    retriable: true,
    doc: '`waitFor()` (or a wait helper of the memory broker or the testkit) passed its deadline',
  },
  CONSUMER_CLOSED: {
    error: 'MessagingError',
    retriable: true,
    doc: 'a delivery was not handed to its handler: the broker is stopping or the subscription ended; not acknowledged, redelivered (seen by adapters only)',
  },
  NO_SUBSCRIBER: {
    error: 'MessagingError',
    retriable: true,
    doc: 'a delivery found no handler subscribed any more; not acknowledged, redelivered (seen by adapters only)',
  },
  INVALID_ARGUMENT: { error: 'InvalidArgumentError', retriable: false, doc: 'an argument or option is invalid: fix the call' },
  BROKER_NOT_RUNNING: { error: 'BrokerStateError', retriable: false, doc: '`publish()` before `start()` or after `stop()`' },
  PUBLISH_FAILED: {
    error: 'PublishError',
    retriable: true,
    doc: 'the broker did not confirm the message; it may or may not be stored',
  },
  PUBLISH_TIMEOUT: {
    error: 'PublishError',
    retriable: true,
    doc: 'no confirmation within the publish timeout; the message may or may not be stored',
  },
  MESSAGE_TOO_LARGE: {
    error: 'PublishError',
    retriable: false,
    doc: 'the broker (or the adapter, for its limit) refused the size of the message',
  },
  DEAD_LETTER_FAILED: {
    error: 'PublishError',
    retriable: false,
    doc: 'neither a dead letter nor its fallback could be published, on an adapter whose transport dead-letters rejected messages itself',
  },
  ABORTED: {
    error: 'MessagingError',
    retriable: false,
    doc: "publish aborted by its AbortSignal (`cause`: the signal's reason); a publish already confirmed is not undone",
  },
  SHUTDOWN_TIMEOUT: {
    error: 'MessagingError',
    retriable: true,
    doc: "the reason of a handler's `context.signal` when `stop()` ran out of time",
  },
  NON_RETRIABLE: {
    error: 'NonRetriableError',
    retriable: false,
    doc: 'thrown by a handler: the message is dead-lettered after this attempt',
  },
  INVALID_MESSAGE: {
    error: 'InvalidMessageError',
    retriable: false,
    doc: 'a received message of a typed topic cannot be decoded or is invalid (`issues`): dead-lettered after one attempt, never handed to the handler',
  },
  CONNECTION_FAILED: { error: 'ConnectionError', retriable: true, doc: 'the broker cannot be reached' },
  AUTHENTICATION_FAILED: {
    error: 'ConnectionError',
    retriable: false,
    doc: 'the broker refused the credentials (or access to the virtual host)',
  },
  TLS_FAILED: {
    error: 'ConnectionError',
    retriable: false,
    doc: 'the TLS handshake failed: the listener does not speak TLS, or its certificate is not trusted',
  },
  SUBSCRIBE_FAILED: {
    error: 'SubscribeError',
    retriable: 'either',
    doc: 'the broker refused the subscription (retriable unless the message says what must change first)',
  },
  INVALID_CONFIG: {
    error: 'ConfigurationError',
    retriable: false,
    doc: 'the configuration is invalid (`issues` lists every problem)',
  },
  CONFIG_FILE_NOT_FOUND: {
    error: 'ConfigurationError',
    retriable: false,
    doc: 'the configuration file named in code or by `MSGPORT_CONFIG` does not exist',
  },
  PROVIDER_NOT_INSTALLED: {
    error: 'ConfigurationError',
    retriable: false,
    doc: 'the configured adapter is not installed; the message has the install command',
  },
  PROVIDER_LOAD_FAILED: {
    error: 'ConfigurationError',
    retriable: false,
    doc: 'an installed adapter failed to load or does not export its class',
  },
} as const satisfies Record<string, ErrorCodeInfo>);

/** What {@link MESSAGING_ERROR_CODES} says of one code. */
export interface ErrorCodeInfo {
  /** The class that throws it. */
  readonly error:
    | 'MessagingError'
    | 'InvalidArgumentError'
    | 'BrokerStateError'
    | 'PublishError'
    | 'ConnectionError'
    | 'SubscribeError'
    | 'ConfigurationError'
    | 'NonRetriableError'
    | 'InvalidMessageError';
  /** Whether retrying may succeed; `'either'` when the message says. */
  readonly retriable: boolean | 'either';
  /** What it means, on one line. */
  readonly doc: string;
}

/** Every code a {@link MessagingError} may carry. */
export type MessagingErrorCode = keyof typeof MESSAGING_ERROR_CODES;

/** The codes thrown by the error class named `Name`. */
export type ErrorCodeOf<Name extends ErrorCodeInfo['error']> = {
  [Code in MessagingErrorCode]: (typeof MESSAGING_ERROR_CODES)[Code]['error'] extends Name ? Code : never;
}[MessagingErrorCode];
