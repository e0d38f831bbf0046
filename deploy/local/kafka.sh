#!/usr/bin/env bash
# Runs a real, single-node Apache Kafka 4.x broker (KRaft, combined broker+controller)
# from its Maven Central jars, for integration tests. Needs Java 17+ and Maven 3.6.3+.
#
# Usage:
#   deploy/local/kafka.sh fetch                 resolve the jars into .cache/kafka/<version>/libs
#   deploy/local/kafka.sh start DIR             start a broker with its state in DIR; prints
#                                               its bootstrap address (127.0.0.1:PORT) on stdout
#   deploy/local/kafka.sh stop DIR              stop the broker started in DIR (idempotent)
#   deploy/local/kafka.sh status DIR            exit 0 and print the bootstrap if it runs
#   deploy/local/kafka.sh resume DIR            start the broker of DIR again on its data and
#                                               port (after a crash); prints its bootstrap
#   deploy/local/kafka.sh run-class CLASS ARGS  run a Kafka class (tools) on the same classpath,
#                                               e.g. org.apache.kafka.tools.TopicCommand
#
# start wipes DIR's previous Kafka data, picks two free ports on 127.0.0.1 (broker and
# controller), formats the storage, starts `kafka.Kafka` in the background and waits until
# the broker is up. Files in DIR: server.properties, log4j2.properties, kafka.pid,
# bootstrap, server.log (Kafka's log), kafka.out (JVM stdout/stderr), format.log, logs/ (data).
#
# Environment:
#   KAFKA_VERSION        Kafka release from Maven Central (default 4.1.1)
#   KAFKA_CACHE_DIR      where the jars go (default <repo>/.cache/kafka/<version>)
#   KAFKA_M2_REPO        Maven local repository used by fetch (default <repo>/.cache/m2)
#   KAFKA_HEAP_OPTS      broker heap (default -Xms256m -Xmx512m)
#   KAFKA_START_TIMEOUT  seconds to wait for the broker (default 90)
#   KAFKA_STOP_TIMEOUT   seconds between TERM and KILL on stop (default 30)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
pom="$here/kafka-pom.xml"

KAFKA_VERSION=${KAFKA_VERSION:-4.1.1}
cache=${KAFKA_CACHE_DIR:-$root/.cache/kafka/$KAFKA_VERSION}
libs="$cache/libs"
marker="$cache/.fetched"
m2=${KAFKA_M2_REPO:-$root/.cache/m2}
start_timeout=${KAFKA_START_TIMEOUT:-90}
stop_timeout=${KAFKA_STOP_TIMEOUT:-30}

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

