#!/usr/bin/env bash
# Create ./.venv (python3.11, else python3) and install requirements-dev.txt into it.
#
# Re-installs only when requirements*.txt (or the interpreter) changed: a sha256
# stamp of those inputs is kept in .venv/.requirements.sha256.
# Set BOOTSTRAP_FORCE=1 to reinstall anyway.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=.venv
STAMP=$VENV/.requirements.sha256
REQ=requirements-dev.txt
[ -f "$REQ" ] || REQ=requirements.txt
[ -f "$REQ" ] || { echo "bootstrap: ERROR: no requirements-dev.txt / requirements.txt in $(pwd)" >&2; exit 1; }

pick_python() {
    local py
    for py in python3.11 python3; do
        if command -v "$py" >/dev/null && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
            echo "$py"; return
        fi
    done
    echo "bootstrap: ERROR: need python3.11 (or python3 >= 3.10) on PATH" >&2
    exit 1
}

# A venv whose interpreter vanished (e.g. the base Python was removed) is rebuilt.
if [ -e "$VENV" ] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    if [ -d "$VENV" ] && [ ! -L "$VENV" ] && [ -O "$VENV" ]; then
        echo "bootstrap: $VENV/bin/python does not run (base interpreter gone?), recreating $VENV"
        rm -rf "$VENV"
    else
        echo "bootstrap: ERROR: $VENV/bin/python does not run for user $(id -un), and $VENV is not ours to recreate" >&2
        echo "bootstrap: (e.g. a venv made by root from /root/.pyenv) - remove it or run as its owner" >&2
        exit 1
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    PY=$(pick_python)
    echo "bootstrap: creating $VENV with $PY ($("$PY" -V 2>&1))"
    "$PY" -m venv "$VENV"
    rm -f "$STAMP"
fi

# Inputs that decide what gets installed: every requirements*.txt + the interpreter version.
hash=$( { for f in requirements*.txt; do [ -f "$f" ] && { echo "== $f"; cat "$f"; }; done
          "$VENV/bin/python" -VV; } | sha256sum | cut -d' ' -f1 )

if [ "${BOOTSTRAP_FORCE:-}" != "1" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$hash" ]; then
    echo "bootstrap: $VENV up to date ($("$VENV/bin/python" -V), $REQ unchanged)"
    exit 0
fi

start=$SECONDS
echo "bootstrap: installing $REQ into $VENV ..."
export PIP_DISABLE_PIP_VERSION_CHECK=1
"$VENV/bin/python" -m pip install -q -r "$REQ"
if ! "$VENV/bin/python" -m pip check >/tmp/portal-pip-check.$$ 2>&1; then
    cat /tmp/portal-pip-check.$$ >&2; rm -f /tmp/portal-pip-check.$$
    echo "bootstrap: ERROR: pip check reports broken requirements" >&2
    exit 1
fi
rm -f /tmp/portal-pip-check.$$
echo "$hash" > "$STAMP"
echo "bootstrap: $VENV ready in $((SECONDS - start)) s ($("$VENV/bin/python" -V))"
