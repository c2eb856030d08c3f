#!/usr/bin/env bash
# A three-node RabbitMQ cluster on 127.0.0.1, beside the RabbitMQ service (which keeps 5672/25672
# and is never touched), for the production topology tests (issue 11): quorum queues, node kills.
#
# Usage: scripts/rabbitmq-cluster.sh start|stop|status|kill N|restart N|urls|ctl ARGS...   (N = 1, 2 or 3)
#
#   start      Start the cluster. With no node running it wipes the nodes' data and forms a FRESH
#              cluster (nodes 2 and 3 join node 1), unless RABBITMQ_KEEP_DATA=1 and earlier data
#              exists (then all three start on it together). With some nodes running (after
#              `kill N`), it starts the missing ones on their data. No-op success when all three
#              are up. Waits until every node serves AMQP and the cluster has all three running.
#   stop       Stop every node (rabbitmqctl stop, SIGKILL after RABBITMQ_STOP_TIMEOUT s). Data is kept.
#   status     Print each node's state; exit 0 only when all three are up and clustered.
#   kill N     SIGKILL node N's Erlang VM (beam.smp) at once (fault tests). Its data stays on disk.
#   restart N  Stop node N gracefully if it runs, start it again on its data, and wait until it
#              serves AMQP and has rejoined the cluster (running on the other nodes' view too).
#   urls       Print the AMQP URLs: amqp://guest:guest@127.0.0.1:5673,...:5674,...:5675
#   ctl ARGS   Run `rabbitmqctl ARGS` as the rabbitmq user against the first running node (or the
#              node given with -n rmqN@localhost), e.g. `ctl list_queues name type leader members`.
#   queues ARGS  The same with `rabbitmq-queues`, e.g. `queues quorum_status <queue>`.
#
# Node N (1..3): name rmqN@localhost, AMQP 127.0.0.1:$((5672+N)), distribution (clustering and
# CLI) port 127.0.0.1:$((25672+N)), run directory /tmp/msgport-rabbitmq-cluster/nodeN (config,
# mnesia/, log/, startup.log, pid). Nodes run as the `rabbitmq` user (so this script must run
# as root or as that user) and share its Erlang cookie (/var/lib/rabbitmq/.erlang.cookie) and
# the system epmd. No plugins are enabled (no management listener to clash on 15672). The guest
# user works from loopback (RabbitMQ's default `loopback_users`). Cluster settings as in
# production: cluster_partition_handling = pause_minority; quorum queues are the adapter's default.
#
# Environment:
#   MSGPORT_RABBITMQ_CLUSTER_DIR   run directory (default /tmp/msgport-rabbitmq-cluster)
#   RABBITMQ_CLUSTER_PORT          AMQP port of node 1 (default 5673; nodes 2, 3 use the next ones)
#   RABBITMQ_CLUSTER_DIST_PORT     distribution port of node 1 (default 25673; nodes 2, 3: the next ones)
#   RABBITMQ_KEEP_DATA=1           start reuses existing data instead of forming a fresh cluster
#   RABBITMQ_START_TIMEOUT         readiness deadline in seconds (default 120)
#   RABBITMQ_STOP_TIMEOUT          graceful stop deadline in seconds (default 60)
#   RABBITMQ_LIB                   RabbitMQ's scripts (default /usr/lib/rabbitmq/bin)
#   RABBITMQ_CTL_TIMEOUT           seconds after which a rabbitmqctl call is killed (default 30)
#   RABBITMQ_NOFILE                file-descriptor limit (`ulimit -n`) of the nodes (default 65536,
#                                  lowered to the hard limit of this shell; start fails below 4096)
#
# File descriptors: RabbitMQ 3.10 counts 3 file handles per quorum queue member in its
# file_handle_cache against a budget of `ulimit -n` minus ~100 (sockets get 90 % of it), whatever
# files are really open. With the common soft limit of 1,024 the budget is 927: past ~300 quorum
# queues on a node, new connections wait forever in the handshake and `rabbitmqctl status` /
# `stop_app` hang, with nothing in the node's log (test/cluster/repro/qq-fd-limit.sh reproduces
# it). The nodes started here get RABBITMQ_NOFILE.
set -euo pipefail

