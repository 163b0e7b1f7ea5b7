"""Settings for the 绩效自评门户, driven by the environment.

Defaults are the embedded mode (SQLite, eager Celery, local-memory cache). Production and CI
set DATABASE_URL / CELERY_BROKER_URL. Settings fail closed: DEBUG is off unless asked for, and
outside DEBUG a SECRET_KEY must be supplied.
"""

import os
import secrets
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DJANGO_DEBUG")

# Management commands that sign nothing may run without the production secret (CI checks,
# collectstatic in an image build); everything else fails closed.
KEYLESS_COMMANDS = {"check", "makemigrations", "showmigrations", "collectstatic", "help", "version"}

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG:
        SECRET_KEY = "development-only-insecure-key"
    elif Path(sys.argv[0]).name == "manage.py" and len(sys.argv) > 1 and sys.argv[1] in KEYLESS_COMMANDS:
        SECRET_KEY = secrets.token_urlsafe(50)
    else:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")

ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    # TOTP second factor for administrators (issue 18); before assessments, whose admin replaces
    # otp_totp's English device admin with a Chinese one.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "assessments",
]

MIDDLEWARE = [
    # First, so it runs last: the unread rest of a request body is read before the response goes.
    "portal.middleware.DrainRequestBodyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy (issue 5)
    "portal.headers.SessionNoStoreMiddleware",  # Cache-Control: no-store on session pages (issue 5)
    # Serves the vendored static files under gunicorn: intranets have no CDN.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before anything reads the user: the data generation of a page kept whole (ADR 0025).
    "assessments.pagecache.GenerationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified() (issue 18)
    "portal.middleware.PublicAwareLoginRequiredMiddleware",
    "portal.middleware.AdminToFieldMiddleware",  # an empty ?_to_field= is a 400, not the admin's 500
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "portal.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "assessments.context.roles",
            ],
        },
    },
    # The few templates rendered so often per page that Django's engine cost too much (ADR 0023);
    # the views render them with render_to_string and pass the HTML to the page.
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "portal.jinja2.environment"},
    },
]

WSGI_APPLICATION = "portal.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
        # A kept connection is checked before reuse (the Celery worker keeps one: see docker-compose.yml).
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DATABASE_SERVER_SIDE_BINDING", True):
    # Parameters bound by the server, and a statement a connection has run five times prepared:
    # PostgreSQL plans it once per connection instead of on every request (ADR 0030).
    DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several officers save at once on the embedded default: wait for the write lock
    # instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Passwords are stored with Argon2id (Django's hasher, its default cost: 100 MiB, 2 passes), the
