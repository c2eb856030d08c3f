#!/usr/bin/env bash
# The reliability suite (test/reliability, issue 7): real application processes against the real
# brokers, with real faults — Kafka is SIGKILLed and restarted, RabbitMQ is stopped and started,
# consumer processes are SIGKILLed and SIGTERMed. It writes test/reliability/results/latest.md.
#
# Because it kills the local brokers, it runs on its own, serially (jest --runInBand), never in
# parallel with other broker tests: run it after `npm test` (.ci/run does). It takes a few minutes.
#
# Usage: scripts/reliability.sh [jest options], e.g. scripts/reliability.sh -t rabbitmq
#   Needs RabbitMQ on 127.0.0.1:5672 (guest/guest, with rabbitmqctl on PATH) and starts Kafka with
#   scripts/kafka.sh when it is not running (stopping it again at the end). Every broker a scenario
#   takes down is brought back by the scenario itself, by the suite's teardown, and by this script.
set -euo pipefail
cd "$(dirname "$0")/.."

node scripts/ensure-install.mjs

RABBIT_HOST="${MSGPORT_RABBITMQ_HOST:-127.0.0.1}"
RABBIT_PORT="${MSGPORT_RABBITMQ_PORT:-5672}"
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

start_rabbit() {
  if command -v rabbitmqctl >/dev/null 2>&1; then
    # The Erlang node may be up with the application stopped (rabbitmqctl stop_app): start_app.
    rabbitmqctl start_app >/dev/null 2>&1 || rabbitmq-server -detached >/dev/null 2>&1 || true
    for _ in $(seq 1 60); do port_open "$RABBIT_HOST" "$RABBIT_PORT" && return 0; sleep 1; done
  fi
  return 1
}

if ! port_open "$RABBIT_HOST" "$RABBIT_PORT"; then
  echo "msgport: RabbitMQ is not answering on $RABBIT_HOST:$RABBIT_PORT; starting it" >&2
  start_rabbit || { echo "msgport: FAIL: RabbitMQ is unreachable on $RABBIT_HOST:$RABBIT_PORT." >&2; exit 1; }
fi
command -v rabbitmqctl >/dev/null 2>&1 || { echo "msgport: FAIL: the reliability suite needs rabbitmqctl on PATH to restart RabbitMQ." >&2; exit 1; }

started_kafka=0
if ! scripts/kafka.sh status >/dev/null 2>&1; then
  scripts/kafka.sh start
  started_kafka=1
fi

restore() {
  # Last safety net: a scenario interrupted between a fault and its restore leaves a broker down.
  if ! port_open "$RABBIT_HOST" "$RABBIT_PORT"; then start_rabbit || true; fi
  if [ "$started_kafka" = 1 ] && [ "${MSGPORT_KEEP_KAFKA:-0}" != 1 ]; then
    scripts/kafka.sh stop || true
  elif ! scripts/kafka.sh status >/dev/null 2>&1; then
    KAFKA_KEEP_DATA=1 scripts/kafka.sh start || true
  fi
}
trap restore EXIT

NODE_OPTIONS="${NODE_OPTIONS:-} --experimental-vm-modules" npx jest -c test/reliability/jest.config.mjs --runInBand --ci "$@"
