#!/usr/bin/env bash
# Checks the published shape of every package: publint --strict and @arethetypeswrong/cli with
# the esm-only profile. Needs built packages (tsc -b) and pnpm on PATH (publint packs with it).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
status=0
for dir in packages/*/; do
  name=$(node -p "require('./${dir}package.json').name")
  echo "== $name"
  if ! (cd "$dir" && publint --strict); then status=1; fi
  if ! (cd "$dir" && attw --pack . --profile esm-only --format table-flipped); then status=1; fi
done
exit $status
