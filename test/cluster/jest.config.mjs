// Jest configuration of the cluster scenarios (issue 11): real application processes against the
// three-broker Kafka cluster of scripts/kafka-cluster.sh, whose brokers the scenarios SIGKILL and
// restart. Not part of the root jest.config.js: run it with scripts/cluster.sh (npm run
// test:cluster), which starts the cluster, runs the Kafka conformance suite on it, then this, and
// stops the cluster. By hand, with the cluster running:
//   NODE_OPTIONS=--experimental-vm-modules npx jest -c test/cluster/jest.config.mjs --runInBand
import { fileURLToPath } from 'node:url';
import { createDefaultEsmPreset } from 'ts-jest';

const rootDir = fileURLToPath(new URL('../..', import.meta.url));
const preset = createDefaultEsmPreset({ tsconfig: '<rootDir>/tsconfig.test.json' });

export default {
  ...preset,
  rootDir,
  displayName: 'cluster',
  testEnvironment: 'node',
  // Scenario files are *.cluster.ts, so the root config's `test/**/*.test.ts` never picks them up.
  testMatch: ['<rootDir>/test/cluster/**/*.cluster.ts'],
  moduleNameMapper: {
    '^@msgport/(core|memory|kafka|rabbitmq|autoconfig|testkit)$': '<rootDir>/packages/$1/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  globalSetup: '<rootDir>/test/cluster/support/global-setup.mjs',
  globalTeardown: '<rootDir>/test/cluster/support/global-teardown.mjs',
  testSequencer: '<rootDir>/test/reliability/support/sequencer.cjs',
  maxWorkers: 1,
};
