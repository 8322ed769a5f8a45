#!/usr/bin/env bash
# Real Apache Kafka 4.x for development, tests and CI: a single-node KRaft broker on loopback,
# built from Maven Central jars (no tarball download, no Docker, no ZooKeeper).
#
#   deploy/local/kafka.sh start      fetch jars if needed, format a FRESH data dir, start, wait until serving
#   deploy/local/kafka.sh stop       SIGTERM, wait up to 30 s, then SIGKILL; remove the data dir
#   deploy/local/kafka.sh restart    stop and start the running broker, keeping its data
#   deploy/local/kafka.sh status     exit 0 when the broker serves metadata on the bootstrap address
#   deploy/local/kafka.sh bootstrap  print the bootstrap address (127.0.0.1:19092)
#
# Environment:
#   KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (19093)  listener ports, both bound to 127.0.0.1 only
#   KAFKA_HEAP_OPTS (-Xms128m -Xmx512m)                 JVM heap; the machines have 2 cores, shared
#   KAFKA_START_TIMEOUT (60)                            seconds to wait until the broker serves
#   KAFKA_LIBS_DIR (<repo>/.cache/kafka-libs)           jar cache (ignored by git)
#   PYTHON (<repo>/.venv/bin/python)                    interpreter with kafka-python, for the readiness check
#
# Files: var/kafka/ (ignored by git): server.properties, data/, broker.log, broker.pid.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd)
readonly SCRIPT_DIR REPO_ROOT
readonly KAFKA_CONF_DIR=$SCRIPT_DIR/kafka
readonly POM=$KAFKA_CONF_DIR/pom.xml
readonly LOG4J_CONF=$KAFKA_CONF_DIR/log4j2.properties
readonly LIBS_DIR=${KAFKA_LIBS_DIR:-$REPO_ROOT/.cache/kafka-libs}
readonly RUN_DIR=$REPO_ROOT/var/kafka
readonly DATA_DIR=$RUN_DIR/data
readonly PROPS=$RUN_DIR/server.properties
readonly BROKER_LOG=$RUN_DIR/broker.log
readonly PID_FILE=$RUN_DIR/broker.pid
readonly LOCK_FILE=$RUN_DIR/.lock
readonly HOST=127.0.0.1
readonly PORT=${KAFKA_PORT:-19092}
readonly CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19093}
readonly BOOTSTRAP=$HOST:$PORT
readonly START_TIMEOUT_S=${KAFKA_START_TIMEOUT:-60}
readonly STOP_TIMEOUT_S=30
# Pinned plugin version: the bare "dependency:" prefix would resolve whatever Maven's default is.
readonly DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
# Split on purpose into separate JVM words (see java_cmd).
read -r -a HEAP_OPTS <<<"${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
readonly HEAP_OPTS

die() {
    echo "kafka.sh: $*" >&2
    exit 1
}

die_with_log() {
    echo "kafka.sh: $*" >&2
    if [[ -r $BROKER_LOG ]]; then
        echo "--- last lines of $BROKER_LOG ---" >&2
        tail -n 40 "$BROKER_LOG" >&2 || true
    fi
    exit 1
}

# ---------------------------------------------------------------------------------------------
# Prerequisites

