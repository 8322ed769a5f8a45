#!/usr/bin/env bash
# Real PostgreSQL 15 for development, tests and CI: the Debian cluster "15/main" on 127.0.0.1:5432.
#
#   deploy/local/postgres.sh start      install if needed, create/start the cluster, ensure role + databases
#   deploy/local/postgres.sh stop       stop the cluster
#   deploy/local/postgres.sh status     exit 0 when the server accepts connections on 127.0.0.1
#   deploy/local/postgres.sh url [test] print the ledger (or ledger_test) connection URL
#
# Every step is idempotent and cheap when already done, so CI (fresh machine, root, no stdin) and
# developers can run "start" before every test run. The cluster is shared by every clone on the
# machine, so "start" never wipes data: tests own their isolation (ledger_test, their own schemas).
set -euo pipefail

# Fixed on purpose: the URLs below are what the rest of the project documents and uses.
readonly PG_VERSION=15
readonly PG_CLUSTER=main
readonly PG_HOST=127.0.0.1
readonly PG_PORT=5432
readonly LEDGER_ROLE=ledger
# A development-only secret: the server only listens on loopback.
readonly LEDGER_PASSWORD=ledger-local-only
readonly LEDGER_DBS=(ledger ledger_test)
# Tests open connection pools (eventsourcing opens POOL_SIZE connections eagerly per app).
readonly WANT_MAX_CONNECTIONS=200
readonly START_TIMEOUT_S=${PG_START_TIMEOUT:-60}
readonly PG_LOG=/var/log/postgresql/postgresql-${PG_VERSION}-${PG_CLUSTER}.log
# One lock for all clones on this machine: they share the one cluster.
readonly LOCK_FILE=${TMPDIR:-/tmp}/privacy-ledger-postgres.lock

die() {
    echo "postgres.sh: $*" >&2
    exit 1
}

# Show the server log tail so a failed start explains itself in CI output.
die_with_log() {
    echo "postgres.sh: $*" >&2
    if [[ -r $PG_LOG ]]; then
        echo "--- last lines of $PG_LOG ---" >&2
        tail -n 30 "$PG_LOG" >&2 || true
    fi
    exit 1
}

# Admin commands must run as root (pg_ctlcluster, apt-get) or as the postgres OS user (psql via
# peer authentication on the local socket). CI runs as root; a developer may use sudo.
as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    else
        sudo -n -- "$@" || die "needs root for: $* (run as root or allow passwordless sudo)"
    fi
}

as_postgres() {
    # cd /: the postgres user usually cannot read the caller's working directory, and psql
    # would warn about it.
    cd /
    if [[ $EUID -eq 0 ]]; then
        runuser -u postgres -- "$@"
    elif [[ $(id -un) == postgres ]]; then
        "$@"
    else
        sudo -n -u postgres -- "$@"
    fi
}

admin_psql() {
    # -X: ignore any ~/.psqlrc; ON_ERROR_STOP: fail the script on the first SQL error.
    as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres "$@"
}

ledger_url() {
    echo "postgresql://${LEDGER_ROLE}:${LEDGER_PASSWORD}@${PG_HOST}:${PG_PORT}/$1"
}

server_installed() {
    [[ -x /usr/lib/postgresql/${PG_VERSION}/bin/postgres ]] && command -v pg_lsclusters >/dev/null
}

ensure_installed() {
    server_installed && return 0
    echo "postgres.sh: PostgreSQL ${PG_VERSION} server not found; installing postgresql-${PG_VERSION} with apt-get" >&2
    # Non-interactive: CI has no stdin. The package's postinst creates cluster 15/main by default.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "postgresql-${PG_VERSION}" >/dev/null
    server_installed || die "postgresql-${PG_VERSION} installation did not provide the server binaries"
}

cluster_exists() {
    # pg_lsclusters -h: no header; columns: version cluster port status owner datadir logfile
    pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c {found = 1} END {exit !found}'
}

cluster_online() {
    pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c && $4 ~ /^online/ {found = 1} END {exit !found}'
}

cluster_port() {
    pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c {print $3}'
}

accepting() {
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2
}

wait_accepting() {
    local deadline=$((SECONDS + START_TIMEOUT_S))
    until accepting; do
        ((SECONDS < deadline)) || die_with_log "server did not accept connections on ${PG_HOST}:${PG_PORT} within ${START_TIMEOUT_S}s"
        sleep 0.2
    done
}

ensure_cluster() {
    if ! cluster_exists; then
        # --port pins 5432: pg_createcluster would otherwise pick the next free port silently.
        as_root pg_createcluster --port "$PG_PORT" "$PG_VERSION" "$PG_CLUSTER" >/dev/null \
            || die "pg_createcluster ${PG_VERSION} ${PG_CLUSTER} failed"
    fi
    local port
    port=$(cluster_port)
    [[ $port == "$PG_PORT" ]] || die "cluster ${PG_VERSION}/${PG_CLUSTER} is configured for port ${port}, expected ${PG_PORT}"
}

