// Runs the reliability scenarios in file-name order (s1-…, s2-…), one after the other.
class ReliabilitySequencer {
  sort(tests) {
    return [...tests].sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
  }
  cacheResults() {}
  allFailedTests(tests) {
    return tests;
  }
  shard(tests) {
    return tests;
  }
}
module.exports = ReliabilitySequencer;
