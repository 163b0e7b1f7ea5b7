#!/usr/bin/env bash
# Deadline-day load test: gunicorn + a Celery worker + PostgreSQL + Redis, all on 127.0.0.1.
#
#   bash load/run.sh                 full: 1,000 units, 40 users, 60 s after a 20 s ramp-up
#                                    -> load/results/latest.{md,json} (LABEL=name for another file name)
#   bash load/run.sh --smoke         CI:   200 units, 20 users, 20 s -> load/.work/smoke.{md,json};
#                                    exits non-zero on any 5xx, unanswered or failed request
#   options: --units N  --users N  --duration 60s  --workers N  --reuse (keep the population of the last
#            run if there is one)  --keep (leave portal_load and load/.work/media in place afterwards)
#
# Its own stores only: database portal_load (dropped and re-created; never portal / test_portal /
# portal_bench), Redis databases 10 (broker) and 11 (cache), load/.work/ for media, logs and
# population.json. Needs PostgreSQL and Redis up (bash scripts/services.sh start) and the venv
# (locust is in requirements-dev.txt). Everything it starts is stopped by PID (its process group)
# on exit, also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=.venv/bin/python
eval "$($PY -m load.config)"

MODE=full UNITS="" USERS="" DURATION="" WORKERS=4 REUSE=0 KEEP=0
while [ $# -gt 0 ]; do
    case $1 in
        --smoke) MODE=smoke ;;
        --units) UNITS=$2; shift ;;
        --users) USERS=$2; shift ;;
        --duration) DURATION=$2; shift ;;
        --workers) WORKERS=$2; shift ;;
        --reuse) REUSE=1 ;;
        --keep) KEEP=1 ;;
        *) echo "usage: bash load/run.sh [--smoke] [--units N] [--users N] [--duration 60s] [--workers N] [--reuse] [--keep]" >&2; exit 64 ;;
    esac
    shift
done
# Users arrive over a ramp-up (they log in then: Argon2, ~0.2 s of CPU each). The full run measures
# DURATION after the ramp-up (--reset-stats); the smoke counts everything, logins included.
if [ "$MODE" = smoke ]; then
    UNITS=${UNITS:-200} USERS=${USERS:-20} DURATION=${DURATION:-20} LABEL=smoke RESULTS=$LOAD_WORK_DIR
    RAMP=0 SPAWN_RATE=5 RESET=""
else
    UNITS=${UNITS:-1000} USERS=${USERS:-40} DURATION=${DURATION:-60} LABEL=${LABEL:-latest} RESULTS=$LOAD_RESULTS_DIR
    RAMP=20 SPAWN_RATE=$(( (USERS + 19) / 20 )) RESET=--reset-stats
fi
DURATION=${DURATION%s}
say() { echo "load: $*"; }
die() { echo "load: ERROR: $*" >&2; exit 1; }

pg_isready -q -h 127.0.0.1 -p 5432 || die "PostgreSQL is not up on 127.0.0.1:5432 (bash scripts/services.sh start)"
[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ] || die "Redis is not up on 127.0.0.1:6379"
[ -x .venv/bin/locust ] || die ".venv/bin/locust missing (bash scripts/bootstrap.sh installs requirements-dev.txt)"
if curl -s -o /dev/null "http://$LOAD_HOST:$LOAD_PORT/"; then die "port $LOAD_PORT is already in use"; fi
mkdir -p "$LOAD_WORK_DIR" "$RESULTS"

