#!/usr/bin/env bash
# Stress mode of the conformance suite: runs it N times in parallel (separate Jest processes, one
# broker instance set each), as Watermill's TestPubSubStressTest does. Every run must pass.
#
# Usage: scripts/conformance-stress.sh [N] [adapter ...]     (default N = 3, adapters: memory kafka rabbitmq)
#   MSGPORT_CONFORMANCE_SIZES=full   Watermill's volumes (default: short)
# Needs the brokers the chosen adapters test against (scripts/kafka.sh start; RabbitMQ on 5672).
# The broker-restart case is left out: restarting the broker under the other parallel runs would
# test the restart, not the parallel runs (it runs in `npm test`).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3}
shift || true
adapters=("$@")
[ ${#adapters[@]} -gt 0 ] || adapters=(memory kafka rabbitmq)
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "msgport: FAIL: N must be a positive integer, got '$n'" >&2; exit 2; }
files=()
for adapter in "${adapters[@]}"; do
  file="packages/$adapter/test/conformance.test.ts"
  [ -f "$file" ] || { echo "msgport: FAIL: no conformance test for adapter '$adapter' ($file)" >&2; exit 2; }
  files+=("$file")
done
logs=$(mktemp -d "${TMPDIR:-/tmp}/msgport-stress-XXXXXX")
echo "msgport: running the conformance suite ${n}× in parallel for ${adapters[*]} (logs in $logs)"
start=$SECONDS
pids=()
for i in $(seq 1 "$n"); do
  NODE_OPTIONS="${NODE_OPTIONS:-} --experimental-vm-modules" npx jest --ci "${files[@]}" -t '^(?!.*broker restart)' \
    >"$logs/run-$i.log" 2>&1 &
  pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
  if wait "${pids[$i]}"; then
    echo "run $((i + 1)): passed ($(grep -E '^Tests:' "$logs/run-$((i + 1)).log" | tail -1))"
  else
    failed=1
    echo "run $((i + 1)): FAILED; its failures:" >&2
    grep -E '✕|● ' "$logs/run-$((i + 1)).log" | head -20 >&2 || true
  fi
done
echo "msgport: ${n} parallel runs took $((SECONDS - start)) s"
exit $failed