# first choice of OWASP's password storage advice: memory-hard, and here 0.19 s of CPU per login
# against 0.45 s for PBKDF2 with Django's 1,000,000 iterations (ADR 0024). Hashes already stored
# with PBKDF2 keep working and are rewritten with Argon2 at the account's next login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
# The CJK font of the 汇总分析报告's PNG charts (assessments/exports/charts_png.py): a font file,
# "path#index" for one face of a .ttc. Empty: fontconfig's match for sans-serif:lang=zh-cn
# (fonts-noto-cjk), refused when it does not cover Chinese.
PORTAL_CJK_FONT = os.environ.get("PORTAL_CJK_FONT", "")
# Every file the portal writes (disclosure exports, the whole-portal lists, bulk ZIPs, 佐证材料)
# goes through Django's storage API (portal/storage.py). Default: MEDIA_ROOT on this machine. With
# STORAGE_S3_BUCKET: an S3-compatible bucket (django-storages + boto3; SeaweedFS in CI and compose),
# which every web machine and worker shares. Objects are private and served by the portal after
# its permission checks, never by a bucket URL.
STORAGE_S3_BUCKET = os.environ.get("STORAGE_S3_BUCKET", "")
STORAGES = {
    "default": {"BACKEND": "portal.storage.LocalStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
if STORAGE_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "portal.storage.PrivateS3Storage",
        "OPTIONS": {
            "bucket_name": STORAGE_S3_BUCKET,
            "endpoint_url": os.environ.get("STORAGE_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("STORAGE_S3_REGION", "us-east-1"),
            "access_key": os.environ.get("STORAGE_S3_ACCESS_KEY_ID", ""),
            "secret_key": os.environ.get("STORAGE_S3_SECRET_ACCESS_KEY", ""),
            # One bucket may hold several portals (or test runs): each under its own prefix.
            "location": os.environ.get("STORAGE_S3_PREFIX", "").strip("/"),
            "addressing_style": os.environ.get("STORAGE_S3_ADDRESSING_STYLE", "path"),
            "signature_version": "s3v4",
            "use_ssl": env_bool("STORAGE_S3_USE_SSL", default=True),
            "verify": None if env_bool("STORAGE_S3_VERIFY", default=True) else False,
        },
    }
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "/media/"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# The indicator table of a large assessment posts many fields, and a narrative section may be
# long: let such requests reach the form so that an over-long field gets a field error instead
# of a bare 400 page. The form fields enforce the real limits.
DATA_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10000
# File uploads (从Excel导入 is the only one): its views read the file through their own handler,
# which stops at 10 MB (assessments/importing/safety.py) and keeps it in memory, so an upload
# never lands on disk. Anything else uploaded stays in memory up to 2.5 MB and is spooled to a
# private temporary file beyond that.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_PERMISSIONS = 0o600

# 佐证材料 (issue 13): uploads are streamed to a private temporary file (never held whole in
# memory), checked from their content, then stored. Caps per file, per assessment (bytes and
# files) and per upload (files in one request), stated on the page.
EVIDENCE_MAX_FILE_MB = int(os.environ.get("PORTAL_EVIDENCE_MAX_FILE_MB", "20"))
EVIDENCE_MAX_TOTAL_MB = int(os.environ.get("PORTAL_EVIDENCE_MAX_TOTAL_MB", "200"))
EVIDENCE_MAX_FILES = int(os.environ.get("PORTAL_EVIDENCE_MAX_FILES", "100"))
EVIDENCE_MAX_FILES_PER_UPLOAD = int(os.environ.get("PORTAL_EVIDENCE_MAX_FILES_PER_UPLOAD", "10"))
# The sealed copy (盖章版) of an approved report: "unit" (published when the unit asks for it and
# the reviewer confirmed it), "always" (every confirmed copy), or "never" (the bureau's rule).
SEALED_COPY_PUBLICATION = os.environ.get("PORTAL_SEALED_COPY_PUBLICATION", "unit")
if SEALED_COPY_PUBLICATION not in ("unit", "always", "never"):
    raise ImproperlyConfigured("PORTAL_SEALED_COPY_PUBLICATION must be unit, always or never.")

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"
# Django's plain widgets written without the template engine, same bytes (issue 17, ADR 0023).
FORM_RENDERER = "portal.renderers.FastRenderer"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG and env_bool("DJANGO_SECURE_COOKIES", default=False):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# The cache (public pages, filter options, dashboard charts) holds nothing that the database
# cannot rebuild: with Redis unreachable, slow or full, pages are served without it
# (portal/cache.py). A cache call waits at most DJANGO_CACHE_SOCKET_TIMEOUT seconds; after an
# error Redis is left alone for DJANGO_CACHE_RETRY_SECONDS.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    _cache_timeout = float(os.environ.get("DJANGO_CACHE_SOCKET_TIMEOUT", "0.5"))
    CACHES = {
        "default": {
            "BACKEND": "portal.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": _cache_timeout,
                "socket_timeout": _cache_timeout,
                "RETRY_AFTER": float(os.environ.get("DJANGO_CACHE_RETRY_SECONDS", "5")),
            },
        },
        # A copy, in each process, of the fragments and values kept under a digest of what they are
        # made of (assessments/pagecache.py): never stale, it saves the shared cache's round trip.
        # At most 1,000 entries of up to 64 KiB packed (most are a few KiB).
        "fragments_local": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "fragments",
            "OPTIONS": {"MAX_ENTRIES": 1000},
        },
    }
else:
    # Room for the entry form's fragments (a 40-row form keeps about 40 small entries; ADR 0024).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 5000}}}
# The largest request body gunicorn reads to the end when no view read it (portal/middleware.py):
# nginx's largest client_max_body_size (deploy/nginx.conf, the evidence and sealed-copy uploads).
PORTAL_DRAIN_BODY_MAX = 210 * 1024 * 1024
# Logged-in users' pages are kept whole while nothing they show changed (assessments/pagecache.py,
# ADR 0025). Off only for tests that read a rendered page's context.
PORTAL_WHOLE_PAGES = os.environ.get("PORTAL_WHOLE_PAGES", "1") != "0"
# Public pages keep a per-process copy in front of the shared cache (assessments/views/public.py);
# only pages up to 256 KiB are copied, so this stays below about 75 MiB per process.
CACHES["public_local"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "public-pages",
    "OPTIONS": {"MAX_ENTRIES": 300},
}

