#!/usr/bin/env bash
# A three-node Apache Kafka cluster (KRaft) on 127.0.0.1, without Docker, for the production
# topology tests (issue 11). Every node is a combined broker + controller; the three controllers
# form the metadata quorum. Same Maven Central jars as scripts/kafka.sh (its `classpath` command).
#
# Usage: scripts/kafka-cluster.sh start|stop|status|kill N|restart N|bootstrap     (N = 1, 2 or 3)
#
#   start      Start the cluster. With no node running it formats FRESH storage for all three,
#              unless KAFKA_KEEP_DATA=1 and earlier data exists (then it reuses data and cluster id).
#              With some nodes running (after `kill N`), it starts the missing ones on their data.
#              No-op success when all three are up. Waits until every node serves requests.
#   stop       SIGTERM every node, wait up to KAFKA_STOP_TIMEOUT s, then SIGKILL. Data is kept.
#   status     Print each node's state; exit 0 only when all three are up.
#   kill N     SIGKILL node N at once (fault tests). Its data stays on disk.
#   restart N  Stop node N (SIGTERM) if it runs, then start it again on its data; waits until it
#              serves requests (it then catches up as a follower and rejoins the in-sync replicas).
#   bootstrap  Print the bootstrap list: 127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094
#
# Node N (1..3): broker listener 127.0.0.1:$((19091+N)), controller listener 127.0.0.1:$((19291+N)),
# run directory /tmp/msgport-kafka-cluster/nodeN (server.properties, data/, kafka.log, kafka.pid).
#
# Broker defaults, as in production: default.replication.factor=3, min.insync.replicas=2,
# offsets.topic.replication.factor=3 (the group coordinator's data survives a broker loss),
# transaction.state.log.replication.factor=3, unclean leader election off. Two settings are
# shortened for tests: broker.session.timeout.ms=4000 / broker.heartbeat.interval.ms=1000 (a killed
# broker is fenced, and its partitions get a new leader, ~4 s after it dies instead of ~9 s; a node
# restarted after `kill` does not wait for its previous registration to expire).
#
# With two of the three nodes down the controller quorum is lost too (2 of 3 voters): the survivor
# keeps serving what it leads, but cannot shrink its in-sync replica sets, so acks=all produce
# requests to it wait and time out. That is what a three-node combined cluster does in production.
#
# Environment:
#   KAFKA_VERSION                  Kafka version (default: scripts/kafka.sh's, 3.9.1); restarts and
#                                  KAFKA_KEEP_DATA=1 starts default to the version that wrote the data
#   KAFKA_CLUSTER_PORT             broker port of node 1 (default 19092; nodes 2, 3 use the next ones)
#   KAFKA_CLUSTER_CONTROLLER_PORT  controller port of node 1 (default 19292; nodes 2, 3: the next ones)
#   MSGPORT_KAFKA_CLUSTER_DIR      run directory (default /tmp/msgport-kafka-cluster)
#   KAFKA_KEEP_DATA=1              start reuses existing data instead of formatting fresh storage
#   KAFKA_START_TIMEOUT            readiness deadline in seconds (default 120)
#   KAFKA_STOP_TIMEOUT             SIGTERM grace period in seconds (default 30)
#   KAFKA_HEAP_OPTS                per node, default "-Xms256m -Xmx512m"
#   KAFKA_JVM_OPTS                 extra JVM options per node, default "-XX:TieredStopAtLevel=1" (C1 only:
#                                  a node starts faster on a small, busy machine; "" for the JVM default)
#   KAFKA_CDS=0                    no class data sharing archive. By default the first node stopped with
#                                  SIGTERM writes one (<cache>/kafka/<v>/cluster-cds-<java>.jsa) and later
#                                  starts load their classes from it (about a fifth faster here)
#   MSGPORT_CACHE                  cache root, as for scripts/kafka.sh (default $HOME/.cache/msgport)
#   KAFKA_EXTRA_PROPS              extra server.properties entries for every node, whitespace-separated
#                                  key=value (override the defaults)
#   JAVA_HOME / JAVA               java to use
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KAFKA_SH=$SCRIPT_DIR/kafka.sh
CONF_DIR=$SCRIPT_DIR/kafka
NODES=(1 2 3)