usage() {
  sed -n '5,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

need_java() {
  command -v java >/dev/null 2>&1 || die "java not found (Java 17+ is needed)"
}

# The marker records the version and the POM's hash, so editing the POM refetches.
fetch_stamp() {
  printf '%s %s\n' "$KAFKA_VERSION" "$(sha256sum "$pom" | cut -d' ' -f1)"
}

cmd_fetch() {
  local stamp
  stamp=$(fetch_stamp)
  if [[ -f "$marker" && "$(cat "$marker")" == "$stamp" ]]; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found (Maven is needed to fetch Kafka's jars)"
  mkdir -p "$cache"
  # Serialise concurrent fetches (e.g. two starts on a fresh machine).
  exec 8>"$cache/.lock"
  if command -v flock >/dev/null 2>&1; then flock 8; fi
  if [[ -f "$marker" && "$(cat "$marker")" == "$stamp" ]]; then
    exec 8>&-
    return 0
  fi
  log "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central into $libs"
  local tmp="$cache/libs.tmp" out="$cache/fetch.log"
  rm -rf "$tmp"
  if ! mvn -B -q -f "$pom" \
      -Dmaven.repo.local="$m2" \
      -Dkafka.version="$KAFKA_VERSION" \
      -Dstyle.color=never \
      dependency:copy-dependencies \
      -DincludeScope=runtime \
      -DoutputDirectory="$tmp" >"$out" 2>&1; then
    tail -n 40 "$out" >&2
    die "mvn failed (full output in $out)"
  fi
  [[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || die "kafka_2.13-$KAFKA_VERSION.jar missing after fetch"
  rm -rf "$libs"
  mv "$tmp" "$libs"
  printf '%s\n' "$stamp" >"$marker"
  exec 8>&-
}

# JVM options for short-lived tool runs (format, TopicCommand, ...): fast start-up.
tool_jvm_opts=(-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true)

# write_tools_log4j DIR: WARN and above to stderr, for tools.
write_tools_log4j() {
  cat >"$1" <<'EOF'
status = warn
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
EOF
}

cmd_run_class() {
  [[ $# -ge 1 ]] || usage
  need_java
  cmd_fetch
  local cfg="$cache/tools-log4j2.properties"
  [[ -f "$cfg" ]] || write_tools_log4j "$cfg"
  exec java "${tool_jvm_opts[@]}" -Dlog4j2.configurationFile="$cfg" -cp "$libs/*" "$@"
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A random port below the usual ephemeral range (32768+), not listening now.
pick_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 12000))
    [[ "$p" != "${1:-}" ]] || continue
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  die "no free port found"
}

# A Kafka Uuid: 16 random bytes, URL-safe base64 without padding, not starting with '-'.
random_cluster_id() {
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [[ "$id" == -* ]] || { echo "$id"; return 0; }
  done
}

# alive PID: the process exists and is not a zombie.
alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
  [[ -n "$state" && "$state" != Z ]]
}

pid_alive() {
  local pid=$1
  [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  # Guard against a recycled pid: it must still be a Kafka JVM.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka'
}

running_pid() {
  local dir=$1 pid
  [[ -f "$dir/kafka.pid" ]] || return 1
  pid=$(cat "$dir/kafka.pid")
  pid_alive "$pid" || return 1
  echo "$pid"
}

abs_dir() {
  mkdir -p "$1"
  (cd "$1" && pwd)
}

write_config() {
  local dir=$1 port=$2 cport=$3
  cat >"$dir/server.properties" <<EOF
# Written by deploy/local/kafka.sh: single-node KRaft, broker and controller in one JVM.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/logs
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
num.network.threads=2
num.io.threads=4
EOF
  cat >"$dir/log4j2.properties" <<'EOF'
# Written by deploy/local/kafka.sh: Kafka's log goes to DIR/server.log, never the terminal.
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.network.name = kafka.network.RequestChannel$
logger.network.level = WARN
EOF
}

show_logs() {
  local dir=$1 f
  for f in format.log kafka.out server.log; do
    if [[ -s "$dir/$f" ]]; then
      log "---- last lines of $dir/$f ----"
      tail -n 40 "$dir/$f" >&2
    fi
  done
}

# launch DIR: starts the broker of DIR's config in the background; prints its pid.
launch() {
  local dir=$1
  # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS is a list of options
  nohup java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m} \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$dir/log4j2.properties" -Dkafka.logs.dir="$dir" \
    -cp "$libs/*" kafka.Kafka "$dir/server.properties" \
    </dev/null >>"$dir/kafka.out" 2>&1 &
  echo "$!" >"$dir/kafka.pid"
  echo "$!"
}

# try_start DIR: one attempt. 0 = up, 1 = failed, 2 = port clash (worth retrying).
try_start() {
  local dir=$1 port cport cid pid deadline
  port=$(pick_port)
  cport=$(pick_port "$port")
  rm -rf "$dir/logs" "$dir/server.log" "$dir/kafka.out" "$dir/format.log" "$dir/bootstrap" "$dir/kafka.pid"
  write_config "$dir" "$port" "$cport"
  write_tools_log4j "$dir/tools-log4j2.properties"

  cid=$(random_cluster_id)
  if ! java "${tool_jvm_opts[@]}" -Dlog4j2.configurationFile="$dir/tools-log4j2.properties" \
      -cp "$libs/*" kafka.tools.StorageTool format -t "$cid" -c "$dir/server.properties" \
      >"$dir/format.log" 2>&1; then
    show_logs "$dir"
    log "formatting the storage failed"
    return 1
  fi

  pid=$(launch "$dir")

  deadline=$((SECONDS + start_timeout))
  while ((SECONDS < deadline)); do
    if ! alive "$pid"; then
      if grep -qs -e 'Address already in use' -e 'BindException' "$dir/server.log" "$dir/kafka.out"; then
        log "port $port or $cport was taken meanwhile; retrying with other ports"
        rm -f "$dir/kafka.pid"
        return 2
      fi
      show_logs "$dir"
      rm -f "$dir/kafka.pid"
      log "the broker exited during start-up"
      return 1
    fi
    # "Kafka Server started" is logged once the broker is registered and unfenced.
    if grep -qs 'Kafka Server started' "$dir/server.log" && port_in_use "$port"; then
      echo "127.0.0.1:$port" >"$dir/bootstrap"
      return 0
    fi
    sleep 0.2
  done
  show_logs "$dir"
  log "the broker did not start within ${start_timeout}s; stopping it"
  cmd_stop "$dir"
  return 1
}

cmd_start() {
  [[ $# -eq 1 ]] || usage
  need_java
  local dir pid attempt rc
  dir=$(abs_dir "$1")
  if pid=$(running_pid "$dir"); then
    die "a broker (pid $pid) already runs in $dir: run '$0 stop $dir' first"
  fi
  cmd_fetch
  for attempt in 1 2 3; do
    rc=0
    try_start "$dir" || rc=$?
    case $rc in
      0) cat "$dir/bootstrap"; return 0 ;;
      2) continue ;;
      *) exit 1 ;;
    esac
  done
  die "could not find free ports after $attempt attempts"
}

# cmd_resume DIR: the broker of DIR (killed, or stopped) starts again on the
# same data, port and cluster id, as a restarted server would: no format, no
# wipe. Waits until it has started once more.
cmd_resume() {
  [[ $# -eq 1 ]] || usage
  need_java
  local dir pid port started deadline
  dir=$(abs_dir "$1")
  [[ -f "$dir/server.properties" && -d "$dir/logs" ]] || die "no broker was started in $dir: use '$0 start $dir'"
  if pid=$(running_pid "$dir"); then
    die "a broker (pid $pid) already runs in $dir"
  fi
  port=$(sed -n 's/^listeners=PLAINTEXT:\/\/127.0.0.1:\([0-9]*\),.*/\1/p' "$dir/server.properties")
  started=$(grep -cs 'Kafka Server started' "$dir/server.log" || true)
  pid=$(launch "$dir")
  deadline=$((SECONDS + start_timeout))
  while ((SECONDS < deadline)); do
    alive "$pid" || { show_logs "$dir"; die "the broker exited during start-up"; }
    if (($(grep -cs 'Kafka Server started' "$dir/server.log" || true) > started)) && port_in_use "$port"; then
      echo "127.0.0.1:$port" >"$dir/bootstrap"
      cat "$dir/bootstrap"
      return 0
    fi
    sleep 0.2
  done
  show_logs "$dir"
  cmd_stop "$dir"
  die "the broker did not start again within ${start_timeout}s"
}

cmd_stop() {
  [[ $# -eq 1 ]] || usage
  local dir=$1 pid deadline
  [[ -d "$dir" ]] || return 0
  if ! pid=$(running_pid "$dir"); then
    rm -f "$dir/kafka.pid" "$dir/bootstrap"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + stop_timeout))
  while alive "$pid" && ((SECONDS < deadline)); do
    sleep 0.2
  done
  if alive "$pid"; then
    log "broker (pid $pid) still alive after ${stop_timeout}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    while alive "$pid"; do sleep 0.1; done
  fi
  rm -f "$dir/kafka.pid" "$dir/bootstrap"
}

cmd_status() {
  [[ $# -eq 1 ]] || usage
  local dir=$1
  running_pid "$dir" >/dev/null || { log "no broker runs in $dir"; return 1; }
  cat "$dir/bootstrap" 2>/dev/null || true
}

[[ $# -ge 1 ]] || usage
sub=$1
shift
case $sub in
  fetch) [[ $# -eq 0 ]] || usage; cmd_fetch ;;
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  status) cmd_status "$@" ;;
  resume) cmd_resume "$@" ;;
  run-class) cmd_run_class "$@" ;;
  -h | --help | help) usage ;;
  *) usage ;;
esac
