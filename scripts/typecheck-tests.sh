#!/usr/bin/env bash
# Type-checks every test folder (ts-jest only transpiles tests: tsconfig.test.json sets
# isolatedModules). Each test folder has its own tsconfig mapping @msgport/* to the sources.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for config in packages/*/test/tsconfig*.json examples/*/test/tsconfig*.json test/tsconfig.json; do
  [ -f "$config" ] || continue
  echo "tsc -p $config"
  node node_modules/typescript/bin/tsc -p "$config" || status=1
done
exit $status