require_java17() {
    command -v java >/dev/null \
        || die "java not found: Kafka 4.x needs Java 17+ (Debian: apt-get install -y openjdk-17-jre-headless)"
    local line major
    # First line looks like: openjdk version "17.0.15" 2025-04-15   (or "1.8.0_392" for Java 8)
    line=$(java -version 2>&1 | head -n 1)
    major=$(sed -E 's/.*version "([0-9]+)(\.([0-9]+))?.*/\1 \3/' <<<"$line")
    # "1 8" means Java 8 style numbering.
    if [[ $major == 1\ * ]]; then major=${major#1 }; else major=${major%% *}; fi
    [[ $major =~ ^[0-9]+$ ]] || die "cannot parse the Java version from: $line"
    ((major >= 17)) || die "Kafka 4.x needs Java 17+, but 'java' is Java $major ($line)"
}

resolve_python() {
    # The readiness check uses the same client library as the project (kafka-python), so a
    # broker that kafka.sh calls ready is one the project's code can talk to.
    if [[ -n ${PYTHON:-} ]]; then
        PY=$PYTHON
    elif [[ -x $REPO_ROOT/.venv/bin/python ]]; then
        PY=$REPO_ROOT/.venv/bin/python
    else
        PY=$(command -v python3) || die "no Python found; set PYTHON to an interpreter with kafka-python"
    fi
    "$PY" -c "import kafka" 2>/dev/null \
        || die "$PY cannot import kafka-python (needed for the readiness check); set PYTHON or install the project's venv"
}

# ---------------------------------------------------------------------------------------------
# Jars from Maven Central

pom_digest() {
    sha256sum "$POM" | cut -d' ' -f1
}

libs_ready() {
    # The stamp holds the pom's digest: written last, so a half-finished download never counts,
    # and a changed pom (version bump) triggers a fresh download.
    [[ -f $LIBS_DIR/.complete && $(<"$LIBS_DIR/.complete") == "$(pom_digest)" ]]
}

ensure_libs() {
    libs_ready && return 0
    command -v mvn >/dev/null \
        || die "mvn not found: it fetches the Kafka jars from Maven Central (Debian: apt-get install -y maven)"
    echo "kafka.sh: fetching the Kafka broker jars from Maven Central into ${LIBS_DIR}" >&2
    local tmp
    mkdir -p "$(dirname -- "$LIBS_DIR")"
    tmp=$(mktemp -d "${LIBS_DIR}.tmp.XXXXXX")
    # -B: batch mode (CI has no stdin/tty); -q: only errors. ~/.m2 stays a second-level cache.
    if ! mvn -B -q -f "$POM" "$DEP_PLUGIN:copy-dependencies" \
        -DincludeScope=runtime -DoutputDirectory="$tmp" >"$tmp.mvn.log" 2>&1; then
        cat "$tmp.mvn.log" >&2
        rm -rf -- "$tmp" "$tmp.mvn.log"
        die "mvn could not fetch the Kafka jars (see above)"
    fi
    rm -f -- "$tmp.mvn.log"
    check_jar_set "$tmp" || {
        rm -rf -- "$tmp"
        exit 1
    }
    pom_digest >"$tmp/.complete"
    # Swap in the complete set in one rename so concurrent readers never see a partial folder.
    rm -rf -- "$LIBS_DIR"
    mv -- "$tmp" "$LIBS_DIR"
}

check_jar_set() {
    local dir=$1 missing=() prefix
    # The broker modules a KRaft node loads at start-up, plus the logging chain.
    for prefix in kafka_2.13- kafka-clients- kafka-server- kafka-server-common- kafka-raft- \
        kafka-metadata- kafka-storage- kafka-group-coordinator- kafka-transaction-coordinator- \
        kafka-share-coordinator- scala-library- jackson-databind- argparse4j- jopt-simple- \
        metrics-core- log4j-api- log4j-core- slf4j-api-; do
        compgen -G "$dir/${prefix}[0-9]*.jar" >/dev/null || missing+=("$prefix*.jar")
    done
    if ((${#missing[@]})); then
        echo "kafka.sh: the downloaded jar set lacks: ${missing[*]}" >&2
        return 1
    fi
    # SLF4J 1.x needs log4j-slf4j-impl, SLF4J 2.x needs log4j-slf4j2-impl; the wrong one means
    # a silent NOP logger, i.e. a broker that dies without a word in broker.log.
    if compgen -G "$dir/slf4j-api-2.*.jar" >/dev/null; then
        compgen -G "$dir/log4j-slf4j2-impl-*.jar" >/dev/null \
            || { echo "kafka.sh: slf4j-api 2.x on the classpath: use log4j-slf4j2-impl in $POM" >&2; return 1; }
    else
        compgen -G "$dir/log4j-slf4j-impl-*.jar" >/dev/null \
            || { echo "kafka.sh: slf4j-api 1.x on the classpath: use log4j-slf4j-impl in $POM" >&2; return 1; }
    fi
}

java_cmd() {
    # The classpath wildcard must reach java unexpanded (quoted), or the shell globs it into
    # separate arguments and java takes the second jar for the main class.
    JAVA_CMD=(java "${HEAP_OPTS[@]}" -Djava.awt.headless=true
        "-Dlog4j2.configurationFile=$LOG4J_CONF" -cp "$LIBS_DIR/*")
}

# ---------------------------------------------------------------------------------------------
# Process and readiness

broker_pid() {
    # Prints the pid only if the pid file names a live Kafka broker (pids get reused).
    [[ -f $PID_FILE ]] || return 1
    local pid
    pid=$(<"$PID_FILE")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- ' kafka.Kafka ' || return 1
    echo "$pid"
}

port_in_use() {
    # A TCP connect to loopback only; bash's /dev/tcp avoids needing nc/ss.
    (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# check_serving full|light: exit 0 when the broker answers on the bootstrap address.
# full: create, list and delete a uniquely named topic (proves the controller and metadata
# propagation work, not just that a socket is open). light: connect and list topics only.
check_serving() {
    local mode=$1
    "$PY" - "$BOOTSTRAP" "$mode" <<'PY'
import logging
import sys
import uuid

logging.disable(logging.CRITICAL)  # failures are expected while the broker starts
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

bootstrap, mode = sys.argv[1], sys.argv[2]
admin = KafkaAdminClient(
    bootstrap_servers=bootstrap,
    bootstrap_timeout_ms=2000,
    request_timeout_ms=5000,
    client_id="deploy-local-kafka-check",
)
try:
    if mode == "full":
        name = f"readiness-check-{uuid.uuid4().hex[:12]}"
        admin.create_topics([NewTopic(name, 1, 1)], timeout_ms=5000, wait_for_metadata=True)
        if name not in admin.list_topics():
            sys.exit(f"topic {name} was created but is not listed")
        admin.delete_topics([name], timeout_ms=5000)
    else:
        admin.list_topics()
finally:
    admin.close()
PY
}

wait_serving() {
    local pid=$1 deadline=$((SECONDS + START_TIMEOUT_S)) err
    while true; do
        kill -0 "$pid" 2>/dev/null || die_with_log "the broker (pid $pid) exited during start-up"
        # Cheap socket probe first: each Python check costs a process start and, while nothing
        # listens, a bootstrap timeout; this keeps the start latency close to the broker's own.
        if ! port_in_use "$PORT"; then
            ((SECONDS < deadline)) || die_with_log "nothing listens on $BOOTSTRAP after ${START_TIMEOUT_S}s"
            sleep 0.1
            continue
        fi
        if err=$(check_serving full 2>&1); then
            return 0
        fi
        if ((SECONDS >= deadline)); then
            echo "kafka.sh: last readiness check error: ${err##*$'\n'}" >&2
            die_with_log "the broker did not serve on $BOOTSTRAP within ${START_TIMEOUT_S}s"
        fi
        sleep 0.5
    done
}

new_cluster_id() {
    # A Kafka Uuid is 16 random bytes, base64url without padding (22 characters). Avoid a
    # leading '-', which the tools' argument parser would read as an option (Kafka does the same).
    local id
    while true; do
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
        [[ $id == -* ]] || break
    done
    echo "$id"
}

write_server_properties() {
    # Static quorum (controller.quorum.voters) so "format" needs no --standalone; a combined
    # broker+controller node. The *num.partitions / rebalance delay values are for test speed;
    # the replication factors of 1 are required with a single node.
    cat >"$PROPS" <<EOF
# Generated by deploy/local/kafka.sh on each start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${HOST}:${CONTROLLER_PORT}
listeners=PLAINTEXT://${HOST}:${PORT},CONTROLLER://${HOST}:${CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://${HOST}:${PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${DATA_DIR}
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
}

# ---------------------------------------------------------------------------------------------
# Commands

cmd_start() {
    local pid started=$SECONDS
    resolve_python
    if pid=$(broker_pid); then
        if check_serving light >/dev/null 2>&1; then
            echo "kafka: already running on $BOOTSTRAP (pid $pid); 'stop' first for a fresh broker"
            return 0
        fi
        die_with_log "a broker process (pid $pid) exists but does not serve on $BOOTSTRAP; run '$0 stop'"
    fi
    rm -f -- "$PID_FILE"
    require_java17
    ensure_libs
    local port
    for port in "$PORT" "$CONTROLLER_PORT"; do
        ! port_in_use "$port" \
            || die "$HOST:$port is already in use (another broker or clone?); stop it or set KAFKA_PORT/KAFKA_CONTROLLER_PORT"
    done

    # A fresh data directory per start: tests must never see topics or offsets of an earlier run.
    rm -rf -- "$DATA_DIR"
    mkdir -p -- "$DATA_DIR"
    write_server_properties
    java_cmd
    : >"$BROKER_LOG"
    # --ignore-formatted keeps a re-run harmless; with a static quorum no --standalone is needed.
    # The format JVM lives ~1 s: C1-only JIT and SerialGC start it about 0.5 s faster.
    "${JAVA_CMD[@]}" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC kafka.tools.StorageTool format \
        -t "$(new_cluster_id)" -c "$PROPS" --ignore-formatted >>"$BROKER_LOG" 2>&1 \
        || die_with_log "formatting $DATA_DIR failed"

    launch_broker
    echo "kafka: serving on $BOOTSTRAP (pid $(broker_pid), ready in $((SECONDS - started))s, log $BROKER_LOG)"
}

launch_broker() {
    local pid
    # nohup + </dev/null + redirected output: the broker outlives this script and its terminal,
    # and holds no pipe of the caller open (CI would otherwise wait for it). 9>&-: do not
    # inherit the lock fd.
    # G1 as in Kafka's own start script (kafka-run-class.sh).
    nohup "${JAVA_CMD[@]}" -XX:+UseG1GC kafka.Kafka "$PROPS" </dev/null >>"$BROKER_LOG" 2>&1 9>&- &
    pid=$!
    echo "$pid" >"$PID_FILE"
    wait_serving "$pid"
}

# Restart the running broker KEEPING its data (topics, offsets): what a broker restart in production
# looks like to clients. Tests use it to prove consumers survive one.
cmd_restart() {
    local pid started=$SECONDS
    resolve_python
    pid=$(broker_pid) || die "no broker of this clone is running; use start"
    terminate "$pid"
    [[ -d $DATA_DIR ]] || die "the data directory $DATA_DIR is gone; use start"
    java_cmd
    launch_broker
    echo "kafka: restarted on $BOOTSTRAP (pid $(broker_pid), ready in $((SECONDS - started))s)"
}

cmd_stop() {
    local pid
    if ! pid=$(broker_pid); then
        rm -f -- "$PID_FILE"
        rm -rf -- "$DATA_DIR"
        return 0
    fi
    terminate "$pid"
    rm -f -- "$PID_FILE"
    # The next start formats a fresh directory anyway; free the disk now. broker.log stays for
    # post-mortems.
    rm -rf -- "$DATA_DIR"
}

terminate() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT_S))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "kafka.sh: broker (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT_S}s; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
}

cmd_status() {
    local pid
    resolve_python
    if check_serving light >/dev/null 2>&1; then
        if pid=$(broker_pid); then
            echo "kafka: serving on $BOOTSTRAP (pid $pid)"
        else
            echo "kafka: serving on $BOOTSTRAP (not started by this clone's kafka.sh)"
        fi
    else
        echo "kafka: not serving on $BOOTSTRAP"
        return 1
    fi
}

with_lock() {
    # Serialise start/stop of this clone's broker (e.g. two test sessions starting at once).
    mkdir -p -- "$RUN_DIR"
    exec 9>"$LOCK_FILE"
    flock -w 120 9 || die "timed out waiting for $LOCK_FILE"
    "$@"
}

main() {
    case ${1:-} in
        start) with_lock cmd_start ;;
        stop) with_lock cmd_stop ;;
        restart) with_lock cmd_restart ;;
        status) cmd_status ;;
        bootstrap) echo "$BOOTSTRAP" ;;
        *)
            echo "usage: $0 {start|stop|restart|status|bootstrap}" >&2
            exit 2
            ;;
    esac
}

main "$@"
