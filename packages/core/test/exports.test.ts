import { expect, it } from '@jest/globals';

it('@msgport/core exports exactly its documented public API', async () => {
  expect(Object.keys(await import('@msgport/core')).sort()).toEqual([
    'BrokerStateError',
    'ConfigurationError',
    'ConnectionError',
    'DEFAULT_RETRY_POLICY',
    'DeadLetterHeaders',
    'InvalidArgumentError',
    'LOG_LEVELS',
    'MESSAGING_ERROR_CODES',
    'MessageListener',
    'MessagingError',
    'NAME_PATTERN',
    'PublishError',
    'SubscribeError',
    'createConsoleLogger',
    'createMessage',
    'describeFailure',
    'getListenerMetadata',
    'isMessageBrokerPort',
    'isMessagingError',
    'messageListener',
    'registerListeners',
    'silentLogger',
    'waitFor',
  ]);
});

it('@msgport/core/adapter exports exactly the adapter toolkit', async () => {
  expect(Object.keys(await import('@msgport/core/adapter')).sort()).toEqual([
    'IdleLatch',
    'KeyedExecutor',
    'MessageBrokerBase',
    'SASL_MECHANISMS',
    'TimeoutExpiredError',
    'backoffDelay',
    'createDeadLetterMessage',
    'createRedactor',
    'describeValue',
    'errorChain',
    'keyPartition',
    'murmur2',
    'oneLine',
    'readField',
    'redactUrl',
    'resolveRetryPolicy',
    'settleWithin',
    'settledBefore',
    'tlsFailureReason',
    'urlSecrets',
    'withMetadata',
  ]);
});
