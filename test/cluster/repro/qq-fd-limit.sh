#!/usr/bin/env bash
# Reproduction of the single-node RabbitMQ wedge (issue 11): ~100 quorum queues declared at once on
# a node whose file-descriptor limit is 1,024 (the soft `ulimit -n` the RabbitMQ service of this
# machine runs with). It starts a throwaway single node of its own (never the service on 5672,
# never the cluster of scripts/rabbitmq-cluster.sh), declares QUEUES quorum queues from CONNECTIONS
# connections at once (the conformance suite's 20 concurrent group subscriptions declare 5 quorum
# queues each), then checks that the node still answers: a fresh AMQP handshake, a queue
# declaration on a new connection and `rabbitmqctl status`. It prints the node's file-descriptor
# figures and the errors of its log, and removes the node.
#
#   bash test/cluster/repro/qq-fd-limit.sh              # ulimit -n 1024, 100 quorum queues
#   FD_LIMIT=65536 bash test/cluster/repro/qq-fd-limit.sh
#
# Exit code 1 when the node stopped answering (the wedge), 0 when it answered throughout.
#
# Environment: FD_LIMIT (default 1024), QUEUES (default 100), CONNECTIONS (default 20),
# REPRO_PORT (default 5690; distribution port REPRO_PORT+20000), REPRO_DIR
# (default /tmp/msgport-qq-fd-repro). Runs as root or as the rabbitmq user, like scripts/rabbitmq-cluster.sh.
set -euo pipefail
cd "$(dirname "$0")/../../.."

FD_LIMIT=${FD_LIMIT:-1024}
QUEUES=${QUEUES:-100}
CONNECTIONS=${CONNECTIONS:-20}
PORT=${REPRO_PORT:-5690}
DIST_PORT=$((PORT + 20000))
DIR=${REPRO_DIR:-/tmp/msgport-qq-fd-repro}
NODE=msgport-qq-fd-repro@localhost
RMQ_LIB=${RABBITMQ_LIB:-/usr/lib/rabbitmq/bin}
RMQ_USER=rabbitmq
RMQ_HOME=/var/lib/rabbitmq

log() { printf 'qq-fd-limit.sh: %s\n' "$*" >&2; }
[[ $PORT != 5672 && $PORT != 5673 && $PORT != 5674 && $PORT != 5675 ]] || { log "REPRO_PORT $PORT is taken by the service or the cluster"; exit 2; }

# shellcheck source=../../../scripts/lib/as-rabbitmq.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../../scripts/lib/as-rabbitmq.sh"
ctl() { timeout -s KILL "${CTL_TIMEOUT:-20}" bash -c "$(declare -f as_rabbitmq); RMQ_USER=$RMQ_USER RMQ_HOME=$RMQ_HOME"' as_rabbitmq "$@"' _ "$RMQ_LIB/rabbitmqctl" -q -n "$NODE" "$@"; }

