#!/usr/bin/env python3
"""The web container's health check (docker-compose.yml): GET /healthz on gunicorn, directly.

    python scripts/healthcheck.py [URL]        default http://127.0.0.1:8000/healthz

Exit 0 when the answer is 200 (the database answers; a broker outage only makes the body say
"degraded", see portal/health.py), else 1 with the reason on stderr. Standard library only, no
Django import: it runs every few seconds and must cost next to nothing.

The request carries what nginx would send, so that Django's own checks pass as they do for a
real visitor: a Host taken from DJANGO_ALLOWED_HOSTS (the first entry; ".example.org" gives
"example.org", "*" gives "localhost"), and, when DJANGO_HTTPS is on, X-Forwarded-Proto: https
(without it SECURE_SSL_REDIRECT answers 301). Redirects are not followed: a 301 or a 400
(a Host that is not allowed) is a failure, reported with its Location.
"""

import os
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/healthz"
TIMEOUT_SECONDS = 4


def host_header(allowed_hosts: str) -> str:
    for entry in (h.strip() for h in allowed_hosts.split(",")):
        if entry == "*":
            return "localhost"
        if entry:
            return entry.lstrip(".")
    return "localhost"  # Django's default when the list is empty and DEBUG is on


def env_on(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def request_for(url: str) -> urllib.request.Request:
    headers = {"Host": host_header(os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost"))}
    if env_on("DJANGO_HTTPS"):
        headers["X-Forwarded-Proto"] = "https"
    return urllib.request.Request(url, headers=headers)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def main(argv: list[str]) -> int:
    url = argv[0] if argv else DEFAULT_URL
    request = request_for(url)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            body = response.read(2000).decode("utf-8", "replace")
            status = response.status
    except urllib.error.HTTPError as exc:
        location = exc.headers.get("Location")
        print(f"healthcheck: {url} (Host: {request.get_header('Host')}) answered {exc.code}"
              + (f", Location: {location}" if location else ""), file=sys.stderr)
        return 1
    except (OSError, urllib.error.URLError) as exc:
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"healthcheck: {url} answered {status}", file=sys.stderr)
        return 1
    print(body.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