# Celery: a real broker when configured, else tasks run eagerly in-process (embedded default).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")


def redis_database(url: str) -> tuple | None:
    """(host, port, database) of a redis:// or rediss:// URL, None for anything else."""
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        return None
    db = parts.path.strip("/") or parse_qs(parts.query).get("db", ["0"])[0]
    return (parts.hostname or "localhost", parts.port or 6379, int(db or 0))


# The cache and the broker must not share a Redis database: the cache's clear() is FLUSHDB, and
# an eviction policy meant for cache keys must never reach the broker's queues.
if REDIS_URL and CELERY_BROKER_URL and redis_database(REDIS_URL) and redis_database(REDIS_URL) == redis_database(CELERY_BROKER_URL):
    raise ImproperlyConfigured(
        "REDIS_URL (cache) and CELERY_BROKER_URL (broker) name the same Redis database; give each its own, "
        "e.g. redis://redis:6379/0 and redis://redis:6379/1."
    )
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# Retries with backoff stay well below Redis's visibility timeout (1 hour by default).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "max_retries": 2, "interval_start": 0, "interval_step": 0.5}
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_BEAT_SCHEDULE = {
    "dispatch-pending-exports": {"task": "assessments.tasks.dispatch_pending_exports", "schedule": 60.0},
    # Lead-time and deadline reminders of the 填报任务 (issue 14); each is sent once.
    "send-task-reminders": {"task": "assessments.tasks.send_task_reminders", "schedule": 3600.0},
    # The 公开 window's one-time warning (issue 16): hourly, so a date recorded late still warns today.
    "warn-disclosure-deadlines": {"task": "assessments.tasks.warn_disclosure_deadlines", "schedule": 3600.0},
}
# A running export beats every EXPORT_HEARTBEAT_SECONDS; one silent for EXPORT_STALE_SECONDS lost
# its worker (SIGKILL, OOM killer): /healthz reports it and the sweep above sends it again, long
# before the broker's one-hour visibility timeout would.
EXPORT_HEARTBEAT_SECONDS = float(os.environ.get("PORTAL_EXPORT_HEARTBEAT_SECONDS", "15"))
EXPORT_STALE_SECONDS = float(os.environ.get("PORTAL_EXPORT_STALE_SECONDS", "120"))

# 从Excel导入 parses an upload in a child process of the web worker (assessments/importing/sandbox.py):
# at most this much CPU, this much memory above what the worker already has, and this long on the
# clock: with the rest of the request, an upload costs a web worker at most a second (issue 12).
IMPORT_PARSE_CPU_SECONDS = float(os.environ.get("PORTAL_IMPORT_PARSE_CPU_SECONDS", "0.8"))
IMPORT_PARSE_WALL_SECONDS = float(os.environ.get("PORTAL_IMPORT_PARSE_WALL_SECONDS", "0.9"))
IMPORT_PARSE_MEMORY_MB = int(os.environ.get("PORTAL_IMPORT_PARSE_MEMORY_MB", "256"))
# 从Word导入 (issue 19): a .doc / .wps upload is converted to .docx by LibreOffice only when this
# names its `soffice` program (off by default: a conversion takes seconds, beyond the one-second
# promise of every other upload; see docs/adr/0015-word-import.md).
WORD_IMPORT_SOFFICE = os.environ.get("PORTAL_WORD_IMPORT_SOFFICE", "")
WORD_IMPORT_CONVERT_SECONDS = float(os.environ.get("PORTAL_WORD_IMPORT_CONVERT_SECONDS", "20"))