pid=''
cleanup() {
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    ctl stop >/dev/null 2>&1 || kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

rm -rf "$DIR"
mkdir -p "$DIR/mnesia" "$DIR/log"
cat >"$DIR/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$PORT
loopback_users.guest = true
log.file.level = info
log.console = false
EOF
echo '[].' >"$DIR/enabled_plugins"
echo 'ERL_EPMD_ADDRESS=127.0.0.1' >"$DIR/rabbitmq-env.conf"
chown -R "$RMQ_USER:$RMQ_USER" "$DIR"

log "starting $NODE on 127.0.0.1:$PORT with ulimit -n $FD_LIMIT"
(
  ulimit -n "$FD_LIMIT"
  exec setsid bash -c "$(declare -f as_rabbitmq); RMQ_USER=$RMQ_USER RMQ_HOME=$RMQ_HOME"' as_rabbitmq "$@"' _ \
    RABBITMQ_NODENAME="$NODE" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$PORT" \
    RABBITMQ_DIST_PORT="$DIST_PORT" RABBITMQ_MNESIA_BASE="$DIR/mnesia" RABBITMQ_LOG_BASE="$DIR/log" \
    RABBITMQ_PID_FILE="$DIR/pid" RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/enabled_plugins" \
    RABBITMQ_CONFIG_FILE="$DIR/rabbitmq.conf" RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq-env.conf" \
    RABBITMQ_SERVER_START_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    "$RMQ_LIB/rabbitmq-server" </dev/null >"$DIR/startup.log" 2>&1
) &
for _ in $(seq 150); do [[ -s $DIR/pid ]] && break; sleep 0.2; done
pid=$(tr -d '[:space:]' <"$DIR/pid")
ctl await_startup --timeout 120 >/dev/null
log "node up (beam pid $pid): $(grep 'open files' "/proc/$pid/limits")"

fds() {
  local info
  info=$(CTL_TIMEOUT=10 ctl eval 'io:format("~w ports, file_handle_cache ~w~n", [length(erlang:ports()), file_handle_cache:info([total_used, total_limit, sockets_used, sockets_limit])]).' 2>&1 | head -n 1) || info="file_handle_cache:info/1 did not answer within 10 s (Erlang ports: $(CTL_TIMEOUT=10 ctl eval 'length(erlang:ports()).' 2>&1 | head -n 1))"
  echo "$(ls "/proc/$pid/fd" 2>/dev/null | wc -l) fds open; $info"
}
log "before: $(fds)"
status=0
node - "$PORT" "$QUEUES" "$CONNECTIONS" <<'EOF' || status=1
const { createRequire } = require('node:module');
const amqp = createRequire(`${process.cwd()}/package.json`)('amqplib');
const [port, queues, connections] = process.argv.slice(2).map(Number);
const url = `amqp://guest:guest@127.0.0.1:${port}`;
const withTimeout = (what, promise, ms) =>
  Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms))]);
(async () => {
  const t0 = Date.now();
  const conns = await Promise.all(Array.from({ length: connections }, () => amqp.connect(url)));
  let declared = 0;
  await withTimeout(
    `declaring ${queues} quorum queues`,
    Promise.all(
      conns.map(async (conn, c) => {
        const channel = await conn.createChannel();
        for (let i = c; i < queues; i += connections) {
          await channel.assertQueue(`qq-fd-${i}`, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
          declared++;
        }
      }),
    ),
    120_000,
  ).catch((error) => {
    console.error(`${error.message} (${declared} declared)`);
    process.exitCode = 1;
  });
  console.error(`declared ${declared} of ${queues} quorum queues in ${Date.now() - t0} ms`);
  // What a new application would do now: connect and declare.
  try {
    const conn = await withTimeout('a fresh AMQP connection', amqp.connect(url), 15_000);
    const channel = await withTimeout('a channel', conn.createChannel(), 15_000);
    await withTimeout('declaring one more quorum queue', channel.assertQueue('qq-fd-probe', { durable: true, arguments: { 'x-queue-type': 'quorum' } }), 15_000);
    console.error('the node still answers: fresh connection and declaration OK');
    await conn.close();
  } catch (error) {
    console.error(`the node stopped answering: ${error.message}`);
    process.exitCode = 1;
  }
  for (const conn of conns) conn.close().catch(() => undefined);
  setTimeout(() => process.exit(), 500);
})();
EOF
log "after: $(fds)"
if out=$(ctl status 2>&1); then
  log "rabbitmqctl status answers: $(grep -iA3 'file descriptors' <<<"$out" | tr '\n' ' ')"
else
  log "rabbitmqctl status did not answer within ${CTL_TIMEOUT:-20} s"
  status=1
fi
log "errors in the node log (first 15):"
grep -iE 'emfile|enfile|error|crash' "$DIR/log/$NODE.log" | head -n 15 >&2 || true
exit $status