RUN_DIR=${MSGPORT_KAFKA_CLUSTER_DIR:-/tmp/msgport-kafka-cluster}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-120}
STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
JVM_OPTS=${KAFKA_JVM_OPTS--XX:TieredStopAtLevel=1}
CDS=${KAFKA_CDS:-1}
CACHE_ROOT=${MSGPORT_CACHE:-$HOME/.cache/msgport}/kafka
EXTRA_PROPS=${KAFKA_EXTRA_PROPS:-}
if [[ -n ${JAVA:-} ]]; then :; elif [[ -n ${JAVA_HOME:-} ]]; then JAVA=$JAVA_HOME/bin/java; else JAVA=java; fi

STATE_FILE=$RUN_DIR/state
STARTED_MARKER='Kafka Server started'

# Resolved by resolve_settings.
VERSION='' BASE_PORT='' BASE_CPORT='' CLASSPATH_GLOB=''

log() { printf 'kafka-cluster.sh: %s\n' "$*" >&2; }
die() { printf 'kafka-cluster.sh: ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# ---------------------------------------------------------------- state --

state_get() { # KEY -> value from the state file, empty if absent
  [[ -f $STATE_FILE ]] || return 0
  sed -n "s/^$1=//p" "$STATE_FILE" | tail -n 1
}

write_state() {
  local cid=$1 tmp
  tmp=$(mktemp "$RUN_DIR/.state.XXXXXX")
  {
    echo "VERSION=$VERSION"
    echo "PORT=$BASE_PORT"
    echo "CONTROLLER_PORT=$BASE_CPORT"
    echo "CLUSTER_ID=$cid"
    echo "EXTRA_PROPS=$EXTRA_PROPS"
    echo "FORMATTED_AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  } >"$tmp"
  mv -f "$tmp" "$STATE_FILE"
}

# With data on disk, version, ports and extra settings default to those recorded with it.
resolve_settings() {
  if [[ -f $STATE_FILE ]]; then
    VERSION=${KAFKA_VERSION:-$(state_get VERSION)}
    BASE_PORT=${KAFKA_CLUSTER_PORT:-$(state_get PORT)}
    BASE_CPORT=${KAFKA_CLUSTER_CONTROLLER_PORT:-$(state_get CONTROLLER_PORT)}
    [[ -n ${KAFKA_EXTRA_PROPS+set} ]] || EXTRA_PROPS=$(state_get EXTRA_PROPS)
  fi
  VERSION=${VERSION:-${KAFKA_VERSION:-}}
  BASE_PORT=${BASE_PORT:-19092}
  BASE_CPORT=${BASE_CPORT:-19292}
  [[ -z $VERSION || $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "KAFKA_VERSION '$VERSION' is not a version like 3.9.1"
  [[ $BASE_PORT =~ ^[0-9]+$ && $BASE_CPORT =~ ^[0-9]+$ ]] || die "KAFKA_CLUSTER_PORT / KAFKA_CLUSTER_CONTROLLER_PORT must be numbers"
  (( BASE_CPORT >= BASE_PORT + 3 || BASE_PORT >= BASE_CPORT + 3 )) \
    || die "broker ports $BASE_PORT-$((BASE_PORT + 2)) and controller ports $BASE_CPORT-$((BASE_CPORT + 2)) overlap"
}

# The broker jars, through scripts/kafka.sh (downloads them with Maven on first use). Also fixes
# VERSION when it was not given: scripts/kafka.sh's default.
resolve_jars() {
  local out
  if [[ -z $VERSION ]]; then
    VERSION=$(sed -n 's/^DEFAULT_VERSION=//p' "$KAFKA_SH" | head -n 1)
    [[ -n $VERSION ]] || die "could not read DEFAULT_VERSION from $KAFKA_SH; set KAFKA_VERSION"
  fi
  if ! out=$(KAFKA_VERSION=$VERSION bash "$KAFKA_SH" classpath); then
    die "scripts/kafka.sh classpath failed for Kafka $VERSION (see the messages above)"
  fi
  CLASSPATH_GLOB=$(tail -n 1 <<<"$out")
  [[ $CLASSPATH_GLOB == */libs/\* ]] || die "unexpected classpath from scripts/kafka.sh: '$CLASSPATH_GLOB'"
}

version_major() { echo "${1%%.*}"; }
is_kafka4() { (( $(version_major "$1") >= 4 )); }

log_opts() {
  if is_kafka4 "$VERSION"; then
    echo "-Dlog4j2.configurationFile=$CONF_DIR/log4j2.properties"
  else
    echo "-Dlog4j.configuration=file:$CONF_DIR/log4j.properties"
  fi
}

node_dir() { echo "$RUN_DIR/node$1"; }
# Class data sharing archive of this Kafka version and JVM (the JVM ignores one that does not match).
cds_archive() {
  local java_version
  java_version=$("$JAVA" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')
  echo "$CACHE_ROOT/$VERSION/cluster-cds-java${java_version:-unknown}.jsa"
}
cds_dump() { echo "$(node_dir "$1")/cds-dump.jsa"; }
node_port() { echo $((BASE_PORT + $1 - 1)); }
node_cport() { echo $((BASE_CPORT + $1 - 1)); }
pid_file() { echo "$(node_dir "$1")/kafka.pid"; }
props_file() { echo "$(node_dir "$1")/server.properties"; }
log_file() { echo "$(node_dir "$1")/kafka.log"; }
data_dir() { echo "$(node_dir "$1")/data"; }

check_node_arg() {
  [[ ${1:-} =~ ^[123]$ ]] || die "expected a node number 1, 2 or 3, got '${1:-}' (usage: scripts/kafka-cluster.sh kill|restart N)"
}

# ------------------------------------------------------------- process --

pid_alive() { # true while the process or any of its threads still exists (see scripts/kafka.sh)
  local st tasks=()
  [[ -r /proc/$1/stat ]] || return 1
  st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n $st ]] || return 1
  [[ $st != Z ]] && return 0
  tasks=(/proc/"$1"/task/*)
  (( ${#tasks[@]} > 1 ))
}

pid_is_ours() { # PID NODE: alive AND the broker of that node (guards against PID reuse)
  local cmd
  pid_alive "$1" || return 1
  cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
  [[ $cmd == *kafka.Kafka*"$(props_file "$2")"* ]]
}

running_pid() { # NODE -> PID of its running broker, or return 1
  local pid file
  file=$(pid_file "$1")
  [[ -f $file ]] || return 1
  pid=$(<"$file") || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  pid_is_ours "$pid" "$1" || return 1
  echo "$pid"
}

port_open() { timeout 2 bash -c ": <>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# A Kafka ApiVersions v0 request; true if the broker answers it without error.
api_ok() {
  local out b=()
  out=$(timeout 3 bash -c '
    exec 3<>/dev/tcp/127.0.0.1/'"$1"' || exit 1
    printf "\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\x00\x00" >&3
    head -c 10 <&3 | od -An -tx1' 2>/dev/null) || return 1
  read -r -a b <<<"$out"
  (( ${#b[@]} == 10 )) && [[ ${b[*]:4:6} == "00 00 00 01 00 00" ]]
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

node_ready() { # NODE: serving requests
  port_open "$(node_port "$1")" && grep -qF "$STARTED_MARKER" "$(log_file "$1")" 2>/dev/null && api_ok "$(node_port "$1")"
}

wait_ready() { # NODE...; returns 1 on timeout or when a process died
  local deadline=$((SECONDS + START_TIMEOUT)) n pid pending
  while (( SECONDS < deadline )); do
    pending=0
    for n in "$@"; do
      if ! pid=$(running_pid "$n"); then
        log "node $n exited during start-up"
        return 1
      fi
      node_ready "$n" || pending=1
    done
    (( pending == 0 )) && return 0
    sleep 0.5
  done
  for n in "$@"; do node_ready "$n" || log "node $n was not ready on 127.0.0.1:$(node_port "$n") within ${START_TIMEOUT} s"; done
  return 1
}

show_log_tail() { # NODE
  local file
  file=$(log_file "$1")
  if [[ -f $file ]]; then
    log "last 30 lines of $file:"
    tail -n 30 "$file" >&2 || true
  fi
}

lock_run_dir() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/.lock"
  flock -w 300 9 || die "timed out waiting for another scripts/kafka-cluster.sh on $RUN_DIR"
}

require_java() {
  command -v "$JAVA" >/dev/null 2>&1 || die "java not found (looked for '$JAVA'). Install a JDK (17+) or set JAVA_HOME."
}

# ------------------------------------------------------------ commands --

write_server_properties() { # NODE
  local n=$1 tmp voters='' i kv
  for i in "${NODES[@]}"; do voters+="${voters:+,}$i@127.0.0.1:$(node_cport "$i")"; done
  mkdir -p "$(node_dir "$n")"
  tmp=$(mktemp "$(node_dir "$n")/.props.XXXXXX")
  {
    echo "# Generated by scripts/kafka-cluster.sh for Kafka $VERSION; rewritten on every start."
    echo "process.roles=broker,controller"
    echo "node.id=$n"
    echo "controller.quorum.voters=$voters"
    echo "listeners=PLAINTEXT://127.0.0.1:$(node_port "$n"),CONTROLLER://127.0.0.1:$(node_cport "$n")"
    echo "advertised.listeners=PLAINTEXT://127.0.0.1:$(node_port "$n")"
    echo "inter.broker.listener.name=PLAINTEXT"
    echo "controller.listener.names=CONTROLLER"
    echo "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    echo "log.dirs=$(data_dir "$n")"
    echo "num.partitions=1"
    echo "default.replication.factor=3"
    echo "min.insync.replicas=2"
    echo "unclean.leader.election.enable=false"
    echo "offsets.topic.replication.factor=3"
    echo "offsets.topic.num.partitions=12"
    echo "transaction.state.log.replication.factor=3"
    echo "transaction.state.log.min.isr=2"
    echo "transaction.state.log.num.partitions=3"
    echo "group.initial.rebalance.delay.ms=0"
    echo "auto.create.topics.enable=true"
    echo "broker.session.timeout.ms=4000"
    echo "broker.heartbeat.interval.ms=1000"
    echo "num.recovery.threads.per.data.dir=2"
    if is_kafka4 "$VERSION"; then
      echo "share.coordinator.state.topic.replication.factor=3"
      echo "share.coordinator.state.topic.min.isr=2"
    fi
    for kv in $EXTRA_PROPS; do # later lines win in a properties file
      [[ $kv == *=* ]] || die "KAFKA_EXTRA_PROPS entry '$kv' is not key=value"
      echo "$kv"
    done
  } >"$tmp"
  mv -f "$tmp" "$(props_file "$n")"
}

kafka_java() { "$JAVA" -Xmx256m "$(log_opts)" -cp "$CLASSPATH_GLOB" "$@"; }

format_all() { # prints the cluster id
  local cid n
  cid=$(kafka_java kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1 | tr -d '[:space:]') || true
  [[ $cid =~ ^[A-Za-z0-9_-]{22}$ ]] || die "kafka.tools.StorageTool random-uuid failed (got '$cid')"
  # One JVM per node, all at once (each takes seconds to start on a small machine).
  local pids=()
  for n in "${NODES[@]}"; do
    rm -rf "$(data_dir "$n")"
    mkdir -p "$(data_dir "$n")"
    kafka_java kafka.tools.StorageTool format --config "$(props_file "$n")" --cluster-id "$cid" \
      >"$(node_dir "$n")/format.log" 2>&1 &
    pids+=($!)
  done
  for n in "${NODES[@]}"; do
    if ! wait "${pids[$((n - 1))]}"; then
      cat "$(node_dir "$n")/format.log" >&2
      die "formatting $(data_dir "$n") failed"
    fi
  done
  echo "$cid"
}

launch() { # NODE: starts it in the background, records and prints its PID
  local n=$1 heap extra pid i file logf
  read -r -a heap <<<"$HEAP_OPTS"
  read -r -a extra <<<"$JVM_OPTS"
  if [[ $CDS == 1 ]]; then
    local archive
    archive=$(cds_archive)
    rm -f "$(cds_dump "$n")"
    if [[ -f $archive ]]; then extra+=("-XX:SharedArchiveFile=$archive"); else extra+=("-XX:ArchiveClassesAtExit=$(cds_dump "$n")"); fi
  fi
  file=$(pid_file "$n")
  logf=$(log_file "$n")
  [[ -f $logf ]] && mv -f "$logf" "$logf.prev"
  rm -f "$file"
  # The child writes its own PID and then execs java, so the PID file holds the java PID.
  (
    cd "$(node_dir "$n")"
    exec 9>&-
    # shellcheck disable=SC2016 # $$, $0 and $@ belong to the child shell
    exec setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$file" \
      "$JAVA" "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
      "$(log_opts)" ${extra[@]+"${extra[@]}"} -cp "$CLASSPATH_GLOB" kafka.Kafka "$(props_file "$n")" \
      </dev/null >>"$logf" 2>&1
  ) &
  for ((i = 0; i < 50; i++)); do
    [[ -s $file ]] && break
    sleep 0.1
  done
  pid=$(<"$file") 2>/dev/null || die "node $n did not record its PID in $file"
  echo "$pid"
}

stop_node() { # NODE term|kill; the node must be running
  local n=$1 mode=$2 pid
  pid=$(running_pid "$n") || return 0
  if [[ $mode == term ]]; then
    kill -TERM "$pid" 2>/dev/null || true
  else
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

wait_stopped() { # NODE PID term|kill
  local n=$1 pid=$2 mode=$3 port deadline
  if [[ $mode == term ]] && ! wait_gone "$pid" "$STOP_TIMEOUT"; then
    log "node $n (pid $pid) still alive after ${STOP_TIMEOUT} s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait_gone "$pid" 10 || die "node $n (pid $pid) survived SIGKILL"
  rm -f "$(pid_file "$n")"
  # A node that exited cleanly wrote the class data archive later starts use (see launch).
  local dump archive
  dump=$(cds_dump "$n")
  if [[ $mode == term && -s $dump && -n $VERSION ]]; then
    archive=$(cds_archive)
    if [[ ! -f $archive ]] && mkdir -p "$(dirname "$archive")" && mv -f "$dump" "$archive.tmp$$" 2>/dev/null; then
      mv -f "$archive.tmp$$" "$archive" && log "saved a class data sharing archive for faster starts: $archive"
    fi
  fi
  rm -f "$dump"
  deadline=$((SECONDS + 10))
  for port in "$(node_port "$n")" "$(node_cport "$n")"; do
    while port_open "$port" && (( SECONDS < deadline )); do sleep 0.2; done
  done
}

stop_nodes() { # term|kill NODE...
  local mode=$1 n pids=() nodes=()
  shift
  for n in "$@"; do
    local pid
    if pid=$(running_pid "$n"); then
      if [[ $mode == term ]]; then log "stopping node $n (pid $pid)"; else log "killing node $n (pid $pid) with SIGKILL"; fi
      stop_node "$n" "$mode"
      pids+=("$pid")
      nodes+=("$n")
    else
      rm -f "$(pid_file "$n")"
    fi
  done
  # Stopping the whole cluster: the last node's controlled shutdown waits for a controller quorum
  # that is gone with the others, so once it is alone it gets a short grace, then SIGKILL.
  if [[ $mode == term ]] && (( ${#pids[@]} > 1 )); then
    local deadline=$((SECONDS + STOP_TIMEOUT)) alone_since='' alive p
    while (( SECONDS < deadline )); do
      alive=0
      for p in "${pids[@]}"; do pid_alive "$p" && alive=$((alive + 1)); done
      (( alive == 0 )) && break
      if (( alive == 1 )); then
        alone_since=${alone_since:-$SECONDS}
        if (( SECONDS - alone_since >= 5 )); then
          for p in "${pids[@]}"; do
            if pid_alive "$p"; then
              log "pid $p waits for the controller quorum the others took down; sending SIGKILL"
              kill -KILL "$p" 2>/dev/null || true
            fi
          done
          break
        fi
      fi
      sleep 0.2
    done
  fi
  local i
  for i in "${!nodes[@]}"; do wait_stopped "${nodes[$i]}" "${pids[$i]}" "$mode"; done
}

check_ports_free() { # NODE...
  local n p
  for n in "$@"; do
    for p in "$(node_port "$n")" "$(node_cport "$n")"; do
      if port_open "$p"; then
        who_listens "$p" >&2
        die "127.0.0.1:$p (node $n) is already in use by another process, not a node started by this script from $RUN_DIR. Free it, or set KAFKA_CLUSTER_PORT / KAFKA_CLUSTER_CONTROLLER_PORT."
      fi
    done
  done
}

start_nodes() { # NODE...: launch them (their storage is formatted) and wait until all serve
  local n pid t0=$SECONDS
  for n in "$@"; do
    write_server_properties "$n"
    pid=$(launch "$n")
    log "started node $n (pid $pid) on 127.0.0.1:$(node_port "$n"), log $(log_file "$n")"
  done
  if ! wait_ready "$@"; then
    for n in "$@"; do node_ready "$n" || show_log_tail "$n"; done
    die "Kafka cluster node(s) $* failed to start (logs under $RUN_DIR/nodeN/kafka.log)"
  fi
  log "node(s) $* ready after $((SECONDS - t0)) s"
}

all_formatted() {
  local n
  for n in "${NODES[@]}"; do [[ -f $(data_dir "$n")/meta.properties ]] || return 1; done
}

cmd_start() {
  local n running=() missing=() cid
  for n in "${NODES[@]}"; do
    if running_pid "$n" >/dev/null; then running+=("$n"); else missing+=("$n"); fi
  done
  resolve_settings
  if (( ${#missing[@]} == 0 )); then
    wait_ready "${NODES[@]}" || die "the cluster's nodes are running but not all ready; see scripts/kafka-cluster.sh status"
    log "all three nodes already running; nothing to do"
    echo "Kafka cluster ready on $(bootstrap)"
    return 0
  fi
  require_java
  check_ports_free "${missing[@]}"
  resolve_jars
  if (( ${#running[@]} > 0 )); then
    all_formatted || die "node(s) ${running[*]} run but the data of the others is missing; run scripts/kafka-cluster.sh stop, then start"
    log "node(s) ${running[*]} already running; starting node(s) ${missing[*]} on their data"
  elif [[ ${KAFKA_KEEP_DATA:-0} == 1 ]] && all_formatted; then
    log "reusing the data in $RUN_DIR (cluster id $(state_get CLUSTER_ID))"
  else
    [[ ${KAFKA_KEEP_DATA:-0} == 1 ]] && log "no complete earlier data in $RUN_DIR; formatting fresh storage"
    for n in "${NODES[@]}"; do write_server_properties "$n"; done
    cid=$(format_all)
    write_state "$cid"
    log "formatted fresh storage for three nodes (cluster id $cid)"
  fi
  start_nodes "${missing[@]}"
  echo "Kafka cluster ready on $(bootstrap)"
}

cmd_restart() { # NODE
  local n=$1
  resolve_settings
  all_formatted || die "no cluster data in $RUN_DIR; run scripts/kafka-cluster.sh start first"
  require_java
  stop_nodes term "$n"
  check_ports_free "$n"
  resolve_jars
  start_nodes "$n"
  echo "Kafka cluster node $n ready on 127.0.0.1:$(node_port "$n")"
}

cmd_kill() { # NODE
  local n=$1
  resolve_settings
  if running_pid "$n" >/dev/null; then
    stop_nodes kill "$n"
    log "node $n killed; data kept in $(data_dir "$n") (bring it back with scripts/kafka-cluster.sh restart $n)"
  else
    log "node $n is not running"
  fi
}

cmd_stop() {
  resolve_settings
  stop_nodes term "${NODES[@]}"
  log "cluster stopped; data kept in $RUN_DIR (reuse it with KAFKA_KEEP_DATA=1 scripts/kafka-cluster.sh start)"
}

cmd_status() {
  local n pid up=0
  resolve_settings
  for n in "${NODES[@]}"; do
    if pid=$(running_pid "$n"); then
      if node_ready "$n"; then
        echo "node $n: up (pid $pid), broker 127.0.0.1:$(node_port "$n"), controller 127.0.0.1:$(node_cport "$n")"
        up=$((up + 1))
      else
        echo "node $n: process alive (pid $pid) but not serving on 127.0.0.1:$(node_port "$n") (starting or unhealthy); log $(log_file "$n")"
      fi
    else
      echo "node $n: not running (127.0.0.1:$(node_port "$n"))"
    fi
  done
  if [[ -f $STATE_FILE ]]; then
    echo "Kafka $(state_get VERSION), cluster id $(state_get CLUSTER_ID), run dir $RUN_DIR"
  fi
  (( up == ${#NODES[@]} ))
}

bootstrap() {
  local n list=''
  for n in "${NODES[@]}"; do list+="${list:+,}127.0.0.1:$(node_port "$n")"; done
  echo "$list"
}

main() {
  local cmd=${1:-}
  case $cmd in
    start) lock_run_dir; cmd_start ;;
    stop) lock_run_dir; cmd_stop ;;
    kill) check_node_arg "${2:-}"; lock_run_dir; cmd_kill "$2" ;;
    restart) check_node_arg "${2:-}"; lock_run_dir; cmd_restart "$2" ;;
    status) cmd_status ;;
    bootstrap) resolve_settings; bootstrap ;;
    -h|--help|help) usage ;;
    *) [[ -n $cmd ]] && log "unknown command '$cmd'"; usage ;;
  esac
}

main "$@"
