#!/usr/bin/env bash
# Regenerate requirements.lock (every package the image installs, with sha256 hashes) from
# requirements.lock.in (requirements.txt + what the lock must list explicitly, see there):
#     bash scripts/lock_requirements.sh
#
# pip-compile (pip-tools, pinned below) runs in a throwaway venv, against PyPI only: this
# machine's pip configuration (extra indexes, local wheel folders, constraints) is ignored so
# that the lock lists exactly what PyPI serves. The hashes cover every file PyPI has for each
# pinned version (all platforms), so the same lock installs in the amd64 and arm64 images.
# The Dockerfile installs it with `pip install --require-hashes --no-deps`; scripts/image_steps.sh
# does the same on the host in CI, and assessments/tests/test_compose.py checks that the lock
# pins exactly requirements.txt's versions (run this script after changing requirements.txt).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PIP_TOOLS=pip-tools==7.7.0
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

clean_env=(env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL -u PIP_CONSTRAINT
           PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1)
"${clean_env[@]}" "$PY" -m venv "$work/venv"
"${clean_env[@]}" "$work/venv/bin/pip" install -q "$PIP_TOOLS"
# pip-compile writes the command it was run with into the header: run it with a relative
# output path from the repository root so that the header is the same on every machine.
CUSTOM_COMPILE_COMMAND="bash scripts/lock_requirements.sh" \
"${clean_env[@]}" "$work/venv/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras \
    --no-emit-index-url --no-emit-find-links --no-emit-trusted-host --index-url https://pypi.org/simple \
    --resolver=backtracking --newline=lf --output-file requirements.lock requirements.lock.in
echo "lock_requirements: wrote requirements.lock ($(grep -c '==' requirements.lock) packages)"
