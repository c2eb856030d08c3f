import { expect, it } from '@jest/globals';

it('@msgport/autoconfig exports exactly its documented public API', async () => {
  expect(Object.keys(await import('@msgport/autoconfig')).sort()).toEqual([
    'PROVIDERS',
    'REDACTED',
    'SASL_MECHANISMS',
    'createBroker',
    'describeConfigKeys',
    'formatConfig',
    'loadConfig',
    'msgportConfigSchema',
    'msgportFileSchema',
    'redactConfig',
    'startMessaging',
  ]);
});
