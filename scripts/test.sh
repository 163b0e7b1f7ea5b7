#!/usr/bin/env bash
# THE test command:  bash scripts/test.sh [extra pytest args]
#
#   1. scripts/bootstrap.sh       .venv + requirements-dev.txt (re-installs only on change)
#   2. scripts/setup_system.sh    Debian packages (as root; non-root: check only)
#   3. fc-list :lang=zh           a CJK font must exist, or screenshots show boxes
#   4. scripts/services.sh start  PostgreSQL + Redis + SeaweedFS (S3) on 127.0.0.1
#   5. pytest on SQLite           -m "not browser and not exhaustive", no DATABASE_URL / REDIS_URL,
#                                 files on the local disk (the exhaustive suites - permission and
#                                 workflow matrices, URL fuzz, XSS, leaks, headers - test logic that
#                                 does not depend on the database: they run once, in step 6)
#   6. pytest on PostgreSQL       all tests incl. browser, DATABASE_URL + REDIS_URL set, every file
#                                 in SeaweedFS's S3 bucket (STORAGE_S3_*; each test its own prefix);
#                                 in PG_WORKERS (2) pytest-xdist processes, each with its own test
#                                 database and Redis database (conftest.py), tests that share a
#                                 Redis broker database kept in one process (xdist_group)
#   7. load smoke                 bash load/run.sh --smoke: gunicorn + worker, 20 s, zero 5xx
#                                 (as root with PostgreSQL up, and only without extra arguments)
#   8. benchmark, tiny mode       bench/run.py --tiny: every measured path still works (~25 s;
#                                 no timing is asserted; only without extra arguments)
#   9. image build steps          bash scripts/image_steps.sh host: the Dockerfile's steps on this
#                                 machine (hashed install from PyPI, collectstatic, non-root run;
#                                 ~40 s; only without extra arguments). The compose stack itself
#                                 runs in step 6 (assessments/tests/test_compose.py).
#
# Extra arguments go to both pytest runs (e.g. `-k dashboard -x`). Both runs always
# execute; the script exits non-zero if either fails. pytest exit code 5 ("no tests
# collected") counts as a failure. Tests run with DEBUG off: DJANGO_DEBUG is unset.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
T0=$SECONDS
say() { echo "test.sh: $*"; }

# -- 1. Python environment
bash scripts/bootstrap.sh

# -- 2. System packages
if [ "$(id -u)" -ne 0 ]; then
    say "WARNING: not root - only checking system packages (setup_system.sh fails if any is missing)"
fi
bash scripts/setup_system.sh

# -- 3. CJK font
if ! command -v fc-list >/dev/null || [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
    say "ERROR: no Chinese font found (fc-list :lang=zh is empty) - install fonts-noto-cjk" >&2
    exit 1
fi
say "CJK fonts: $(fc-list :lang=zh family | wc -l) font faces"

# -- 4. Services
bash scripts/services.sh start

# -- 5./6. pytest
PG_URL=${PORTAL_TEST_DATABASE_URL:-postgres://portal:portal@127.0.0.1:5432/portal}
REDIS=${PORTAL_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
S3_ENV=(STORAGE_S3_BUCKET="${SEAWEEDFS_BUCKET:-portal-test}" STORAGE_S3_ENDPOINT_URL="http://127.0.0.1:${SEAWEEDFS_S3_PORT:-8333}"
        STORAGE_S3_ACCESS_KEY_ID=portal STORAGE_S3_SECRET_ACCESS_KEY=portal STORAGE_S3_USE_SSL=0
        STORAGE_S3_PREFIX="test-run-$(date +%s)-$$")
export PORTAL_CHROMIUM=${PORTAL_CHROMIUM:-/usr/bin/chromium}
export DJANGO_SECRET_KEY=test-only-not-secret
unset DJANGO_DEBUG                 # tests run with DEBUG off
unset DJANGO_ALLOW_ASYNC_UNSAFE    # conftest.py sets it only while Playwright is open
export PYTHONDONTWRITEBYTECODE=1
mkdir -p test-artifacts            # screenshots (git-ignored); always present for CI to collect
PYTEST=(.venv/bin/python -m pytest)

SUMMARY=()
FAILED=0
run_pytest() {  # run_pytest <label> <log> <env assignments...> -- <pytest args...>: writes <log> and <log>.rc
    local label=$1 log=$2; shift 2
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    local shown=""
    [ "$#" -eq 0 ] || shown=$(printf ' %q' "$@")
    local t=$SECONDS rc=0
    { echo "test.sh: === $label: pytest$shown"
      env -u DATABASE_URL -u REDIS_URL -u STORAGE_S3_BUCKET "${envs[@]}" "${PYTEST[@]}" --durations=15 "$@" || rc=$?
      echo "$rc $((SECONDS - t))" > "$log.rc"; } > "$log" 2>&1
}

summarise() {  # summarise <label> <log>: prints the run's output and adds its line to the summary
    local label=$1 log=$2 rc dt line
    cat "$log"
    read -r rc dt < "$log.rc" || { rc=1; dt=0; }
    case $rc in
        0) line="PASSED in ${dt}s" ;;
        5) line="FAILED in ${dt}s (pytest exit 5: no tests collected)" ;;
        *) line="FAILED in ${dt}s (pytest exit $rc)" ;;
    esac
    [ "$rc" -eq 0 ] || FAILED=1
    SUMMARY+=("$label: $line")
}

