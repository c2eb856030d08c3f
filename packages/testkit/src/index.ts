export {
  DEFAULT_CAPABILITIES,
  runConformanceSuite,
  type ConformanceCapabilities,
  type ConformanceSuiteOptions,
} from './run-conformance-suite.js';
export { collect, type CollectOptions, type Collector } from './collect.js';
export { uniqueName } from './unique-name.js';
