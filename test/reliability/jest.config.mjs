// Jest configuration of the reliability suite (issue 7). It is NOT part of the root jest.config.js:
// the suite kills and restarts the local brokers, so it must never run in parallel with other
// broker tests. Run it with scripts/reliability.sh (which .ci/run calls after the main suite), or:
//   NODE_OPTIONS=--experimental-vm-modules npx jest -c test/reliability/jest.config.mjs --runInBand
import { fileURLToPath } from 'node:url';
import { createDefaultEsmPreset } from 'ts-jest';

const rootDir = fileURLToPath(new URL('../..', import.meta.url));
const preset = createDefaultEsmPreset({ tsconfig: '<rootDir>/tsconfig.test.json' });

export default {
  ...preset,
  rootDir,
  displayName: 'reliability',
  testEnvironment: 'node',
  // Scenario files are *.reliability.ts, so the root config's `test/**/*.test.ts` never picks them up.
  testMatch: ['<rootDir>/test/reliability/**/*.reliability.ts'],
  moduleNameMapper: {
    '^@msgport/(core|memory|kafka|rabbitmq|autoconfig|testkit)$': '<rootDir>/packages/$1/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  globalSetup: '<rootDir>/test/reliability/support/global-setup.mjs',
  globalTeardown: '<rootDir>/test/reliability/support/global-teardown.mjs',
  testSequencer: '<rootDir>/test/reliability/support/sequencer.cjs',
  maxWorkers: 1,
};
