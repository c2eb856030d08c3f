import { expect, it } from '@jest/globals';

it('@msgport/core exports exactly its documented public API', async () => {
  expect(Object.keys(await import('@msgport/core')).sort()).toEqual([
    'BrokerStateError',
    'ConfigurationError',
    'ConnectionError',
    'DEFAULT_RETRY_POLICY',
    'DeadLetterHeaders',
    'InvalidArgumentError',
    'KeyedExecutor',
    'LOG_LEVELS',
    'MessageBrokerBase',
    'MessageListener',
    'MessagingError',
    'NAME_PATTERN',
    'PublishError',
    'SubscribeError',
    'backoffDelay',
    'createConsoleLogger',
    'createDeadLetterMessage',
    'createMessage',
    'getListenerMetadata',
    'isMessageBrokerPort',
    'isMessagingError',
    'messageListener',
    'registerListeners',
    'resolveRetryPolicy',
    'silentLogger',
    'waitFor',
    'withMetadata',
  ]);
});
