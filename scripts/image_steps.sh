#!/usr/bin/env bash
# The image's build steps, shared by the Dockerfile and by CI on the host (no Docker engine here).
#
#   bash scripts/image_steps.sh deps VENV LOCK   python -m venv VENV; install LOCK with
#                                                --require-hashes --no-deps --only-binary :all:;
#                                                pip check; VENV holds exactly LOCK's packages
#   bash scripts/image_steps.sh app APP_DIR      byte-compile APP_DIR; collectstatic into
#                                                $DJANGO_STATIC_ROOT; check the collected files
#   bash scripts/image_steps.sh host             the whole image on this machine (a step of
#                                                scripts/test.sh), see below
#
# `host` lays out the image in a temporary root (KEEP=1 keeps it): ROOT/app is the build context
# exactly as .dockerignore lets it through (scripts/docker_context.py), ROOT/opt/venv and
# ROOT/srv/static are built by the `deps` and `app` steps above, as root, like the Dockerfile.
# Then, as a non-root user (nobody, like the image's USER) that can write only ROOT/srv/media
# and ROOT/tmp: `manage.py check --deploy` with .env.example's production settings reports
# nothing, migrate (SQLite in ROOT/tmp), gunicorn with the Dockerfile's CMD answers the web
# health check (scripts/healthcheck.py) and serves a collected, pre-compressed static file,
# and nothing was written into the code or the venv. Needs python3.11 with venv and PyPI access.
set -euo pipefail

say() { echo "image_steps: $*"; }
die() { echo "image_steps: ERROR: $*" >&2; exit 1; }

step_deps() {
    local venv=$1 lock=$2
    [ -f "$lock" ] || die "no lock file $lock"
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --require-hashes --no-deps --only-binary :all: -r "$lock"
    "$venv/bin/python" -m pip check
    # The venv holds exactly the lock's pins (nothing more, nothing else).
    "$venv/bin/python" - "$lock" <<'PY'
import re, subprocess, sys

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

locked = {}
for line in open(sys.argv[1], encoding="utf-8"):
    m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;\\]+)", line)
    if m:
        locked[norm(m.group(1))] = m.group(2)
frozen = {}
for line in subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True,
                           check=True).stdout.splitlines():
    name, _, version = line.partition("==")
    frozen[norm(name)] = version
if frozen != locked:
    extra = sorted(set(frozen.items()) - set(locked.items()))
    missing = sorted(set(locked.items()) - set(frozen.items()))
    sys.exit(f"image_steps: ERROR: venv differs from the lock: extra {extra}, missing {missing}")
print(f"image_steps: venv holds exactly the {len(locked)} locked packages")
PY
}

