export {
  DEFAULT_CAPABILITIES,
  runConformanceSuite,
  type ConformanceBrokerOverrides,
  type ConformanceCapabilities,
  type ConformanceSuiteOptions,
} from './run-conformance-suite.js';
export { collect, type CollectOptions, type Collector } from './collect.js';
export {
  DEFAULT_FUZZ_RUNS,
  runFuzzSuite,
  type FuzzOptionsTarget,
  type FuzzProperty,
  type FuzzSuiteOptions,
} from './run-fuzz-suite.js';
export { uniqueName } from './unique-name.js';
