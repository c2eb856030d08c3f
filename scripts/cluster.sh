#!/usr/bin/env bash
# The production-topology leg (issue 11): msgport on a three-broker Kafka cluster with replication
# 3 and min.insync.replicas 2 (scripts/kafka-cluster.sh, 127.0.0.1:19092-19094).
#
#   1. starts the cluster (or uses it when it is already running, and then leaves it running),
#   2. runs the Kafka conformance suite and the topic-settings tests against it,
#   3. runs the fault scenarios of test/cluster (real SIGKILLs and restarts of cluster brokers,
#      child-process applications; figures in test/cluster/results/latest.md),
#   4. stops the cluster it started (EXIT trap, also on failure or Ctrl-C).
#
# It never touches the shared single broker on 127.0.0.1:9092 nor RabbitMQ. It takes several
# minutes (most of it is brokers restarting); run it on its own, not in parallel with other suites
# that use ports 19092-19094 / 19292-19294.
#
# Usage: scripts/cluster.sh [jest options for the scenarios], e.g. scripts/cluster.sh -t rolling
#   MSGPORT_CLUSTER_SKIP_CONFORMANCE=1  only the scenarios
#   MSGPORT_KEEP_CLUSTER=1              leave a cluster this script started running
set -euo pipefail
cd "$(dirname "$0")/.."

node scripts/ensure-install.mjs

BROKERS=$(bash scripts/kafka-cluster.sh bootstrap)
started_cluster=0
if ! bash scripts/kafka-cluster.sh status >/dev/null 2>&1; then
  started_cluster=1
fi
stop_cluster() {
  if [ "$started_cluster" = 1 ] && [ "${MSGPORT_KEEP_CLUSTER:-0}" != 1 ]; then
    bash scripts/kafka-cluster.sh stop || true
  fi
}
trap stop_cluster EXIT
t0=$SECONDS
bash scripts/kafka-cluster.sh start
echo "msgport: cluster ready after $((SECONDS - t0)) s" >&2

export NODE_OPTIONS="${NODE_OPTIONS:-} --experimental-vm-modules"
if [ "${MSGPORT_CLUSTER_SKIP_CONFORMANCE:-0}" != 1 ]; then
  t1=$SECONDS
  # The broker-restart case of the conformance suite restarts one node of the cluster.
  MSGPORT_KAFKA_BROKERS=$BROKERS MSGPORT_KAFKA_REPLICATION_FACTOR=3 MSGPORT_KAFKA_MIN_INSYNC_REPLICAS=2 \
    MSGPORT_KAFKA_RESTART_COMMAND='bash scripts/kafka-cluster.sh restart 2' \
    npx jest --ci packages/kafka/test/conformance.test.ts packages/kafka/test/topic-config.test.ts
  echo "msgport: conformance on the cluster took $((SECONDS - t1)) s" >&2
fi

t2=$SECONDS
MSGPORT_KAFKA_CLUSTER_BROKERS=$BROKERS npx jest -c test/cluster/jest.config.mjs --runInBand --ci "$@"
echo "msgport: cluster scenarios took $((SECONDS - t2)) s; figures in test/cluster/results/latest.md" >&2
