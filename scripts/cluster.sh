#!/usr/bin/env bash
# The production-topology leg (issue 11), one cluster after the other:
#
# Kafka: a three-broker cluster with replication 3 and min.insync.replicas 2
# (scripts/kafka-cluster.sh, 127.0.0.1:19092-19094):
#   1. starts the cluster (or uses it when it is already running, and then leaves it running),
#   2. runs the Kafka conformance suite and the topic-settings tests against it,
#   3. runs the Kafka fault scenarios of test/cluster (k1-k4: real SIGKILLs and restarts of
#      brokers, child-process applications),
#   4. stops the cluster it started.
# RabbitMQ: three clustered nodes with quorum queues (scripts/rabbitmq-cluster.sh,
# 127.0.0.1:5673-5675), the same four steps: the RabbitMQ conformance suite with the three URLs
# (failover list), then scenarios r5-r7.
#
# Figures of every scenario go to test/cluster/results/latest.md. Clusters this script started
# are stopped on exit (EXIT trap, also on failure or Ctrl-C). It never touches the shared Kafka
# broker on 127.0.0.1:9092 nor the RabbitMQ service on 5672. It takes several minutes (most of it
# is brokers restarting); run it on its own, not in parallel with other suites that use ports
# 19092-19094 / 19292-19294 / 5673-5675 / 25673-25675.
#
# Usage: scripts/cluster.sh [jest options for the scenarios], e.g. scripts/cluster.sh -t rolling
#   MSGPORT_CLUSTERS=kafka|rabbitmq     only that cluster's leg (default: both, Kafka first)
#   MSGPORT_CLUSTER_CONFORMANCE=LIST    the clusters whose conformance suite runs (default: those of
#                                       MSGPORT_CLUSTERS; `none` for only the scenarios, which is
#                                       what `.ci/run` runs)
#   MSGPORT_CLUSTER_SKIP_CONFORMANCE=1  the same as MSGPORT_CLUSTER_CONFORMANCE=none
#   MSGPORT_KEEP_CLUSTER=1              leave a cluster this script started running
#
# A cluster that cannot start fails the run at once (exit code 1, with the script's reason and the
# tail of the node's log), before any test.
set -euo pipefail
cd "$(dirname "$0")/.."

node scripts/ensure-install.mjs

CLUSTERS=${MSGPORT_CLUSTERS:-kafka,rabbitmq}
case ",$CLUSTERS," in
  *,kafka,* | *,rabbitmq,*) ;;
  *) echo "cluster.sh: MSGPORT_CLUSTERS must name kafka and/or rabbitmq, got '$CLUSTERS'" >&2; exit 2 ;;
esac
want() { [[ ",$CLUSTERS," == *",$1,"* ]]; }

export NODE_OPTIONS="${NODE_OPTIONS:-} --experimental-vm-modules"
CONFORMANCE=${MSGPORT_CLUSTER_CONFORMANCE:-$CLUSTERS}
[ "${MSGPORT_CLUSTER_SKIP_CONFORMANCE:-0}" != 1 ] || CONFORMANCE=none
case ",$CONFORMANCE," in
  ,none, | *,kafka,* | *,rabbitmq,*) ;;
  *) echo "cluster.sh: MSGPORT_CLUSTER_CONFORMANCE must name kafka and/or rabbitmq, or be none; got '$CONFORMANCE'" >&2; exit 2 ;;
esac
conformance() { [[ ",$CONFORMANCE," == *",$1,"* ]]; }
leg_start=$SECONDS
started=()
stop_started() {
  local script
  if [ "${MSGPORT_KEEP_CLUSTER:-0}" != 1 ]; then
    for script in ${started[@]+"${started[@]}"}; do bash "scripts/$script" stop || true; done
  fi
  started=()
}
trap stop_started EXIT

# Starts the cluster of scripts/$1 (recording it for the EXIT trap when this script started it).
cluster_up() {
  local script=$1 t0=$SECONDS
  if ! bash "scripts/$script" status >/dev/null 2>&1; then started+=("$script"); fi
  if ! bash "scripts/$script" start; then
    echo "cluster.sh: ERROR: the cluster of scripts/$script did not start (reason above); its leg cannot run" >&2
    exit 1
  fi
  echo "msgport: $script cluster ready after $((SECONDS - t0)) s" >&2
}

# The scenarios of one cluster (file names k* or r*); the second run appends its rows to the
# figures of the first (results/latest.md has both).
keep_rows=0
scenarios() {
  local files=$1 t0=$SECONDS
  shift
  MSGPORT_CLUSTER_KEEP_ROWS=$keep_rows npx jest -c test/cluster/jest.config.mjs --runInBand --ci "$@" "$files"
  keep_rows=1
  echo "msgport: cluster scenarios $files took $((SECONDS - t0)) s; figures in test/cluster/results/latest.md" >&2
}

if want kafka; then
  leg_start=$SECONDS
  BROKERS=$(bash scripts/kafka-cluster.sh bootstrap)
  cluster_up kafka-cluster.sh
  if conformance kafka; then
    t1=$SECONDS
    # The broker-restart case of the conformance suite restarts one node of the cluster.
    MSGPORT_KAFKA_BROKERS=$BROKERS MSGPORT_KAFKA_REPLICATION_FACTOR=3 MSGPORT_KAFKA_MIN_INSYNC_REPLICAS=2 \
      MSGPORT_KAFKA_RESTART_COMMAND='bash scripts/kafka-cluster.sh restart 2' \
      npx jest --ci packages/kafka/test/conformance.test.ts packages/kafka/test/topic-config.test.ts
    echo "msgport: Kafka conformance on the cluster took $((SECONDS - t1)) s" >&2
  fi
  MSGPORT_KAFKA_CLUSTER_BROKERS=$BROKERS scenarios 'test/cluster/k[0-9]' "$@"
  stop_started # one cluster at a time on a small machine
  echo "msgport: Kafka cluster leg took $((SECONDS - leg_start)) s" >&2
fi

if want rabbitmq; then
  leg_start=$SECONDS
  URLS=$(bash scripts/rabbitmq-cluster.sh urls)
  cluster_up rabbitmq-cluster.sh
  if conformance rabbitmq; then
    t1=$SECONDS
    # The broker-restart case of the conformance suite restarts one node of the cluster.
    MSGPORT_RABBITMQ_URL=$URLS MSGPORT_RABBITMQCTL_NODE=rmq1@localhost MSGPORT_RABBITMQ_QUEUE_TYPE=quorum \
      MSGPORT_RABBITMQ_RESTART_COMMAND='bash scripts/rabbitmq-cluster.sh restart 2' \
      npx jest --ci packages/rabbitmq/test/conformance.test.ts
    echo "msgport: RabbitMQ conformance on the cluster took $((SECONDS - t1)) s" >&2
  fi
  MSGPORT_RABBITMQ_CLUSTER_URLS=$URLS scenarios 'test/cluster/r[0-9]' "$@"
  stop_started
  echo "msgport: RabbitMQ cluster leg took $((SECONDS - leg_start)) s" >&2
fi
