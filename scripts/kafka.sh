#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft, combined broker+controller) on 127.0.0.1, without Docker.
#
# Usage: scripts/kafka.sh start|stop|status|restart|kill|download|download-tools|classpath|tools-classpath
#
#   start           Start a broker. With nothing running it formats FRESH storage, unless
#                   KAFKA_KEEP_DATA=1 and earlier data exists (then it reuses data + cluster id).
#                   No-op success if a broker started by this script is already up.
#   stop            SIGTERM the recorded PID, wait up to 30 s, then SIGKILL. Data is kept on disk.
#   kill            SIGKILL the recorded PID at once (fault tests). Data is kept on disk;
#                   `KAFKA_KEEP_DATA=1 scripts/kafka.sh start` brings it back with the same data.
#   restart         stop, then start with the SAME log.dirs and cluster id (data survives).
#   status          exit 0 and print info if the broker is running and its port is open, else exit 1.
#   download        fetch the broker jars with Maven into the cache (start does this on demand).
#   download-tools  fetch org.apache.kafka:kafka-tools (perf tools) into <cache>/kafka/<v>/tools-libs.
#   classpath       print the broker classpath (java -cp "$(scripts/kafka.sh classpath)" ...).
#   tools-classpath print the tools classpath, downloading it first if needed, e.g.
#                   java -cp "$(scripts/kafka.sh tools-classpath)" org.apache.kafka.tools.ProducerPerformance ...
#
# Environment:
#   KAFKA_VERSION          Kafka version (default 3.9.1; 4.x works too: CI tests 4.4.0). For restart and
#                          KAFKA_KEEP_DATA=1 starts, defaults to the version that wrote the data.
#   KAFKA_PORT             broker port (default 9092)
#   KAFKA_CONTROLLER_PORT  controller port (default 9093)
#   KAFKA_KEEP_DATA=1      start reuses existing data instead of formatting fresh storage
#   KAFKA_START_TIMEOUT    readiness deadline in seconds (default 90)
#   KAFKA_STOP_TIMEOUT     SIGTERM grace period in seconds (default 30)
#   KAFKA_HEAP_OPTS        default "-Xms512m -Xmx1g"
#   KAFKA_JVM_OPTS         extra JVM options for the broker (restart / KAFKA_KEEP_DATA=1 reuse the last ones)
#   KAFKA_EXTRA_PROPS      extra server.properties entries, whitespace-separated key=value (override
#                          the defaults), e.g. "broker.session.timeout.ms=4000 broker.heartbeat.interval.ms=1000"
#                          which shortens the ~15 s re-registration wait of a start after `kill`
#                          (restart / KAFKA_KEEP_DATA=1 reuse the last ones unless set again)
#   MSGPORT_CACHE          cache root (default $HOME/.cache/msgport); jars go to <root>/kafka/<v>/libs
#   MSGPORT_KAFKA_RUN_DIR  runtime dir: pid, server.properties, data/, kafka.log (default /tmp/msgport-kafka)
#   JAVA_HOME / JAVA, MVN  java and maven to use
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CONF_DIR=$SCRIPT_DIR/kafka
DEFAULT_VERSION=3.9.1
DEFAULT_PORT=9092
DEFAULT_CONTROLLER_PORT=9093

CACHE_ROOT=${MSGPORT_CACHE:-$HOME/.cache/msgport}/kafka
RUN_DIR=${MSGPORT_KAFKA_RUN_DIR:-/tmp/msgport-kafka}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms512m -Xmx1g}
EXTRA_JVM_OPTS=${KAFKA_JVM_OPTS:-}
EXTRA_PROPS=${KAFKA_EXTRA_PROPS:-}
if [[ -n ${JAVA:-} ]]; then :; elif [[ -n ${JAVA_HOME:-} ]]; then JAVA=$JAVA_HOME/bin/java; else JAVA=java; fi
MVN=${MVN:-mvn}

PID_FILE=$RUN_DIR/kafka.pid
STATE_FILE=$RUN_DIR/state
PROPS_FILE=$RUN_DIR/server.properties
DATA_DIR=$RUN_DIR/data
LOG_FILE=$RUN_DIR/kafka.log
STARTED_MARKER='Kafka Server started'