step_app() {
    local app=$1
    cd "$app"
    : "${DJANGO_STATIC_ROOT:?DJANGO_STATIC_ROOT must name the folder collectstatic fills}"
    python -m compileall -q .
    # No DJANGO_SECRET_KEY at build time: collectstatic is one of the settings' keyless commands.
    env -u DJANGO_SECRET_KEY -u DJANGO_DEBUG python manage.py collectstatic --noinput -v 0
    python - <<'PY'
import os, sys
from pathlib import Path

root = Path(os.environ["DJANGO_STATIC_ROOT"])
# The vendored Bootstrap, the portal's own CSS and JS, the admin's: each collected and
# pre-compressed (WhiteNoise's CompressedStaticFilesStorage writes NAME.gz beside NAME).
expected = ["vendor/bootstrap/css/bootstrap.min.css", "vendor/bootstrap/js/bootstrap.bundle.min.js",
            "css/portal.css", "js/entry.js", "admin/css/base.css"]
missing = [name for name in expected if not (root / name).is_file() or not (root / (name + ".gz")).is_file()]
if missing:
    sys.exit(f"image_steps: ERROR: collectstatic did not produce {missing} (+ .gz) in {root}")
count = sum(1 for p in root.rglob("*") if p.is_file())
print(f"image_steps: collectstatic wrote {count} files to {root}")
PY
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

step_host() {
    local repo py root uid gid as_user
    repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    # The image's Python is Debian-built CPython 3.11 in /usr/local; here the system python3.11
    # (readable by the non-root user, unlike an interpreter under /root).
    py=${PYTHON:-}
    if [ -z "$py" ]; then
        for candidate in /usr/bin/python3.11 /usr/local/bin/python3.11 python3.11; do
            if command -v "$candidate" >/dev/null && "$candidate" -c 'import ensurepip, venv' 2>/dev/null; then
                py=$(command -v "$candidate"); break
            fi
        done
    fi
    [ -n "$py" ] || die "need python3.11 with the venv module (Debian: python3.11-venv)"

    root=$(mktemp -d /tmp/portal-image.XXXXXX)
    chmod 0755 "$root"
    HOST_ROOT=$root
    GUNICORN_PID=""
    cleanup() {
        if [ -n "$GUNICORN_PID" ] && kill -0 "$GUNICORN_PID" 2>/dev/null; then
            kill -TERM "$GUNICORN_PID"; wait "$GUNICORN_PID" 2>/dev/null || true
        fi
        if [ "${KEEP:-}" = 1 ]; then say "kept $HOST_ROOT"; else rm -rf "$HOST_ROOT"; fi
    }
    trap cleanup EXIT

    local t0=$SECONDS
    say "build context (.dockerignore applied) -> $root/app"
    python3 "$repo/scripts/docker_context.py" copy "$repo" "$root/app"

    say "deps: $py -m venv + pip install --require-hashes -r requirements.lock (PyPI only, like the image)"
    # The image's pip has no configuration: no extra index, no local wheels, no constraints.
    env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL -u PIP_CONSTRAINT \
        PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHON="$py" \
        bash "$root/app/scripts/image_steps.sh" deps "$root/opt/venv" "$root/app/requirements.lock"

    say "app: compileall + collectstatic -> $root/srv/static"
    mkdir -p "$root/srv/static"
    env PATH="$root/opt/venv/bin:$PATH" DJANGO_STATIC_ROOT="$root/srv/static" PYTHONDONTWRITEBYTECODE=1 \
        bash "$root/app/scripts/image_steps.sh" app "$root/app"

    # The runtime user: nobody when we are root (like USER portal), else ourselves with the
    # built tree made read-only.
    if [ "$(id -u)" -eq 0 ]; then
        uid=65534; gid=65534
        as_user=(setpriv --reuid="$uid" --regid="$gid" --clear-groups --inh-caps=-all --)
    else
        uid=$(id -u); gid=$(id -g)
        as_user=()
        chmod -R a-w "$root/app" "$root/opt" "$root/srv/static"
    fi
    mkdir -p "$root/srv/media" "$root/tmp"
    chown "$uid:$gid" "$root/srv/media" "$root/tmp"
    chmod 0750 "$root/srv/media"; chmod 0700 "$root/tmp"
    touch "$root/built.stamp"

    # Production settings as .env.example gives them, a real-length secret, SQLite in ROOT/tmp.
    local hosts port
    hosts=$(sed -n 's/^DJANGO_ALLOWED_HOSTS=//p' "$repo/.env.example")
    [ -n "$hosts" ] || die ".env.example has no DJANGO_ALLOWED_HOSTS"
    port=$(free_port)
    local runtime_env=(env -i PATH="$root/opt/venv/bin:/usr/bin:/bin" HOME=/nonexistent LANG=C.UTF-8
        PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VIRTUAL_ENV="$root/opt/venv" TMPDIR="$root/tmp"
        DJANGO_SECRET_KEY="$("$py" -c 'import secrets; print(secrets.token_urlsafe(50))')"
        DJANGO_ALLOWED_HOSTS="$hosts" DJANGO_HTTPS=1 DJANGO_PROXY_SSL_HEADER=1
        DJANGO_STATIC_ROOT="$root/srv/static" DJANGO_MEDIA_ROOT="$root/srv/media"
        DATABASE_URL="sqlite:///$root/tmp/db.sqlite3" DJANGO_LOG_LEVEL=WARNING)

    say "as uid $uid: manage.py check --deploy --fail-level WARNING"
    (cd "$root/app" && "${as_user[@]}" "${runtime_env[@]}" python manage.py check --deploy --fail-level WARNING)
    say "as uid $uid: manage.py migrate (SQLite in $root/tmp)"
    (cd "$root/app" && "${as_user[@]}" "${runtime_env[@]}" python manage.py migrate --noinput -v 0)

    say "as uid $uid: the Dockerfile's CMD (gunicorn) on 127.0.0.1:$port"
    local cmd
    cmd=$(python3 - "$repo/Dockerfile" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1], encoding="utf-8") if l.startswith("CMD ")]
