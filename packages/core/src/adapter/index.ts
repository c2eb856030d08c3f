// @msgport/core/adapter: the toolkit for writing an adapter. Application code needs none of it
// (it imports @msgport/core); adapters extend MessageBrokerBase and use these helpers instead of
// writing their own.
export {
  MessageBrokerBase,
  type AdapterHealth,
  type ConsumerHandle,
  type ConsumerSpec,
  type Deliver,
  type MessageBrokerBaseOptions,
} from '../message-broker-base.js';
export { KeyedExecutor } from '../keyed-executor.js';
export { backoffDelay, resolveRetryPolicy, type Backoff } from '../retry-policy.js';
export { createDeadLetterMessage, type DeadLetterCause } from '../dead-letter.js';
export { describeValue, withMetadata } from '../message.js';
export { CONSUMER_CLOSED } from '../errors/messaging-error.js';
export { settleWithin, settledBefore, TimeoutExpiredError, type SettleWithinOptions } from './deadline.js';
export { IdleLatch } from './idle-latch.js';
export { isPromiseLike } from '../internal/promises.js';
export { createRedactor, redactUrl, urlSecrets, type Redact } from './redact.js';
export { tlsFailureReason } from './tls-failure.js';
export { errorChain, readField } from './error-chain.js';
export { oneLine } from './one-line.js';
export { keyPartition, murmur2 } from './murmur2.js';
export { SASL_MECHANISMS, type SaslMechanism } from './sasl.js';