# Resolved by resolve_settings.
VERSION='' PORT='' CPORT=''

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { printf 'kafka.sh: ERROR: %s\n' "$*" >&2; exit 1; }

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
    echo "PORT=$PORT"
    echo "CONTROLLER_PORT=$CPORT"
    echo "CLUSTER_ID=$cid"
    echo "DATA_DIR=$DATA_DIR"
    echo "EXTRA_PROPS=$EXTRA_PROPS"
    echo "JVM_OPTS=$EXTRA_JVM_OPTS"
    echo "STARTED_AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  } >"$tmp"
  mv -f "$tmp" "$STATE_FILE"
}

# mode "keep": unset env values default to the ones recorded with the existing data.
resolve_settings() {
  local mode=$1
  if [[ $mode == keep && -f $STATE_FILE ]]; then
    VERSION=${KAFKA_VERSION:-$(state_get VERSION)}
    PORT=${KAFKA_PORT:-$(state_get PORT)}
    CPORT=${KAFKA_CONTROLLER_PORT:-$(state_get CONTROLLER_PORT)}
  fi
  if [[ $mode == keep && -f $STATE_FILE ]]; then
    # Reuse the extra settings of the previous run unless given again (even as empty).
    [[ -n ${KAFKA_EXTRA_PROPS+set} ]] || EXTRA_PROPS=$(state_get EXTRA_PROPS)
    [[ -n ${KAFKA_JVM_OPTS+set} ]] || EXTRA_JVM_OPTS=$(state_get JVM_OPTS)
  fi
  VERSION=${VERSION:-${KAFKA_VERSION:-$DEFAULT_VERSION}}
  PORT=${PORT:-${KAFKA_PORT:-$DEFAULT_PORT}}
  CPORT=${CPORT:-${KAFKA_CONTROLLER_PORT:-$DEFAULT_CONTROLLER_PORT}}
  [[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "KAFKA_VERSION '$VERSION' is not a version like 3.9.1"
  [[ $PORT =~ ^[0-9]+$ && $CPORT =~ ^[0-9]+$ ]] || die "KAFKA_PORT / KAFKA_CONTROLLER_PORT must be numbers"
  [[ $PORT != "$CPORT" ]] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ (both $PORT)"
}

version_major() { echo "${1%%.*}"; }
version_minor() { local r=${1#*.}; echo "${r%%.*}"; }
is_kafka4() { (( $(version_major "$1") >= 4 )); }
has_standalone() { # kafka-storage format --standalone exists since 3.9 (KIP-853)
  local ma mi; ma=$(version_major "$1"); mi=$(version_minor "$1")
  (( ma > 3 || (ma == 3 && mi >= 9) ))
}

libs_dir() { echo "$CACHE_ROOT/$VERSION/libs"; }
tools_dir() { echo "$CACHE_ROOT/$VERSION/tools-libs"; }

log_opts() { # JVM flag that points the logging backend at our config
  if is_kafka4 "$VERSION"; then
    echo "-Dlog4j2.configurationFile=$CONF_DIR/log4j2.properties"
  else
    echo "-Dlog4j.configuration=file:$CONF_DIR/log4j.properties"
  fi
}

# -------------------------------------------------------------- tooling --

require_java() {
  command -v "$JAVA" >/dev/null 2>&1 \
    || die "java not found (looked for '$JAVA'). Install a JDK (17+ for Kafka 4.x) or set JAVA_HOME."
  local v major
  v=$("$JAVA" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')
  major=${v%%.*}; [[ $major == 1 ]] && { major=${v#1.}; major=${major%%.*}; }
  [[ $major =~ ^[0-9]+$ ]] || die "could not read the java version from '$JAVA -version'"
  if is_kafka4 "$VERSION" && (( major < 17 )); then
    die "Kafka $VERSION needs Java 17+, but '$JAVA' is Java $major. Set JAVA_HOME to a newer JDK."
  fi
  (( major >= 11 )) || die "Kafka $VERSION needs Java 11+, but '$JAVA' is Java $major."
}

# ensure_libs broker|tools: download with Maven once; a stamp file marks a completed download.
ensure_libs() {
  local kind=$1 artifact dir stamp pom build mvnlog t0 out
  if [[ $kind == tools ]]; then artifact=kafka-tools; dir=$(tools_dir); else artifact=kafka_2.13; dir=$(libs_dir); fi
  stamp=$dir/.complete
  [[ -f $stamp ]] && return 0

  if is_kafka4 "$VERSION"; then pom=$CONF_DIR/pom-4.1.xml; else pom=$CONF_DIR/pom-3.9.xml; fi
  [[ -f $pom ]] || die "missing $pom"
  command -v "$MVN" >/dev/null 2>&1 \
    || die "Kafka $VERSION is not in the cache ($dir) and Maven ('$MVN') is not installed; install maven (apt-get install maven) to download it."
  require_java

  mkdir -p "$CACHE_ROOT/$VERSION"
  exec 8>"$CACHE_ROOT/$VERSION/.download.lock"
  flock -w 900 8 || die "timed out waiting for another download of Kafka $VERSION"
  if [[ -f $stamp ]]; then exec 8>&-; return 0; fi # finished by a concurrent run

  build=$CACHE_ROOT/$VERSION/build-$kind
  mvnlog=$build/mvn.log
  rm -rf "$dir" "$build"
  mkdir -p "$build"
  cp "$pom" "$build/pom.xml"
  log "downloading org.apache.kafka:$artifact:$VERSION with Maven into $dir (only on first use) ..."
  t0=$SECONDS
  if ! (cd "$build" && "$MVN" -B -q -Dstyle.color=never dependency:copy-dependencies -DincludeScope=runtime \
        "-Dkafka.version=$VERSION" "-Dkafka.artifact=$artifact" "-DoutputDirectory=$dir") >"$mvnlog" 2>&1; then
    tail -n 40 "$mvnlog" >&2 || true
    exec 8>&-
    die "Maven download of org.apache.kafka:$artifact:$VERSION failed (full log: $mvnlog). Is that version on Maven Central?"
  fi
  [[ -f $dir/$artifact-$VERSION.jar ]] \
    || { exec 8>&-; die "download finished but $dir/$artifact-$VERSION.jar is missing (log: $mvnlog)"; }
  if [[ $kind == broker ]]; then
    out=$("$JAVA" "$(log_opts)" -cp "$dir/*" kafka.Kafka --version 2>&1) || true
    if ! grep -qF "$VERSION" <<<"$out"; then
      printf '%s\n' "$out" | tail -n 20 >&2
      exec 8>&-
      die "the downloaded jars do not run: java -cp '$dir/*' kafka.Kafka --version did not print $VERSION"
    fi
  fi
  touch "$stamp"
  exec 8>&-
  log "downloaded Kafka $VERSION $kind jars ($(du -sh "$dir" | cut -f1)) in $((SECONDS - t0)) s"
}

kafka_java() { # run a Kafka class with the broker classpath and our logging config
  "$JAVA" -Xmx256m "$(log_opts)" -cp "$(libs_dir)/*" "$@"
}

# ------------------------------------------------------------- process --

pid_alive() { # true while the process or any of its threads still exists (a dead, unreaped zombie is gone)
  local st tasks=()
  [[ -r /proc/$1/stat ]] || return 1
  st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n $st ]] || return 1
  [[ $st != Z ]] && return 0
  # After SIGKILL the main thread of a JVM turns zombie before its other threads have exited and
  # released the sockets, so count a zombie leader as alive while it still has other threads.
  tasks=(/proc/"$1"/task/*)
  (( ${#tasks[@]} > 1 ))
}

pid_is_ours() { # alive AND really the broker this script started (guards against PID reuse)
  local cmd
  pid_alive "$1" || return 1
  cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
  [[ $cmd == *kafka.Kafka*"$PROPS_FILE"* ]]
}

running_pid() { # prints the PID of our running broker, or returns 1
  local pid
  [[ -f $PID_FILE ]] || return 1
  pid=$(<"$PID_FILE") || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  pid_is_ours "$pid" || return 1
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
  # response bytes: length(4) correlation_id=1(4) error_code=0(2)
  (( ${#b[@]} == 10 )) && [[ ${b[*]:4:6} == "00 00 00 01 00 00" ]]
}

who_listens() { # best-effort description of what holds a port
  if command -v ss >/dev/null 2>&1; then
    ss -Hltnp "sport = :$1" 2>/dev/null | head -n 3 || true
  fi
}

wait_gone() { # PID SECONDS
  local pid=$1 deadline=$((SECONDS + $2))
  while pid_alive "$pid"; do
    (( SECONDS < deadline )) || return 1
    sleep 0.2
  done
}

wait_ready() { # PID; returns 1 on timeout or if the process died
  local pid=$1 deadline=$((SECONDS + START_TIMEOUT))
  while (( SECONDS < deadline )); do
    pid_alive "$pid" || { log "the broker process (pid $pid) exited during start-up"; return 1; }
    if port_open "$PORT" && grep -qF "$STARTED_MARKER" "$LOG_FILE" 2>/dev/null && api_ok "$PORT"; then
      return 0
    fi
    sleep 0.5
  done
  log "the broker was not ready on 127.0.0.1:$PORT within ${START_TIMEOUT} s"
  return 1
}

show_log_tail() {
  if [[ -f $LOG_FILE ]]; then
    log "last 50 lines of $LOG_FILE:"
    tail -n 50 "$LOG_FILE" >&2 || true
  fi
}

lock_run_dir() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/.lock"
  flock -w 300 9 || die "timed out waiting for another scripts/kafka.sh on $RUN_DIR"
}

# ------------------------------------------------------------ commands --

write_server_properties() {
  local tmp
  tmp=$(mktemp "$RUN_DIR/.props.XXXXXX")
  {
    echo "# Generated by scripts/kafka.sh for Kafka $VERSION; rewritten on every start."
    echo "process.roles=broker,controller"
    echo "node.id=1"
    if has_standalone "$VERSION"; then
      echo "controller.quorum.bootstrap.servers=127.0.0.1:$CPORT"
      echo "advertised.listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT"
    else
      echo "controller.quorum.voters=1@127.0.0.1:$CPORT"
      echo "advertised.listeners=PLAINTEXT://127.0.0.1:$PORT"
    fi
    echo "listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT"
    echo "inter.broker.listener.name=PLAINTEXT"
    echo "controller.listener.names=CONTROLLER"
    echo "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    echo "log.dirs=$DATA_DIR"
    echo "num.partitions=1"
    echo "offsets.topic.replication.factor=1"
    echo "offsets.topic.num.partitions=1"
    echo "transaction.state.log.replication.factor=1"
    echo "transaction.state.log.min.isr=1"
    echo "transaction.state.log.num.partitions=1"
    echo "group.initial.rebalance.delay.ms=0"
    echo "auto.create.topics.enable=true"
    if is_kafka4 "$VERSION"; then
      echo "share.coordinator.state.topic.replication.factor=1"
      echo "share.coordinator.state.topic.min.isr=1"
    fi
    local kv
    for kv in $EXTRA_PROPS; do # later lines win in a properties file
      [[ $kv == *=* ]] || die "KAFKA_EXTRA_PROPS entry '$kv' is not key=value"
      echo "$kv"
    done
  } >"$tmp"
  mv -f "$tmp" "$PROPS_FILE"
}

format_storage() { # prints the cluster id
  local cid out
  rm -rf "$DATA_DIR"
  mkdir -p "$DATA_DIR"
  cid=$(kafka_java kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1 | tr -d '[:space:]') || true
  [[ $cid =~ ^[A-Za-z0-9_-]{22}$ ]] || die "kafka.tools.StorageTool random-uuid failed (got '$cid')"
  local args=(format --config "$PROPS_FILE" --cluster-id "$cid")
  has_standalone "$VERSION" && args+=(--standalone)
  if ! out=$(kafka_java kafka.tools.StorageTool "${args[@]}" 2>&1); then
    printf '%s\n' "$out" >&2
    die "formatting $DATA_DIR failed"
  fi
  echo "$cid"
}

launch() {
  local heap extra pid i
  read -r -a heap <<<"$HEAP_OPTS"
  read -r -a extra <<<"$EXTRA_JVM_OPTS"
  [[ -f $LOG_FILE ]] && mv -f "$LOG_FILE" "$LOG_FILE.prev"
  rm -f "$PID_FILE"
  # The child writes its own PID and then execs java, so the PID file holds the java PID
  # whether or not setsid had to fork. fds 8/9 (our locks) are closed for the child.
  (
    cd "$RUN_DIR"
    exec 8>&- 9>&-
    # shellcheck disable=SC2016 # $$, $0 and $@ belong to the child shell
    exec setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
      "$JAVA" "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
      "$(log_opts)" ${extra[@]+"${extra[@]}"} \
      -cp "$(libs_dir)/*" kafka.Kafka "$PROPS_FILE" \
      </dev/null >>"$LOG_FILE" 2>&1
  ) &
  for ((i = 0; i < 50; i++)); do
    [[ -s $PID_FILE ]] && break
    sleep 0.1
  done
  pid=$(<"$PID_FILE") 2>/dev/null || die "the broker did not record its PID in $PID_FILE"
  echo "$pid"
}

stop_pid() { # PID SIGNAL-MODE(term|kill)
  local pid=$1 mode=$2
  if [[ $mode == term ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
      log "pid $pid still alive after ${STOP_TIMEOUT} s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 10 || die "pid $pid survived SIGKILL"
    fi
  else
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || die "pid $pid survived SIGKILL"
  fi
  rm -f "$PID_FILE"
  # Make sure the ports are released before returning, so an immediate start finds them free.
  local port deadline=$((SECONDS + 10))
  for port in $(state_get PORT) $(state_get CONTROLLER_PORT); do
    while port_open "$port" && (( SECONDS < deadline )); do sleep 0.2; done
  done
}

cmd_start() { # fresh|keep
  local mode=$1 pid cid t0 rv p
  if pid=$(running_pid); then
    VERSION=$(state_get VERSION) PORT=$(state_get PORT) CPORT=$(state_get CONTROLLER_PORT)
    if [[ -n ${KAFKA_VERSION:-} && $KAFKA_VERSION != "$VERSION" ]]; then
      die "Kafka $VERSION is already running (pid $pid); run 'scripts/kafka.sh stop' before starting $KAFKA_VERSION"
    fi
    if [[ -n ${KAFKA_PORT:-} && $KAFKA_PORT != "$PORT" ]]; then
      die "Kafka is already running on port $PORT (pid $pid); stop it before using KAFKA_PORT=$KAFKA_PORT"
    fi
    if port_open "$PORT"; then
      log "Kafka $VERSION already running (pid $pid); nothing to do"
      echo "Kafka $VERSION ready on 127.0.0.1:$PORT"
      return 0
    fi
    log "Kafka $VERSION (pid $pid) is starting; waiting for it"
    wait_ready "$pid" || { show_log_tail; die "Kafka $VERSION (pid $pid) did not become ready"; }
    echo "Kafka $VERSION ready on 127.0.0.1:$PORT"
    return 0
  fi
  rm -f "$PID_FILE"

  resolve_settings "$mode"
  for p in "$PORT" "$CPORT"; do
    if port_open "$p"; then
      who_listens "$p" >&2
      die "127.0.0.1:$p is already in use by another process (not a broker started by this script from $RUN_DIR). Free it or set KAFKA_PORT / KAFKA_CONTROLLER_PORT."
    fi
  done
  if [[ $mode == keep && -f $DATA_DIR/meta.properties ]]; then
    rv=$(state_get VERSION)
    if [[ -n $rv && $rv != "$VERSION" ]]; then
      die "the data in $DATA_DIR was written by Kafka $rv; use KAFKA_VERSION=$rv, or start without KAFKA_KEEP_DATA for fresh storage"
    fi
    if [[ -n $(state_get CONTROLLER_PORT) && $(state_get CONTROLLER_PORT) != "$CPORT" ]]; then
      die "the data in $DATA_DIR belongs to a controller on port $(state_get CONTROLLER_PORT); keep KAFKA_CONTROLLER_PORT=$(state_get CONTROLLER_PORT) or start fresh"
    fi
  else
    [[ $mode == keep ]] && log "no earlier data in $DATA_DIR; formatting fresh storage"
    mode=fresh
  fi
  require_java
  ensure_libs broker

  if [[ $mode == keep ]]; then
    cid=$(sed -n 's/^cluster.id=//p' "$DATA_DIR/meta.properties" | head -n 1)
    write_server_properties
    log "reusing data in $DATA_DIR (cluster id $cid)"
  else
    write_server_properties
    cid=$(format_storage)
    log "formatted fresh storage in $DATA_DIR (cluster id $cid)"
  fi
  write_state "$cid"

  t0=$SECONDS
  pid=$(launch)
  log "started Kafka $VERSION (pid $pid), log $LOG_FILE; waiting up to ${START_TIMEOUT} s"
  if ! wait_ready "$pid"; then
    show_log_tail
    if pid_alive "$pid"; then stop_pid "$pid" term; fi
    die "Kafka $VERSION failed to start"
  fi
  log "ready after $((SECONDS - t0)) s"
  echo "Kafka $VERSION ready on 127.0.0.1:$PORT"
}

cmd_stop() { # term|kill
  local mode=$1 pid
  if pid=$(running_pid); then
    if [[ $mode == term ]]; then log "stopping Kafka (pid $pid)"; else log "killing Kafka (pid $pid) with SIGKILL"; fi
    stop_pid "$pid" "$mode"
    log "stopped; data kept in $DATA_DIR (reuse it with KAFKA_KEEP_DATA=1 scripts/kafka.sh start)"
  else
    rm -f "$PID_FILE"
    log "Kafka is not running (run dir $RUN_DIR)"
  fi
}

cmd_status() {
  local pid v p cp
  v=$(state_get VERSION) p=$(state_get PORT) cp=$(state_get CONTROLLER_PORT)
  if pid=$(running_pid); then
    if port_open "${p:-$DEFAULT_PORT}"; then
      echo "Kafka $v running: pid $pid, broker 127.0.0.1:$p, controller 127.0.0.1:$cp"
      echo "  cluster id $(state_get CLUSTER_ID), started $(state_get STARTED_AT)"
      echo "  run dir $RUN_DIR, data $DATA_DIR, log $LOG_FILE"
      return 0
    fi
    echo "Kafka $v process is alive (pid $pid) but 127.0.0.1:$p is not open (starting or unhealthy); log $LOG_FILE"
    return 1
  fi
  echo "Kafka is not running (run dir $RUN_DIR)"
  return 1
}

main() {
  local cmd=${1:-}
  case $cmd in
    start)
      lock_run_dir
      if [[ ${KAFKA_KEEP_DATA:-0} == 1 ]]; then cmd_start keep; else cmd_start fresh; fi ;;
    stop) lock_run_dir; cmd_stop term ;;
    kill) lock_run_dir; cmd_stop kill ;;
    restart)
      lock_run_dir
      # keep mode: version and ports default to those recorded with the data
      cmd_stop term
      cmd_start keep ;;
    status) cmd_status ;;
    download) resolve_settings fresh; require_java; ensure_libs broker; log "Kafka $VERSION jars in $(libs_dir)" ;;
    download-tools) resolve_settings fresh; require_java; ensure_libs tools; log "Kafka $VERSION tools jars in $(tools_dir)" ;;
    classpath) resolve_settings fresh; ensure_libs broker; echo "$(libs_dir)/*" ;;
    tools-classpath) resolve_settings fresh; ensure_libs tools; echo "$(tools_dir)/*" ;;
    -h|--help|help) usage ;;
    *) [[ -n $cmd ]] && log "unknown command '$cmd'"; usage ;;
  esac
}

main "$@"
