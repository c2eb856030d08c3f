import { expect, it } from '@jest/globals';

it('@msgport/testkit exports exactly its documented public API', async () => {
  expect(Object.keys(await import('@msgport/testkit')).sort()).toEqual([
    'DEFAULT_CAPABILITIES',
    'DEFAULT_FUZZ_RUNS',
    'collect',
    'runConformanceSuite',
    'runFuzzSuite',
    'uniqueName',
  ]);
});
