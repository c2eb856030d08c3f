import { expect, it } from '@jest/globals';

it('@msgport/memory exports exactly its documented public API', async () => {
  expect(Object.keys(await import('@msgport/memory')).sort()).toEqual(['InMemoryMessageBroker']);
});
