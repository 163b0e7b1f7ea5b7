#!/usr/bin/env bash
# A self-signed certificate for a trial of docker-compose.yml (browsers will warn: use the
# real certificate in production, see README "Deployment").
#
#   bash scripts/tls_selfsigned.sh [DIR [HOSTNAME]]
#
# DIR defaults to TLS_DIR from .env (else ./deploy/tls); HOSTNAME to the first name in .env's
# DJANGO_ALLOWED_HOSTS (else .env.example's). Writes DIR/fullchain.pem and DIR/privkey.pem
# (EC P-256, 825 days, subjectAltName = HOSTNAME); refuses to overwrite an existing pair.
# privkey.pem is 0600: nginx's master process reads it as root inside the container.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

env_value() {  # env_value NAME FILE: the value of NAME=... in a dotenv file, if any
    if [ -f "$2" ]; then sed -n "s/^$1=//p" "$2" | tail -n 1; fi
}

dir=${1:-}
[ -n "$dir" ] || dir=$(env_value TLS_DIR .env)
[ -n "$dir" ] || dir=./deploy/tls
host=${2:-}
[ -n "$host" ] || host=$(env_value DJANGO_ALLOWED_HOSTS .env | cut -d, -f1)
[ -n "$host" ] || host=$(env_value DJANGO_ALLOWED_HOSTS .env.example | cut -d, -f1)
host=${host#.}
[ -n "$host" ] && [ "$host" != "*" ] || { echo "tls_selfsigned: no host name (give one)" >&2; exit 1; }

if [ -e "$dir/fullchain.pem" ] || [ -e "$dir/privkey.pem" ]; then
    echo "tls_selfsigned: $dir already has fullchain.pem / privkey.pem - left alone" >&2
    exit 1
fi
mkdir -p "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
    -subj "/CN=$host" -addext "subjectAltName=DNS:$host" -addext "basicConstraints=critical,CA:FALSE" \
    -addext "keyUsage=critical,digitalSignature" -addext "extendedKeyUsage=serverAuth" \
    -keyout "$dir/privkey.pem" -out "$dir/fullchain.pem" 2>/dev/null
chmod 0600 "$dir/privkey.pem"; chmod 0644 "$dir/fullchain.pem"
echo "tls_selfsigned: wrote $dir/fullchain.pem and $dir/privkey.pem for $host (self-signed, 825 days)"