# Console by default; SMTP when a host is configured.
EMAIL_HOST = os.environ.get("DJANGO_EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = int(os.environ.get("DJANGO_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("DJANGO_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("DJANGO_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("DJANGO_EMAIL_USE_SSL")
EMAIL_TIMEOUT = 10
PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:8000")

# 政府信息公开 metadata (issue 16, docs/adr/0018). The 索引号 rule names the parts {region} (区划代码),
# {unit} (部门代码), {category}, {year} and {serial} (流水号, per value of the other parts).
DISCLOSURE_INDEX_RULE = os.environ.get("PORTAL_DISCLOSURE_INDEX_RULE", "{region}-{unit}-{category}-{year}-{serial:05d}")
DISCLOSURE_CATEGORY = os.environ.get("PORTAL_DISCLOSURE_CATEGORY", "YSJX")  # 预算绩效
DISCLOSURE_THEME = os.environ.get("PORTAL_DISCLOSURE_THEME", "财政/预算绩效")
DISCLOSURE_BUREAU = os.environ.get("PORTAL_DISCLOSURE_BUREAU", "财政局")
# The export job writes a PDF and a Word copy of each report besides JSON and xlsx.
DISCLOSURE_PRINT_COPIES = env_bool("PORTAL_DISCLOSURE_PRINT_COPIES", True)
# The public pages' footer as government sites carry it (政府网站发展指引); empty items are left out.
PORTAL_SITE_FOOTER = {
    "sponsor": os.environ.get("PORTAL_SITE_SPONSOR", DISCLOSURE_BUREAU),  # 主办单位
    "organizer": os.environ.get("PORTAL_SITE_ORGANIZER", ""),  # 承办单位
    "site_code": os.environ.get("PORTAL_SITE_CODE", ""),  # 网站标识码
    "icp": os.environ.get("PORTAL_SITE_ICP", ""),  # ICP备案号, e.g. 湘ICP备12345678号
    "psb": os.environ.get("PORTAL_SITE_PSB", ""),  # 公安备案号, e.g. 湘公网安备 43010402000123号
    "contact": os.environ.get("PORTAL_SITE_CONTACT", ""),  # 联系我们: an e-mail address, a phone or a URL
}
# The bureau is warned (once) when a unit's 公开 window ends within this many days.
DISCLOSURE_WARN_DAYS = int(os.environ.get("PORTAL_DISCLOSURE_WARN_DAYS", "5"))
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "绩效自评门户 <noreply@localhost>")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
}

# --- Headers, health and resilience (issue 5) ---
# Content-Security-Policy (django-csp 4; Django 5.2 has no built-in CSP). Every script is an
# external file under /static/ and no template has an inline style="" attribute any more, so
# neither scripts nor styles need 'unsafe-inline'. img-src allows data: for the SVG icons that
# Bootstrap's CSS embeds (form-select arrow, checkbox ticks).
from csp.constants import NONE as CSP_NONE  # noqa: E402
from csp.constants import SELF as CSP_SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [CSP_SELF],
        "script-src": [CSP_SELF],
        "style-src": [CSP_SELF],
        "img-src": [CSP_SELF, "data:"],
        "frame-ancestors": [CSP_NONE],
        "form-action": [CSP_SELF],
        "base-uri": [CSP_SELF],
        "object-src": [CSP_NONE],
    },
}