NODES=(1 2 3)
RUN_DIR=${MSGPORT_RABBITMQ_CLUSTER_DIR:-/tmp/msgport-rabbitmq-cluster}
BASE_PORT=${RABBITMQ_CLUSTER_PORT:-5673}
BASE_DIST_PORT=${RABBITMQ_CLUSTER_DIST_PORT:-25673}
START_TIMEOUT=${RABBITMQ_START_TIMEOUT:-120}
NOFILE=${RABBITMQ_NOFILE:-65536}
MIN_NOFILE=4096
STOP_TIMEOUT=${RABBITMQ_STOP_TIMEOUT:-60}
RMQ_LIB=${RABBITMQ_LIB:-/usr/lib/rabbitmq/bin}
RMQ_USER=rabbitmq
RMQ_HOME=/var/lib/rabbitmq

log() { printf 'rabbitmq-cluster.sh: %s\n' "$*" >&2; }
die() { printf 'rabbitmq-cluster.sh: ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[[ $BASE_PORT =~ ^[0-9]+$ && $BASE_DIST_PORT =~ ^[0-9]+$ ]] || die "RABBITMQ_CLUSTER_PORT / RABBITMQ_CLUSTER_DIST_PORT must be numbers"
for p in $(seq "$BASE_PORT" $((BASE_PORT + 2))) $(seq "$BASE_DIST_PORT" $((BASE_DIST_PORT + 2))); do
  [[ $p != 5672 && $p != 25672 ]] || die "port $p belongs to the RabbitMQ service; choose other RABBITMQ_CLUSTER_PORT / RABBITMQ_CLUSTER_DIST_PORT"
done

node_name() { echo "rmq$1@localhost"; }
node_dir() { echo "$RUN_DIR/node$1"; }
node_port() { echo $((BASE_PORT + $1 - 1)); }
node_dist_port() { echo $((BASE_DIST_PORT + $1 - 1)); }
pid_file() { echo "$(node_dir "$1")/pid"; }
startup_log() { echo "$(node_dir "$1")/startup.log"; }
mnesia_base() { echo "$(node_dir "$1")/mnesia"; }
log_base() { echo "$(node_dir "$1")/log"; }
has_data() { [[ -d $(mnesia_base "$1")/$(node_name "$1") ]]; }

check_node_arg() {
  [[ ${1:-} =~ ^[123]$ ]] || die "expected a node number 1, 2 or 3, got '${1:-}' (usage: scripts/rabbitmq-cluster.sh kill|restart N)"
}

require_rabbitmq() {
  [[ -x $RMQ_LIB/rabbitmq-server && -x $RMQ_LIB/rabbitmqctl ]] \
    || die "RabbitMQ not found in $RMQ_LIB (apt-get install rabbitmq-server, or set RABBITMQ_LIB)"
  id -u "$RMQ_USER" >/dev/null 2>&1 || die "there is no '$RMQ_USER' user (it comes with the rabbitmq-server package)"
  [[ -r $RMQ_HOME/.erlang.cookie || $(id -u) == 0 ]] \
    || die "cannot read the Erlang cookie $RMQ_HOME/.erlang.cookie (run as root or as $RMQ_USER)"
  if [[ $(id -u) != 0 && $(id -un) != "$RMQ_USER" ]]; then
    die "run this script as root or as the $RMQ_USER user (the nodes run as $RMQ_USER and share its Erlang cookie)"
  fi
}

# as_rabbitmq: runs a command as the rabbitmq user (its home, loopback-only Erlang distribution).
# shellcheck source=lib/as-rabbitmq.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/as-rabbitmq.sh"

# The CLI can hang for good on a node that is starting or joining (seen: an `eval` of
# rabbit_nodes:all_running() still waiting after 8 minutes): every call is killed after a bound.
ctl_within() { # SECONDS NODE ARGS...: rabbitmqctl against node N, killed after SECONDS
  local secs=$1 n=$2
  shift 2
  # From /: the rabbitmq user may not be allowed into the caller's directory (a clone made with
  # mktemp -d is mode 700), and the CLI then fails or hangs loading its files (erl_prim_loader file_error).
  (cd / && as_rabbitmq timeout -s KILL "$secs" "$RMQ_LIB/rabbitmqctl" -q -n "$(node_name "$n")" "$@")
}

ctl() { # NODE ARGS...: rabbitmqctl against node N, killed after RABBITMQ_CTL_TIMEOUT seconds (a query)
  ctl_within "${RABBITMQ_CTL_TIMEOUT:-30}" "$@"
}

# ------------------------------------------------------------- process --

pid_alive() { [[ -r /proc/$1/stat ]] && [[ $(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) != Z ]]; }

pid_is_ours() { # PID NODE: alive AND the Erlang VM of that node (guards against PID reuse)
  local cmd
  pid_alive "$1" || return 1
  # RabbitMQ 3.10 passes the node name in the environment, not on the command line.
  [[ $(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) == *beam* ]] || return 1
  tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | grep -qxF "RABBITMQ_NODENAME=$(node_name "$2")"
}

running_pid() { # NODE -> PID of its running beam.smp, or return 1
  local pid file
  file=$(pid_file "$1")
  [[ -f $file ]] || return 1
  pid=$(tr -d '[:space:]' <"$file" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  pid_is_ours "$pid" "$1" || return 1
  echo "$pid"
}

port_open() { timeout 2 bash -c ": <>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# An AMQP 0-9-1 protocol header; a broker that serves AMQP answers with connection.start (frame
# type 1, channel 0, class 10 method 10).
amqp_ok() {
  local out
  out=$(timeout 3 bash -c '
    exec 3<>/dev/tcp/127.0.0.1/'"$1"' || exit 1
    printf "AMQP\x00\x00\x09\x01" >&3
    head -c 11 <&3 | od -An -tx1' 2>/dev/null) || return 1
  [[ $(echo $out) == "01 00 00 "*" 00 0a 00 0a" ]]
}

who_listens() {
  if command -v ss >/dev/null 2>&1; then ss -Hltnp "sport = :$1" 2>/dev/null | head -n 3 || true; fi
}

wait_gone() { # PID SECONDS
  local pid=$1 deadline=$((SECONDS + $2))
  while pid_alive "$pid"; do
    (( SECONDS < deadline )) || return 1
    sleep 0.2
  done
}

# The nodes that node N reports as running members of its cluster.
running_nodes() { # NODE
  ctl "$1" eval 'io:format("~s~n", [string:join([atom_to_list(N) || N <- rabbit_nodes:all_running()], " ")]).' 2>/dev/null \
    | head -n 1
}

node_serving() { # NODE: beam alive, rabbit app running, AMQP answers
  running_pid "$1" >/dev/null && amqp_ok "$(node_port "$1")" && ctl "$1" await_startup --timeout 5 >/dev/null 2>&1
}

# True when node N serves AMQP and every one of the nodes it reports running agrees N is running.
node_clustered() { # NODE EXPECTED_NODES...
  local n=$1 m view
  shift
  node_serving "$n" || return 1
  for m in "$@"; do
    view=$(running_nodes "$m") || return 1
    [[ " $view " == *" $(node_name "$n") "* ]] || return 1
  done
}

show_log_tail() { # NODE
  local f
  for f in "$(startup_log "$1")" "$(log_base "$1")/$(node_name "$1").log"; do
    if [[ -s $f ]]; then
      log "last 25 lines of $f:"
      tail -n 25 "$f" >&2 || true
    fi
  done
}

lock_run_dir() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/.lock"
  flock -w 600 9 || die "timed out waiting for another scripts/rabbitmq-cluster.sh on $RUN_DIR"
}

# ------------------------------------------------------------ commands --

write_config() { # NODE
  local n=$1 dir
  dir=$(node_dir "$n")
  mkdir -p "$dir" "$(mnesia_base "$n")" "$(log_base "$n")"
  cat >"$dir/rabbitmq.conf" <<EOF
# Generated by scripts/rabbitmq-cluster.sh; rewritten on every start.
listeners.tcp.default = 127.0.0.1:$(node_port "$n")
cluster_partition_handling = pause_minority
loopback_users.guest = true
log.file.level = info
log.console = false
EOF
  echo '[].' >"$dir/enabled_plugins"
  # Replaces /etc/rabbitmq/rabbitmq-env.conf (which names the service's node) for this node.
  cat >"$dir/rabbitmq-env.conf" <<EOF
ERL_EPMD_ADDRESS=127.0.0.1
EOF
  chown -R "$RMQ_USER:$RMQ_USER" "$dir"
  chmod 755 "$RUN_DIR"
}

# The `ulimit -n` the nodes get: RABBITMQ_NOFILE, or the hard limit when that is lower.
node_nofile() {
  local want=$NOFILE hard
  [[ $want =~ ^[0-9]+$ ]] || die "RABBITMQ_NOFILE must be a number, got '$want'"
  hard=$(ulimit -Hn)
  if [[ $hard != unlimited ]] && (( want > hard )); then want=$hard; fi
  (( want >= MIN_NOFILE )) || die "the nodes would get ulimit -n $want (RABBITMQ_NOFILE $NOFILE, hard limit $hard): RabbitMQ then stops accepting connections after a few hundred quorum queues; both RABBITMQ_NOFILE and the hard limit (ulimit -Hn) must be at least $MIN_NOFILE"
  echo "$want"
}

launch() { # NODE: starts it in the background (its data as it is)
  local n=$1 dir nofile
  dir=$(node_dir "$n")
  nofile=$(node_nofile)
  rm -f "$(pid_file "$n")"
  [[ -f $(startup_log "$n") ]] && mv -f "$(startup_log "$n")" "$(startup_log "$n").prev"
  local env=(
    RABBITMQ_NODENAME="$(node_name "$n")"
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    RABBITMQ_NODE_PORT="$(node_port "$n")"
    RABBITMQ_DIST_PORT="$(node_dist_port "$n")"
    RABBITMQ_MNESIA_BASE="$(mnesia_base "$n")"
    RABBITMQ_LOG_BASE="$(log_base "$n")"
    RABBITMQ_PID_FILE="$(pid_file "$n")"
    RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
    RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
    RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
    RABBITMQ_SERVER_START_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  )
  # The node writes its beam.smp PID to its PID file (RABBITMQ_PID_FILE) once the VM runs.
  (
    cd "$dir"
    exec 9>&-
    ulimit -n "$nofile"
    exec setsid nohup bash -c "$(declare -f as_rabbitmq); RMQ_USER=$RMQ_USER RMQ_HOME=$RMQ_HOME"' as_rabbitmq "$@"' _ \
      "${env[@]}" "$RMQ_LIB/rabbitmq-server" </dev/null >>"$(startup_log "$n")" 2>&1
  ) &
}

stop_nodes() { # graceful|kill NODE...
  local mode=$1 n pid pids=() nodes=()
  shift
  for n in "$@"; do
    if pid=$(running_pid "$n"); then
      if [[ $mode == kill ]]; then
        log "killing node $n ($(node_name "$n"), beam pid $pid) with SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
      else
        log "stopping node $n ($(node_name "$n"), beam pid $pid)"
        # rabbitmqctl stop returns once the node has stopped; SIGTERM is the fallback.
        ( ctl_within "${RABBITMQ_STOP_TIMEOUT:-60}" "$n" stop >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true ) &
      fi
      pids+=("$pid")
      nodes+=("$n")
    fi
  done
  local i deadline
  for i in "${!nodes[@]}"; do
    n=${nodes[$i]}
    pid=${pids[$i]}
    if [[ $mode != kill ]] && ! wait_gone "$pid" "$STOP_TIMEOUT"; then
      log "node $n (pid $pid) still alive after ${STOP_TIMEOUT} s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait_gone "$pid" 15 || die "node $n (pid $pid) survived SIGKILL"
    rm -f "$(pid_file "$n")"
    deadline=$((SECONDS + 10))
    while port_open "$(node_port "$n")" && (( SECONDS < deadline )); do sleep 0.2; done
  done
  wait 2>/dev/null || true
}

check_ports_free() { # NODE...
  local n p
  for n in "$@"; do
    for p in "$(node_port "$n")" "$(node_dist_port "$n")"; do
      if port_open "$p"; then
        who_listens "$p" >&2
        die "127.0.0.1:$p (node $n) is already in use by another process, not a node started by this script from $RUN_DIR. Free it, or set RABBITMQ_CLUSTER_PORT / RABBITMQ_CLUSTER_DIST_PORT."
      fi
    done
  done
}

wait_serving() { # NODE...: until each serves AMQP (returns 1 on timeout or when one died)
  local deadline=$((SECONDS + START_TIMEOUT)) n pending
  while (( SECONDS < deadline )); do
    pending=0
    for n in "$@"; do
      if [[ -f $(pid_file "$n") ]] && ! running_pid "$n" >/dev/null; then
        log "node $n exited during start-up"
        return 1
      fi
      node_serving "$n" || pending=1
    done
    (( pending == 0 )) && return 0
    sleep 1
  done
  for n in "$@"; do node_serving "$n" || log "node $n was not serving AMQP on 127.0.0.1:$(node_port "$n") within ${START_TIMEOUT} s"; done
  return 1
}

wait_clustered() { # NODE...: until each is running in the view of every running node
  local deadline=$((SECONDS + START_TIMEOUT)) n others pending
  while (( SECONDS < deadline )); do
    pending=0
    for n in "$@"; do
      others=()
      local m
      for m in "${NODES[@]}"; do running_pid "$m" >/dev/null && others+=("$m"); done
      node_clustered "$n" "${others[@]}" || pending=1
    done
    (( pending == 0 )) && return 0
    sleep 1
  done
  for n in "$@"; do log "node $n: running nodes in its view: $(running_nodes "$n" || echo '?')"; done
  return 1
}

start_nodes() { # NODE...: launch them on their data and wait until they serve and are clustered
  local n t0=$SECONDS
  for n in "$@"; do
    write_config "$n"
    launch "$n"
    log "starting node $n ($(node_name "$n")) on 127.0.0.1:$(node_port "$n"), ulimit -n $(node_nofile), log $(log_base "$n")/$(node_name "$n").log"
  done
  # The PID file appears once the VM runs; a node that dies before that leaves only its startup log.
  local deadline=$((SECONDS + 30))
  for n in "$@"; do
    while [[ ! -s $(pid_file "$n") ]] && (( SECONDS < deadline )); do sleep 0.2; done
    if [[ ! -s $(pid_file "$n") ]]; then
      show_log_tail "$n"
      die "node $n did not start (no PID file $(pid_file "$n") after 30 s)"
    fi
  done
  if ! wait_serving "$@"; then
    for n in "$@"; do node_serving "$n" || show_log_tail "$n"; done
    die "RabbitMQ cluster node(s) $* failed to start (logs under $RUN_DIR/nodeN/)"
  fi
  log "node(s) $* serving after $((SECONDS - t0)) s"
}

form_cluster() { # nodes 2 and 3 (fresh, serving) join node 1
  local n step out
  for n in 2 3; do
    for step in stop_app "join_cluster $(node_name 1)" start_app; do
      # shellcheck disable=SC2086 # step is a command and its argument
      out=$(ctl_within "${RABBITMQ_START_TIMEOUT:-120}" "$n" $step 2>&1) || { printf '%s\n' "$out" >&2; die "rabbitmqctl -n $(node_name "$n") $step failed"; }
    done
    log "node $n joined $(node_name 1)"
  done
}

cmd_start() {
  local n running=() missing=()
  for n in "${NODES[@]}"; do
    if running_pid "$n" >/dev/null; then running+=("$n"); else missing+=("$n"); fi
  done
  require_rabbitmq
  if (( ${#missing[@]} == 0 )); then
    wait_clustered "${NODES[@]}" || die "the three nodes run but are not all serving and clustered; see scripts/rabbitmq-cluster.sh status"
    log "all three nodes already running; nothing to do"
    echo "RabbitMQ cluster ready on $(urls)"
    return 0
  fi
  check_ports_free "${missing[@]}"
  if (( ${#running[@]} > 0 )); then
    for n in "${missing[@]}"; do has_data "$n" || die "node(s) ${running[*]} run but node $n has no data; run scripts/rabbitmq-cluster.sh stop, then start"; done
    log "node(s) ${running[*]} already running; starting node(s) ${missing[*]} on their data"
    start_nodes "${missing[@]}"
  elif [[ ${RABBITMQ_KEEP_DATA:-0} == 1 ]] && has_data 1 && has_data 2 && has_data 3; then
    log "reusing the data in $RUN_DIR (all three nodes start together: each waits for the last one that stopped)"
    start_nodes "${NODES[@]}"
  else
    [[ ${RABBITMQ_KEEP_DATA:-0} == 1 ]] && log "no complete earlier data in $RUN_DIR; forming a fresh cluster"
    for n in "${NODES[@]}"; do rm -rf "$(node_dir "$n")"; done
    start_nodes "${NODES[@]}"
    form_cluster
  fi
  wait_clustered "${NODES[@]}" || die "the nodes serve AMQP but did not all join one cluster within ${START_TIMEOUT} s"
  echo "RabbitMQ cluster ready on $(urls)"
}

cmd_restart() { # NODE
  local n=$1
  require_rabbitmq
  has_data "$n" || die "no data for node $n in $RUN_DIR; run scripts/rabbitmq-cluster.sh start first"
  stop_nodes graceful "$n"
  check_ports_free "$n"
  local t0=$SECONDS
  start_nodes "$n"
  wait_clustered "$n" || die "node $n serves AMQP but has not rejoined the cluster within ${START_TIMEOUT} s"
  log "node $n rejoined the cluster after $((SECONDS - t0)) s"
  echo "RabbitMQ cluster node $n ready on 127.0.0.1:$(node_port "$n")"
}

cmd_kill() { # NODE
  local n=$1
  if running_pid "$n" >/dev/null; then
    stop_nodes kill "$n"
    log "node $n killed; data kept in $(node_dir "$n") (bring it back with scripts/rabbitmq-cluster.sh restart $n)"
  else
    log "node $n is not running"
  fi
}

cmd_stop() {
  require_rabbitmq
  stop_nodes graceful "${NODES[@]}"
  log "cluster stopped; data kept in $RUN_DIR (reuse it with RABBITMQ_KEEP_DATA=1 scripts/rabbitmq-cluster.sh start)"
}

cmd_status() {
  local n pid up=0 view=''
  for n in "${NODES[@]}"; do
    if pid=$(running_pid "$n"); then
      if node_serving "$n"; then
        view=$(running_nodes "$n" || true)
        echo "node $n: up ($(node_name "$n"), beam pid $pid), AMQP 127.0.0.1:$(node_port "$n"), running cluster members: ${view:-?}"
        [[ $(wc -w <<<"$view") == "${#NODES[@]}" ]] && up=$((up + 1))
      else
        echo "node $n: process alive (pid $pid) but not serving on 127.0.0.1:$(node_port "$n") (starting, paused or unhealthy); log $(log_base "$n")"
      fi
    else
      echo "node $n: not running (127.0.0.1:$(node_port "$n"))"
    fi
  done
  (( up == ${#NODES[@]} ))
}

urls() {
  local n list=''
  for n in "${NODES[@]}"; do list+="${list:+,}amqp://guest:guest@127.0.0.1:$(node_port "$n")"; done
  echo "$list"
}

cmd_tool() { # rabbitmqctl|rabbitmq-queues ARGS...
  local tool=$1 n target=''
  shift
  if [[ ${1:-} == -n ]]; then
    target=${2:-}
    shift 2 || die "-n needs a node name"
  else
    for n in "${NODES[@]}"; do
      if running_pid "$n" >/dev/null; then target=$(node_name "$n"); break; fi
    done
    [[ -n $target ]] || die "no cluster node is running"
  fi
  (cd / && as_rabbitmq "$RMQ_LIB/$tool" -q -n "$target" "$@")
}

main() {
  local cmd=${1:-}
  case $cmd in
    start) lock_run_dir; cmd_start ;;
    stop) lock_run_dir; cmd_stop ;;
    kill) check_node_arg "${2:-}"; lock_run_dir; cmd_kill "$2" ;;
    restart) check_node_arg "${2:-}"; lock_run_dir; cmd_restart "$2" ;;
    status) cmd_status ;;
    urls) urls ;;
    ctl) shift; require_rabbitmq; cmd_tool rabbitmqctl "$@" ;;
    queues) shift; require_rabbitmq; cmd_tool rabbitmq-queues "$@" ;;
    -h|--help|help) usage ;;
    *) [[ -n $cmd ]] && log "unknown command '$cmd'"; usage ;;
  esac
}

main "$@"
