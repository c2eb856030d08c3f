export { MessagingError, isMessagingError, type MessagingErrorOptions } from './errors/messaging-error.js';
export { MESSAGING_ERROR_CODES, type ErrorCodeInfo, type ErrorCodeOf, type MessagingErrorCode } from './errors/error-codes.js';
export { PublishError } from './errors/publish-error.js';
export { BrokerStateError } from './errors/broker-state-error.js';
export { InvalidArgumentError } from './errors/invalid-argument-error.js';
export { ConnectionError } from './errors/connection-error.js';
export { ConfigurationError } from './errors/configuration-error.js';
export { SubscribeError } from './errors/subscribe-error.js';
export { NonRetriableError } from './errors/non-retriable-error.js';
export { InvalidMessageError } from './errors/invalid-message-error.js';
export { createMessage, type Message, type MessageInit, type MessageMetadata, type Payload } from './message.js';
export {
  isMessageBrokerPort,
  type HandlerContext,
  type HealthReport,
  type HealthStatus,
  type MessageBrokerPort,
  type MessageHandler,
  type PublishOptions,
  type SubscribeOptions,
  type Subscription,
} from './message-broker-port.js';
export { DEFAULT_RETRY_POLICY, type RetryPolicy, type RetryPolicyOptions } from './retry-policy.js';
export { DeadLetterHeaders } from './dead-letter.js';
export { describeFailure, type FailureDescription } from './describe-failure.js';
export { NAME_PATTERN } from './topic.js';
export {
  defineTopic,
  isTypedTopic,
  jsonCodec,
  type Codec,
  type TopicOptions,
  type TypedMessageHandler,
  type TypedTopic,
} from './typed-topic.js';
export type { StandardSchemaV1 } from './standard-schema.js';
export { createMessageId, MESSAGE_ID_HEADER } from './message-id.js';
export { createConsoleLogger, silentLogger, LOG_LEVELS, type Logger, type LogLevel } from './logger.js';
export { waitFor, type WaitForOptions } from './wait-for.js';
export {
  MessageListener,
  getListenerMetadata,
  messageListener,
  registerListeners,
  type ListenerDecorator,
  type ListenerOptions,
  type TypedListenerDecorator,
  type TypedListenerOptions,
} from './message-listener.js';