start_cluster() {
    if ! cluster_online; then
        # pg_ctlcluster may print a systemd hint on machines with systemd; it is not an error.
        # 9>&-: the server must not inherit the lock fd, or it would hold the lock forever.
        as_root pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start >/dev/null 2>&1 9>&- \
            || die_with_log "pg_ctlcluster ${PG_VERSION} ${PG_CLUSTER} start failed"
    fi
    wait_accepting
}

ensure_max_connections() {
    local current
    current=$(admin_psql -At -c "SHOW max_connections")
    if ((current < WANT_MAX_CONNECTIONS)); then
        # max_connections only changes on restart; this happens once per machine.
        admin_psql -c "ALTER SYSTEM SET max_connections = ${WANT_MAX_CONNECTIONS}"
        as_root pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" restart >/dev/null 2>&1 9>&- \
            || die_with_log "restart after raising max_connections failed"
        wait_accepting
    fi
}

ensure_role_and_databases() {
    # CREATE ROLE/DATABASE have no IF NOT EXISTS and CREATE DATABASE cannot run in a DO block,
    # hence the "SELECT ... WHERE NOT EXISTS \gexec" idiom. ALTER ROLE re-asserts the attributes
    # and password every time, so a drifted role is repaired by simply running start again.
    local dbs_sql
    dbs_sql=$(printf "'%s'," "${LEDGER_DBS[@]}")
    dbs_sql=${dbs_sql%,}
    admin_psql <<SQL
SELECT format('CREATE ROLE %I', '${LEDGER_ROLE}')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${LEDGER_ROLE}') \gexec
ALTER ROLE ${LEDGER_ROLE} WITH LOGIN CREATEDB PASSWORD '${LEDGER_PASSWORD}';
SELECT format('CREATE DATABASE %I OWNER %I', d, '${LEDGER_ROLE}')
  FROM unnest(ARRAY[${dbs_sql}]) AS d
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d) \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', d, '${LEDGER_ROLE}')
  FROM unnest(ARRAY[${dbs_sql}]) AS d \gexec
SQL
}

verify_password_login() {
    # Prove what the application does: TCP to 127.0.0.1 with the password (scram-sha-256 in
    # Debian's default pg_hba.conf), not the peer-authenticated socket used above.
    local db
    for db in "${LEDGER_DBS[@]}"; do
        PGPASSWORD=$LEDGER_PASSWORD PGCONNECT_TIMEOUT=5 \
            psql -X -q -At -h "$PG_HOST" -p "$PG_PORT" -U "$LEDGER_ROLE" -d "$db" -c "SELECT 1" >/dev/null 2>&1 \
            || die "password login as ${LEDGER_ROLE} to ${db} over ${PG_HOST}:${PG_PORT} failed; check /etc/postgresql/${PG_VERSION}/${PG_CLUSTER}/pg_hba.conf has a 'host all all 127.0.0.1/32 scram-sha-256' line"
    done
}

with_lock() {
    # Serialise concurrent start/stop calls (parallel CI steps, several clones on one machine).
    # Anything started in the background below must close fd 9 (9>&-), see start_cluster.
    exec 9>"$LOCK_FILE"
    flock -w 120 9 || die "timed out waiting for $LOCK_FILE"
    "$@"
}

cmd_start() {
    ensure_installed
    ensure_cluster
    start_cluster
    ensure_max_connections
    ensure_role_and_databases
    verify_password_login
}

cmd_stop() {
    server_installed || return 0
    cluster_exists || return 0
    if cluster_online; then
        # fast: roll back open transactions and disconnect clients instead of waiting for them.
        as_root pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" stop -m fast >/dev/null 2>&1 \
            || die_with_log "pg_ctlcluster ${PG_VERSION} ${PG_CLUSTER} stop failed"
    fi
}

cmd_status() {
    if command -v pg_isready >/dev/null && accepting; then
        echo "postgres: accepting connections on ${PG_HOST}:${PG_PORT}"
    else
        echo "postgres: not accepting connections on ${PG_HOST}:${PG_PORT}"
        return 1
    fi
}

cmd_url() {
    case ${1:-} in
        "") ledger_url ledger ;;
        test) ledger_url ledger_test ;;
        *) die "usage: $0 url [test]" ;;
    esac
}

main() {
    case ${1:-} in
        start) with_lock cmd_start ;;
        stop) with_lock cmd_stop ;;
        status) cmd_status ;;
        url) cmd_url "${2:-}" ;;
        *)
            echo "usage: $0 {start|stop|status|url [test]}" >&2
            exit 2
            ;;
    esac
}

main "$@"
