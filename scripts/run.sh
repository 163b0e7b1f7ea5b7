#!/usr/bin/env bash
# THE quick-start command:  bash scripts/run.sh
#
# Development server on SQLite with DEBUG on and the settings' embedded defaults;
# needs neither root nor PostgreSQL/Redis. HOST / PORT override 127.0.0.1:8000.
#   1. scripts/bootstrap.sh
#   2. manage.py migrate --noinput
#   3. manage.py seed_demo        demo data (idempotent)
#   4. manage.py runserver HOST:PORT
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh

[ -f manage.py ] || { echo "run.sh: ERROR: manage.py not found in $(pwd)" >&2; exit 1; }

export DJANGO_DEBUG=1
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
PY=.venv/bin/python

if [ -n "${DATABASE_URL:-}" ]; then
    echo "run.sh: NOTE: using DATABASE_URL from the environment (unset it for the default SQLite db.sqlite3)"
fi

"$PY" manage.py migrate --noinput
"$PY" manage.py seed_demo
echo "run.sh: starting development server on http://$HOST:$PORT/ (Ctrl+C to stop)"
exec "$PY" manage.py runserver "$HOST:$PORT"
