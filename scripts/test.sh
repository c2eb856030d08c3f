#!/usr/bin/env bash
# The full test suite: starts the Kafka broker (scripts/kafka.sh), checks that RabbitMQ answers,
# runs every Jest project against the real brokers, and stops Kafka again if it started it.
# A broker that cannot be reached fails the run; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

RABBIT_HOST="${MSGPORT_RABBITMQ_HOST:-127.0.0.1}"
RABBIT_PORT="${MSGPORT_RABBITMQ_PORT:-5672}"

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

if ! port_open "$RABBIT_HOST" "$RABBIT_PORT"; then
  if command -v rabbitmq-server >/dev/null 2>&1 && [ "$RABBIT_HOST" = 127.0.0.1 ]; then
    echo "msgport: RabbitMQ is not answering on $RABBIT_HOST:$RABBIT_PORT; starting it (rabbitmq-server -detached)" >&2
    rabbitmq-server -detached >/dev/null 2>&1 || true
    for _ in $(seq 1 60); do port_open "$RABBIT_HOST" "$RABBIT_PORT" && break; sleep 1; done
  fi
  if ! port_open "$RABBIT_HOST" "$RABBIT_PORT"; then
    echo "msgport: FAIL: RabbitMQ is unreachable on $RABBIT_HOST:$RABBIT_PORT. Start it (rabbitmq-server -detached) and run the tests again." >&2
    exit 1
  fi
fi

# Foreign clients the interoperability tests run beside msgport (Debian packages).
if ! command -v kcat >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "msgport: installing kcat (librdkafka's CLI, for the Kafka interoperability tests) with apt-get" >&2
    { apt-get update -qq && apt-get install -y -qq kcat; } >/dev/null 2>&1 || true
  fi
  if ! command -v kcat >/dev/null 2>&1; then
    echo "msgport: FAIL: kcat is not installed and could not be installed. Install it (apt-get install -y kcat) and run the tests again." >&2
    exit 1
  fi
fi

# PyFly's RabbitMQ client, for the PyFly interoperability test (Debian's python3, as PyFly uses it).
if ! /usr/bin/python3 -c 'import aio_pika' >/dev/null 2>&1 && [ -z "${MSGPORT_PYTHON:-}" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "msgport: installing python3-aio-pika (PyFly's RabbitMQ client, for the PyFly interoperability test) with apt-get" >&2
    { apt-get install -y -qq python3-aio-pika || { apt-get update -qq && apt-get install -y -qq python3-aio-pika; }; } >/dev/null 2>&1 || true
  fi
  if ! /usr/bin/python3 -c 'import aio_pika' >/dev/null 2>&1; then
    echo "msgport: FAIL: python3-aio-pika is not installed and could not be installed. Install it (apt-get install -y python3-aio-pika) or set MSGPORT_PYTHON, and run the tests again." >&2
    exit 1
  fi
fi

started_kafka=0
if ! scripts/kafka.sh status >/dev/null 2>&1; then
  scripts/kafka.sh start
  started_kafka=1
fi
if [ "$started_kafka" = 1 ] && [ "${MSGPORT_KEEP_KAFKA:-0}" != 1 ]; then
  trap 'scripts/kafka.sh stop || true' EXIT
fi

NODE_OPTIONS="${NODE_OPTIONS:-} --experimental-vm-modules" npx jest --ci "$@"
