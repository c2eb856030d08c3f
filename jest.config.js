import { createDefaultEsmPreset } from 'ts-jest';

// Tests resolve workspace packages to their TypeScript sources, so a fresh clone tests without a
// build. ESM mode needs NODE_OPTIONS=--experimental-vm-modules (the `jest` script sets it).
const preset = createDefaultEsmPreset({ tsconfig: '<rootDir>/tsconfig.test.json' });

const moduleNameMapper = {
  '^@msgport/core/adapter$': '<rootDir>/packages/core/src/adapter/index.ts',
  '^@msgport/(core|memory|kafka|rabbitmq|autoconfig|testkit)$': '<rootDir>/packages/$1/src/index.ts',
  '^(\\.{1,2}/.*)\\.js$': '$1',
};

const project = (name, extra = {}) => ({
  ...preset,
  displayName: name,
  rootDir: '.',
  moduleNameMapper,
  testEnvironment: 'node',
  testMatch: [`<rootDir>/packages/${name}/test/**/*.test.ts`],
  ...extra,
});

export default {
  // One worker: some tests restart the shared RabbitMQ broker, which must not overlap other broker tests.
  maxWorkers: 1,
  projects: [
    project('core', { testPathIgnorePatterns: ['\\.experimental\\.test\\.ts$'] }),
    {
      ...project('core'),
      ...createDefaultEsmPreset({ tsconfig: '<rootDir>/tsconfig.test-experimental.json' }),
      displayName: 'core (experimentalDecorators)',
      testMatch: ['<rootDir>/packages/core/test/**/*.experimental.test.ts'],
    },
    project('memory'),
    project('testkit'),
    project('autoconfig'),
    project('kafka'),
    project('rabbitmq'),
    project('examples', { testMatch: ['<rootDir>/examples/*/test/**/*.test.ts', '<rootDir>/test/**/*.test.ts'] }),
  ],
};