# The two runs share nothing (SQLite in memory and eager Celery / their own PostgreSQL database,
# Redis and bucket; every test its own media folder): they run side by side on the two cores,
# each printed whole when both are done.
LOGS=$(mktemp -d)
SQLITE_LABEL="sqlite     (not browser, not exhaustive)"
PG_LABEL="postgresql (all + browser, files in S3, ${PG_WORKERS:=2} processes)"
say "=== $SQLITE_LABEL and $PG_LABEL, side by side"
run_pytest "$SQLITE_LABEL" "$LOGS/sqlite" -- -m "not browser and not exhaustive" "$@" &
run_pytest "$PG_LABEL" "$LOGS/pg" DATABASE_URL="$PG_URL" REDIS_URL="$REDIS" "${S3_ENV[@]}" -- \
    -n "$PG_WORKERS" --dist loadgroup "$@" &
wait
summarise "$SQLITE_LABEL" "$LOGS/sqlite"
summarise "$PG_LABEL" "$LOGS/pg"
rm -rf "$LOGS"

# -- 7. Load smoke (issue 5): a real gunicorn + Celery worker on database portal_load.
if [ "$#" -eq 0 ] && [ "$(id -u)" -eq 0 ] && pg_isready -q -h 127.0.0.1 -p 5432; then
    say "=== load smoke: bash load/run.sh --smoke"
    t=$SECONDS
    # Their own databases: a population kept on this machine (--keep, --keep-db) survives CI.
    if PORTAL_LOAD_DB=portal_load_smoke bash load/run.sh --smoke; then SUMMARY+=("load smoke: PASSED in $((SECONDS - t))s")
    else FAILED=1; SUMMARY+=("load smoke: FAILED in $((SECONDS - t))s"); fi
else
    SUMMARY+=("load smoke: not run (needs root, PostgreSQL and no extra pytest arguments)")
fi

# -- 8. Benchmark in tiny mode (issue 6): proves bench/ still runs; timings are not asserted.
if [ "$#" -eq 0 ] && pg_isready -q -h 127.0.0.1 -p 5432; then
    say "=== benchmark (tiny): .venv/bin/python bench/run.py --tiny"
    t=$SECONDS
    if PORTAL_BENCH_DB=portal_bench_tiny .venv/bin/python bench/run.py --tiny; then SUMMARY+=("benchmark tiny: PASSED in $((SECONDS - t))s")
    else FAILED=1; SUMMARY+=("benchmark tiny: FAILED in $((SECONDS - t))s"); fi
else
    SUMMARY+=("benchmark tiny: not run (needs PostgreSQL and no extra pytest arguments)")
fi

# -- 9. The image's build steps on the host (issue 12): no Docker engine here.
if [ "$#" -eq 0 ]; then
    say "=== image build steps: bash scripts/image_steps.sh host"
    t=$SECONDS
    if bash scripts/image_steps.sh host; then SUMMARY+=("image steps: PASSED in $((SECONDS - t))s")
    else FAILED=1; SUMMARY+=("image steps: FAILED in $((SECONDS - t))s"); fi
else
    SUMMARY+=("image steps: not run (only without extra pytest arguments)")
fi

echo
for line in "${SUMMARY[@]}"; do say "$line"; done
if [ "$FAILED" -ne 0 ]; then
    say "FAILED (total $((SECONDS - T0))s)"
    exit 1
fi
say "all passed (total $((SECONDS - T0))s)"
