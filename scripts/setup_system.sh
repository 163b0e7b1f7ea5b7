#!/usr/bin/env bash
# Install the Debian packages the test suite needs (idempotent).
#
#   postgresql      - database for the PostgreSQL test run
#   redis-server    - Celery broker / cache (brings redis-tools = redis-cli)
#   chromium        - browser driven by Playwright (never `playwright install`)
#   fonts-noto-cjk  - without a CJK font every 汉字 renders as a box
#   fontconfig      - provides fc-list, used by scripts/test.sh to check the font
#   python3-venv    - venv for Debian's python3.11: scripts/image_steps.sh builds the image's
#                     venv with it (an interpreter the image's non-root user can run)
#   libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
#                   - WeasyPrint's text layout and font subsetting: the PDF copy of each
#                     public report (issue 16), with the CJK font of fonts-noto-cjk embedded
#   poppler-utils   - pdftotext / pdftoppm: the PDF tests read the text back and render pages
#
# Does nothing (and needs no root) when everything is already present.
# Otherwise must run as root: runs `apt-get update` once, then installs only
# what is missing.
set -euo pipefail

PACKAGES=(postgresql redis-server chromium fonts-noto-cjk fontconfig python3-venv
          libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils)

# Is a Debian package really installed (not just "config-files" left behind)?
pkg_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

# Extra sanity check: the command the package is supposed to provide.
pkg_command() {
    case "$1" in
        postgresql)     ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && command -v pg_ctlcluster >/dev/null ;;
        redis-server)   command -v redis-server >/dev/null && command -v redis-cli >/dev/null ;;
        chromium)       command -v chromium >/dev/null ;;
        fontconfig)     command -v fc-list >/dev/null ;;
        python3-venv)   /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null ;;
        poppler-utils)  command -v pdftotext >/dev/null && command -v pdftoppm >/dev/null ;;
        *)              true ;;
    esac
}

missing=()
for p in "${PACKAGES[@]}"; do
    if pkg_installed "$p" && pkg_command "$p"; then
        echo "setup_system: $p already installed"
    else
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "setup_system: nothing to install"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "setup_system: ERROR: missing Debian packages: ${missing[*]}" >&2
    echo "setup_system: re-run as root (sudo bash scripts/setup_system.sh) or install them with:" >&2
    echo "    apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null; then
    echo "setup_system: ERROR: apt-get not found (this script targets Debian 12); install manually: ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -o DPkg::Lock::Timeout=300 -y -q)

echo "setup_system: installing ${missing[*]}"
start=$SECONDS
"${APT[@]}" update
"${APT[@]}" install --no-install-recommends "${missing[@]}"

# Verify the result rather than trusting apt's exit code alone.
still=()
for p in "${missing[@]}"; do
    pkg_installed "$p" && pkg_command "$p" || still+=("$p")
done
if [ "${#still[@]}" -ne 0 ]; then
    echo "setup_system: ERROR: still missing after apt-get install: ${still[*]}" >&2
    exit 1
fi
echo "setup_system: installed ${missing[*]} in $((SECONDS - start)) s"