GUNICORN_PID="" WORKER_PID=""
stop_group() {  # stop_group <pid>: TERM the process group led by <pid>, KILL it after 15 s
    local pid=$1 i=0
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM -- "-$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        i=$((i + 1))
        if [ "$i" -gt 60 ]; then kill -KILL -- "-$pid" 2>/dev/null || true; break; fi
        sleep 0.25
    done
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    stop_group "$GUNICORN_PID"
    stop_group "$WORKER_PID"
    if [ "$KEEP" -eq 0 ]; then
        psql "$LOAD_ADMIN_URL" -X -q -c "DROP DATABASE IF EXISTS $LOAD_DB_NAME WITH (FORCE)" >/dev/null 2>&1 || true
        rm -rf "$LOAD_WORK_DIR/media" "$LOAD_WORK_DIR/population.json"
    fi
    redis-cli -n "$LOAD_REDIS_BROKER_DB" flushdb >/dev/null 2>&1 || true
    redis-cli -n "$LOAD_REDIS_CACHE_DB" flushdb >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

T0=$SECONDS
have_db=$(psql "$LOAD_ADMIN_URL" -X -tAc "SELECT 1 FROM pg_database WHERE datname = '$LOAD_DB_NAME'" 2>/dev/null || true)
if [ "$REUSE" -eq 1 ] && [ "$have_db" = 1 ] && [ -f "$LOAD_WORK_DIR/population.json" ] \
        && [ "$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['units'])" "$LOAD_WORK_DIR/population.json")" = "$UNITS" ]; then
    say "reusing the population in $LOAD_DB_NAME"
else
    say "generating $UNITS units into $LOAD_DB_NAME"
    $PY -m load.populate --units "$UNITS" > "$LOAD_WORK_DIR/populate.log" 2>&1 || { tail -n 30 "$LOAD_WORK_DIR/populate.log" >&2; die "populate failed"; }
    tail -n 1 "$LOAD_WORK_DIR/populate.log"
fi
redis-cli -n "$LOAD_REDIS_BROKER_DB" flushdb >/dev/null
redis-cli -n "$LOAD_REDIS_CACHE_DB" flushdb >/dev/null
$PY manage.py collectstatic --noinput -v 0  # WhiteNoise serves the CSS and JS, as in production

# setsid: each server leads a process group of its own, so stop_group reaches its children too.
setsid $PY -m celery -A portal worker --concurrency=1 --without-gossip --without-mingle --without-heartbeat \
    --loglevel=WARNING > "$LOAD_WORK_DIR/worker.log" 2>&1 &
WORKER_PID=$!
rm -f "$LOAD_WORK_DIR/access.log" "$LOAD_WORK_DIR/gunicorn.log" "$LOAD_WORK_DIR/worker.log"
GUNICORN_ARGS="--workers $WORKERS --bind $LOAD_HOST:$LOAD_PORT --timeout 60"
setsid .venv/bin/gunicorn portal.wsgi:application $GUNICORN_ARGS \
    --access-logfile "$LOAD_WORK_DIR/access.log" --error-logfile "$LOAD_WORK_DIR/gunicorn.log" \
    --access-logformat '%(h)s %(t)s "%(r)s" %(s)s %(B)s %(M)sms' &
GUNICORN_PID=$!
for _ in $(seq 1 120); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://$LOAD_HOST:$LOAD_PORT/healthz" || true)
    [ "$code" = 200 ] && break
    kill -0 "$GUNICORN_PID" 2>/dev/null || { tail -n 30 "$LOAD_WORK_DIR/gunicorn.log" >&2; die "gunicorn exited"; }
    sleep 0.25
done
[ "$code" = 200 ] || die "gunicorn did not answer /healthz with 200 (last: $code)"
say "gunicorn ($GUNICORN_ARGS, pid $GUNICORN_PID) and worker (pid $WORKER_PID) up; health: $(curl -s "http://$LOAD_HOST:$LOAD_PORT/healthz")"

say "locust: $USERS users (+$SPAWN_RATE/s), ${DURATION}s${RESET:+ after a ${RAMP}s ramp-up}"
LOAD_LABEL=$LABEL LOAD_RESULTS_DIR=$RESULTS LOAD_GUNICORN="gunicorn $GUNICORN_ARGS (sync)" \
    .venv/bin/locust -f load/locustfile.py --headless --users "$USERS" --spawn-rate "$SPAWN_RATE" \
    --run-time "$((DURATION + RAMP))s" $RESET \
    --host "http://$LOAD_HOST:$LOAD_PORT" --stop-timeout 10 --only-summary --loglevel WARNING \
    --exit-code-on-error 0 > "$LOAD_WORK_DIR/locust-$LABEL.log" 2>&1 || { tail -n 30 "$LOAD_WORK_DIR/locust-$LABEL.log" >&2; die "locust failed"; }

[ -f "$RESULTS/$LABEL.json" ] || die "no results written ($RESULTS/$LABEL.json)"
$PY -m load.server_times "$LOAD_WORK_DIR/access.log" "$RESULTS" "$LABEL"
cat "$RESULTS/$LABEL.md"
if grep -q "Traceback" "$LOAD_WORK_DIR/gunicorn.log"; then
    say "WARNING: tracebacks in $LOAD_WORK_DIR/gunicorn.log:"; grep -m 5 -A 3 Traceback "$LOAD_WORK_DIR/gunicorn.log" || true
fi
verdict=$($PY - "$RESULTS/$LABEL.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
unanswered = sum(n for code, n in r["status_codes"].items() if not code.isdigit())
problems = []
if r["total"]["requests"] == 0:
    problems.append("no request was made")
failed = sum(r["failures_whole_run"].values())
if failed:  # a refused login, a save that did not redirect, /healthz not ok
    problems.append(f"{failed} failed requests: {list(r['failures_whole_run'])[:5]}")
if r["server_errors_5xx"]:
    problems.append(f"{r['server_errors_5xx']} server errors (5xx): {r['server_error_samples'][:5]}")
if unanswered:
    problems.append(f"{unanswered} requests got no response")
print("; ".join(problems) or "ok")
EOF
)
say "done in $((SECONDS - T0)) s: $verdict"
[ "$verdict" = ok ] || exit 1
