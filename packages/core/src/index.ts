export { CONSUMER_CLOSED, MessagingError, isMessagingError, type MessagingErrorOptions } from './errors/messaging-error.js';
export { PublishError } from './errors/publish-error.js';
export { BrokerStateError } from './errors/broker-state-error.js';
export { InvalidArgumentError } from './errors/invalid-argument-error.js';
export { ConnectionError } from './errors/connection-error.js';
export { ConfigurationError } from './errors/configuration-error.js';
export { SubscribeError } from './errors/subscribe-error.js';
export {
  createMessage,
  describeValue,
  withMetadata,
  type Message,
  type MessageInit,
  type MessageMetadata,
  type Payload,
} from './message.js';
export {
  isMessageBrokerPort,
  type HealthReport,
  type HealthStatus,
  type MessageBrokerPort,
  type MessageHandler,
  type PublishOptions,
  type SubscribeOptions,
  type Subscription,
} from './message-broker-port.js';
export {
  MessageBrokerBase,
  type AdapterHealth,
  type ConsumerHandle,
  type ConsumerSpec,
  type Deliver,
  type MessageBrokerBaseOptions,
} from './message-broker-base.js';
export {
  DEFAULT_RETRY_POLICY,
  backoffDelay,
  resolveRetryPolicy,
  type RetryPolicy,
  type RetryPolicyOptions,
} from './retry-policy.js';
export { DeadLetterHeaders, createDeadLetterMessage, type DeadLetterCause } from './dead-letter.js';
export { describeFailure, type FailureDescription } from './describe-failure.js';
export { NAME_PATTERN } from './topic.js';
export { KeyedExecutor } from './keyed-executor.js';
export { createConsoleLogger, silentLogger, LOG_LEVELS, type Logger, type LogLevel } from './logger.js';
export { waitFor, type WaitForOptions } from './wait-for.js';
export {
  MessageListener,
  getListenerMetadata,
  messageListener,
  registerListeners,
  type ListenerDecorator,
  type ListenerOptions,
} from './message-listener.js';