assert len(lines) == 1, "one CMD line expected"
print("\n".join(json.loads(lines[0][4:])))
PY
)
    local argv=()
    while IFS= read -r word; do argv+=("${word/0.0.0.0:8000/127.0.0.1:$port}"); done <<<"$cmd"
    (cd "$root/app" && exec "${as_user[@]}" "${runtime_env[@]}" "${argv[@]}") >"$root/gunicorn.log" 2>&1 &
    GUNICORN_PID=$!

    # The web service's health check, as docker-compose.yml runs it, against this server.
    local i=0
    until (cd "$root/app" && "${as_user[@]}" "${runtime_env[@]}" python scripts/healthcheck.py "http://127.0.0.1:$port/healthz") >/dev/null 2>&1; do
        i=$((i + 1))
        if [ "$i" -gt 60 ] || ! kill -0 "$GUNICORN_PID" 2>/dev/null; then
            cat "$root/gunicorn.log" >&2
            die "gunicorn did not answer the health check within 30 s"
        fi
        sleep 0.5
    done
    (cd "$root/app" && "${as_user[@]}" "${runtime_env[@]}" python scripts/healthcheck.py "http://127.0.0.1:$port/healthz")

    python3 - "$port" "$hosts" <<'PY'
import sys, urllib.request
port, host = sys.argv[1], sys.argv[2].split(",")[0].lstrip(".")
request = urllib.request.Request(
    f"http://127.0.0.1:{port}/static/vendor/bootstrap/css/bootstrap.min.css",
    headers={"Host": host, "X-Forwarded-Proto": "https", "Accept-Encoding": "gzip"})
with urllib.request.urlopen(request, timeout=5) as response:
    status, encoding, body = response.status, response.headers.get("Content-Encoding"), response.read()
if (status, encoding) != (200, "gzip") or not body.startswith(b"\x1f\x8b"):
    sys.exit(f"image_steps: ERROR: static file: status {status}, Content-Encoding {encoding!r}")
print(f"image_steps: /static/ served from the collected files, pre-compressed ({len(body)} bytes gzip)")
PY

    kill -TERM "$GUNICORN_PID"; wait "$GUNICORN_PID" 2>/dev/null || true
    GUNICORN_PID=""
    if grep -n "\[ERROR\]\|Traceback" "$root/gunicorn.log" >&2; then
        die "gunicorn logged errors (above; full log in $root/gunicorn.log with KEEP=1)"
    fi
    local written
    written=$(find "$root/app" "$root/opt" "$root/srv/static" -newer "$root/built.stamp" -print | head -5)
    [ -z "$written" ] || die "the app wrote into the image's read-only tree: $written"
    say "host image check passed in $((SECONDS - t0)) s (context, hashed deps, collectstatic, non-root run)"
}

case "${1:-}" in
    deps) [ "$#" -eq 3 ] || die "usage: image_steps.sh deps VENV LOCK"; step_deps "$2" "$3" ;;
    app) [ "$#" -eq 2 ] || die "usage: image_steps.sh app APP_DIR"; step_app "$2" ;;
    host) step_host ;;
    *) echo "usage: bash scripts/image_steps.sh deps VENV LOCK | app APP_DIR | host" >&2; exit 64 ;;
esac