# Behind HTTPS (production): DJANGO_HTTPS=1 turns on HSTS, the redirect to https and secure
# cookies, so that `manage.py check --deploy` reports nothing. Behind a reverse proxy that
# terminates TLS, also set DJANGO_PROXY_SSL_HEADER=1 (the proxy must set X-Forwarded-Proto).
if env_bool("DJANGO_HTTPS"):
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env_bool("DJANGO_PROXY_SSL_HEADER"):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# A shorter Redis visibility timeout (seconds) for tests that kill a worker: an unacknowledged
# message (acks_late) goes back to the queue once it is older than this, and the restore sweep
# runs every second so a restarted worker picks it up. Production keeps the 1-hour default, far
# above the longest export retry backoff (10 minutes).
if os.environ.get("CELERY_VISIBILITY_TIMEOUT"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,
        "visibility_timeout": int(os.environ["CELERY_VISIBILITY_TIMEOUT"]),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
# --- end of headers, health and resilience (issue 5) ---

# --- Identity, sessions and audit (issue 5) ---
# Login throttles (django-axes, database handler extended by assessments.security.throttle;
# issue 12 finding 8), each for 15 minutes: 5 failures of one username from one address lock that
# username at that address (a stranger elsewhere cannot lock anyone out); 20 failures from one
# address, whatever the usernames, lock the address (password spraying); 300 failures site-wide
# refuse logins except a username at an address it logged in from in the last 30 days. A known
# and an unknown username answer alike. The 安全管理员 unlocks in the admin (用户 → 解除所选用户的登录锁定,
# or delete the Access attempts); an operator with `manage.py axes_reset_username <name>` /
# `axes_reset_ip <ip>`.
INSTALLED_APPS += ["axes"]
# Appended last: the audit context wraps every view; the session policy runs after the login
# check (and after messages); AxesMiddleware (turns a lockout into the lockout page) goes last.
MIDDLEWARE += [
    "assessments.security.middleware.AuditRequestMiddleware",
    "assessments.security.middleware.AdminAllowListMiddleware",  # admin pages from listed addresses only (issue 18)
    "assessments.security.middleware.SessionPolicyMiddleware",
    "assessments.security.middleware.SecondFactorMiddleware",  # administrators verify a TOTP code (issue 18)
    "axes.middleware.AxesMiddleware",
]
AUTHENTICATION_BACKENDS = ["assessments.security.backends.LockoutBackend"]
CSRF_FAILURE_VIEW = "assessments.security.views.csrf_failure"  # Django's page, plus an audit row
# The limits below are the deployment's baseline; the 安全管理员 may tighten them in the admin
# (安全策略, assessments.SecurityPolicy: assessments/security/policy.py), never loosen them.
PORTAL_LOGIN_FAILURE_LIMIT = 5
PORTAL_LOGIN_COOLOFF_MINUTES = 15
AXES_FAILURE_LIMIT = "assessments.security.policy.failure_limit"
AXES_COOLOFF_TIME = "assessments.security.policy.cool_off"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_HANDLER = "assessments.security.throttle.ThrottlingHandler"
PORTAL_LOGIN_IP_FAILURE_LIMIT = int(os.environ.get("PORTAL_LOGIN_IP_FAILURE_LIMIT", "20"))
PORTAL_LOGIN_GLOBAL_FAILURE_LIMIT = int(os.environ.get("PORTAL_LOGIN_GLOBAL_FAILURE_LIMIT", "300"))
PORTAL_LOGIN_KNOWN_ADDRESS_DAYS = 30
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # locked for 15 minutes, not 15 after the last try
AXES_LOCKOUT_CALLABLE = "assessments.security.lockout.lockout_response"
# Behind a reverse proxy REMOTE_ADDR must be the client's address (gunicorn --forwarded-allow-ips),
# or every client shares the proxy's address and its throttle.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken"]  # masked in axes' records
AXES_DISABLE_ACCESS_LOG = True  # successful logins are in the audit log (assessments.AuditEvent)
AXES_VERBOSE = False

# Password policy: 12+ characters, 3 of 4 character classes, not containing the username (issue 12)
# nor like it, not common. Length and classes are the baseline the 安全策略 may raise.
PORTAL_PASSWORD_MIN_LENGTH = 12
PORTAL_PASSWORD_MIN_CLASSES = 3
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "assessments.security.passwords.UserAttributeValidator"},
    {"NAME": "assessments.security.passwords.MinimumLengthValidator", "OPTIONS": {"min_length": PORTAL_PASSWORD_MIN_LENGTH}},
    {"NAME": "assessments.security.passwords.CharacterClassesValidator", "OPTIONS": {"min_classes": PORTAL_PASSWORD_MIN_CLASSES}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sessions: 30 minutes idle, 12 hours at most, enforced on every login-required request by
# assessments.security.middleware.SessionPolicyMiddleware (which logs out with a message). The
# session row outlives the idle time by 5 minutes only so that the middleware, not a silently
# vanished row, ends it and can say why; each request refreshes it (at most once a minute).
# The cookie is a browser-session cookie: closing the browser ends the session too.
PORTAL_SESSION_IDLE_SECONDS = 30 * 60
PORTAL_SESSION_ABSOLUTE_SECONDS = 12 * 60 * 60
PORTAL_SESSION_TOUCH_SECONDS = 60
SESSION_COOKIE_AGE = PORTAL_SESSION_IDLE_SECONDS + 5 * 60
# Django's database sessions; a page's first query may read the row with the data generation.
SESSION_ENGINE = "portal.sessions"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
LOGGING["loggers"] = {**LOGGING.get("loggers", {}), "axes": {"level": "WARNING"}}  # axes logs every login at INFO
# --- end of identity, sessions and audit (issue 5) ---

# --- Separation of duties (issue 18, 三员分立) ---
# The admin pages (/admin/) answer only to these addresses or networks (comma-separated, e.g.
# "10.20.0.0/16,192.0.2.7"); empty: from anywhere. The 安全管理员 may narrow the list in 安全策略
# (within these networks when this is set). Behind a proxy REMOTE_ADDR must be the client's.
PORTAL_ADMIN_ALLOWED_IPS = [n.strip() for n in os.environ.get("PORTAL_ADMIN_ALLOWED_IPS", "").split(",") if n.strip()]
# Administrators (the three administrator roles, staff and superusers) confirm each login with a
# TOTP code from a device the 安全管理员 registered (django-otp); without one they reach no page.
PORTAL_ADMIN_REQUIRE_OTP = env_bool("PORTAL_ADMIN_REQUIRE_OTP")
OTP_TOTP_ISSUER = "绩效自评门户"
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # the device's key is shown once, on the page that registers it
# --- end of separation of duties (issue 18) ---
