import { expect, it } from '@jest/globals';

it('@msgport/kafka exports exactly its documented public API', async () => {
  expect(Object.keys(await import('@msgport/kafka')).sort()).toEqual(['KafkaAdapter']);
});
