"""Rendered fragments kept in the shared cache under a digest of what they are made of (ADR 0024).

A fragment's key is a digest of everything it shows: the rows it is rendered from (every
stored field, read from the instances the page has already fetched), the 表样 version, the
round's scoring rules, and the code and templates that render it (`release`). Whatever changes
any of these (a save, an import, the admin, a migration, a deployment) gives a new key, so
nothing is ever invalidated by hand and a stale fragment cannot be served; old entries simply
age out of the cache. A cache that fails or is empty costs one render, as before.
"""

import contextlib
import contextvars
import functools
import hashlib
import json
import logging
import re
import threading
from importlib import metadata
from pathlib import Path

import zstandard
from django.conf import settings
from django.core.cache import cache, caches
from django.core.signals import setting_changed
from django.db import connection
from django.dispatch import receiver
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from portal.cache import LOCAL_COPY

from . import audit, datachanges, generations, roles
from .models import AuthorizationGeneration, DataGeneration

log = logging.getLogger(__name__)

# Long enough to outlive a working session on one form; the key, not the timeout, keeps it right.
TIMEOUT = 6 * 60 * 60
# The sources that shape a rendered page: templates and the Python behind forms, scoring and tags.
_SOURCES = ("templates", "assessments", "portal")
_LIBRARIES = ("Django", "Jinja2", "MarkupSafe", "django-crispy-forms", "crispy-bootstrap5")


@functools.cache
def release() -> str:
    """A digest of the code and templates that render pages, computed once per process."""
    # The libraries whose templates and widgets the fragments go through, by version.
    versions = " ".join(f"{name}={metadata.version(name)}" for name in _LIBRARIES)
    h = hashlib.blake2b(versions.encode(), digest_size=16)
    base = Path(settings.BASE_DIR)
    for top in _SOURCES:
        for path in sorted((base / top).rglob("*")):
            relative = path.relative_to(base)
            if path.suffix in (".py", ".html") and not {"tests", "migrations"} & set(relative.parts):
                h.update(str(relative).encode())
                h.update(path.read_bytes())
    return h.hexdigest()


def row_values(obj, without=()) -> tuple:
    """Every stored field of a model instance (but those named in `without`), as fetched (no query)."""
    values = obj.__dict__
    return tuple(values.get(f.attname) for f in obj._meta.concrete_fields if f.name not in without)


def instance_values(obj, _seen=None, *, without_fields=(), without_rows=()) -> tuple:
    """Every stored field of an instance and of the rows fetched with it (select_related and
    prefetch_related), without a query: what a page rendered from the instance can show.
    `without_fields` and `without_rows` leave out fields and prefetched rows of `obj` itself that
    the part of a page kept under these values never shows (a test must prove it never does)."""
    seen = set() if _seen is None else _seen
    if id(obj) in seen:  # a back reference (a prefetched row's assessment): already counted
        return ("↺", type(obj).__name__, obj.pk)
    seen.add(id(obj))
    out = [type(obj).__name__, row_values(obj, without_fields)]
    for name, related in sorted(obj._state.fields_cache.items()):
        out.append((name, None if related is None else instance_values(related, seen)))
    for name, rows in sorted(getattr(obj, "_prefetched_objects_cache", {}).items()):
        if name not in without_rows:
            out.append((name, [instance_values(row, seen) for row in rows]))
    return tuple(out)


def digest(*parts) -> str:
    """A digest of plain values (str, numbers, Decimal, dates, None, and tuples, lists and dicts of them)."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=20).hexdigest()


def _key(name: str, parts) -> str:
    return f"fragment:{name}:{digest(release(), parts)}"


# Compressed with Zstandard at level 1: a 40-row entry form is ~220 KiB of HTML and ~28 KiB packed.
# Against zlib at level 1 it packs 4.5 times and unpacks 6 times faster, and smaller (issue 17,
# part 5: the 40-row page after a save packs 42 fragments; every page served whole is unpacked).
# The (de)compressors are not thread-safe: one per thread.
_zstd = threading.local()


def _codec():
    codec = getattr(_zstd, "codec", None)
    if codec is None:
        codec = _zstd.codec = (zstandard.ZstdCompressor(level=1), zstandard.ZstdDecompressor())
    return codec


def _unpacked(key: str, packed) -> str | None:
    if packed is None:
        return None
    try:
        return _codec()[1].decompress(packed).decode()
    except (zstandard.ZstdError, TypeError, UnicodeDecodeError):
        log.warning("pagecache: unreadable entry %s, rendered again", key)
        return None


def _packed(html: str | bytes) -> bytes:
    return _codec()[0].compress(html if isinstance(html, bytes) else html.encode())


# What `prefetching` read for the block running now (a request renders in one thread or task).
_prefetched: contextvars.ContextVar[dict | None] = contextvars.ContextVar("pagecache_prefetched", default=None)


def fragment_key(name: str, parts) -> str:
    return _key(name, parts)


def value_key(name: str, parts) -> str:
    return f"value:{name}:{digest(release(), parts)}"


# A copy in each process (`LOCAL`, where the shared cache is another server's) in front of the
# shared cache: an entry kept under a digest of what it is made of never changes under its key,
# so a copy is never stale, and it saves the shared cache's round trip (0.2–0.3 ms, a few a page:
# issue 17). Fragments up to `LOCAL_MAX` bytes packed.
LOCAL = LOCAL_COPY
LOCAL_MAX = 64 * 1024


def local():
    """This process's copy (None where the shared cache is itself in the process)."""
    return caches[LOCAL] if LOCAL in settings.CACHES else None


def _kept_here(here, key, found) -> None:
    if here is not None and found is not None and not (isinstance(found, bytes) and len(found) > LOCAL_MAX):
        here.set(key, found, TIMEOUT)


def _get_many(keys) -> dict:
    """The entries of `keys` found, from this process's copy, else from the shared cache (one round
    trip for all those not here, copied here)."""
    here = local()
    found = here.get_many(keys) if here is not None and keys else {}
    missing = [key for key in keys if key not in found]
    if missing:
        shared = cache.get_many(missing)
        for key, entry in shared.items():
            _kept_here(here, key, entry)
        found.update(shared)
    return found


def _set_many(entries: dict) -> None:
    cache.set_many(entries, TIMEOUT)
    here = local()
    for key, entry in entries.items():
        _kept_here(here, key, entry)


@contextlib.contextmanager
def prefetching(keys):
    """Read the fragments and values of `keys` (`fragment_key`, `value_key`) in one round trip: inside
    the block, `fragment` and `value` take them from here instead of asking the cache one by one. A
    key is taken once; a key not listed is read as before."""
    found = _get_many(keys) if keys else {}
    token = _prefetched.set({key: found.get(key) for key in keys})
    try:
        yield
    finally:
        _prefetched.reset(token)


def _cached(key):
    prefetched = _prefetched.get()
    if prefetched is not None and key in prefetched:
        return prefetched.pop(key)
    return _get_many([key]).get(key)


def fragment(name: str, parts, render) -> str:
    """The HTML `render()` gives, kept under `name` and the digest of `parts` (see the module's note)."""
    key = _key(name, parts)
    html = _unpacked(key, _cached(key))
    if html is None:
        html = str(render())
        _set_many({key: _packed(html)})
    return html


def fragments(name: str, parts_list: list, render) -> list[str]:
    """Many fragments of one kind in one round trip: the HTML of each `parts_list[i]`, `render(i)`
    called for those the cache does not hold."""
    keys = [_key(name, parts) for parts in parts_list]
    found = _get_many(keys) if keys else {}
    out, missing = [], {}
    for i, key in enumerate(keys):
        html = _unpacked(key, found.get(key))
        if html is None:
            html = str(render(i))
            missing[key] = _packed(html)
        out.append(html)
    if missing:
        _set_many(missing)
    return out


def value(name: str, parts, compute):
    """`compute()`'s result (picklable), kept under `name` and the digest of `parts` like a fragment."""
    key = value_key(name, parts)
    found = _cached(key)
    if isinstance(found, tuple) and len(found) == 1:
        return found[0]
    result = compute()
    _set_many({key: (result,)})
    return result


def render_paper_form(view, show_explanations: bool, row_comments=None) -> str:
    """The paper form of a read model: the Jinja2 template `includes/paper_form.html` (ADR 0023; 6 →
    1.6 ms for 40 rows), for this module's cache and the Django templates' `{% paper_form %}`."""
    return mark_safe(render_to_string("includes/paper_form.html", {
        "view": view, "show_explanations": show_explanations, "row_comments": row_comments or {}}, using="jinja2"))


def paper_form(view, parts, *, show_explanations: bool, row_comments=None):
    """The paper form (`includes/paper_form.html`) of a read model, kept under `parts`: what the read
    model was built from (e.g. `instance_values` of the assessment it was built from). Returns a
    function: the page template calls it where the form goes."""
    comments = row_comments or {}

    def render():
        return render_paper_form(view, show_explanations, comments)

    noted = sorted((key, row_values(row)) for key, row in comments.items())
    return lambda: mark_safe(fragment("paper-form", (parts, show_explanations, noted), render))


# --- Whole pages, per user (ADR 0025) -------------------------------------------------------------
# A logged-in user's page is kept whole under what it is made of: the data (`DataGeneration`, which
# any write renews), the user and the session's CSRF secret (the page's forms carry a token of it),
# the address asked for, the day (deadlines count in days), the settings and the code (`release`).
# The timeout bounds what depends on the clock within a day (a lockout's minutes); a view that shows
# something kept for a shorter time says so (`keep_at_most`).
PAGE_TIMEOUT = 5 * 60
# Per-request values the base template writes into <body>; refreshed on every page served whole.
_BODY_SESSION = re.compile(r'data-session-expires-in="\d+" data-session-kind="\w+"')
_PLAIN = (str, int, float, bool, type(None))


def _plain(value):
    """A setting's value made of its plain leaves: an object whose repr would hold an address (and
    so differ per process) is replaced by its type's name, so a change to any plain value beside it
    still shows."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted(((str(k), _plain(v)) for k, v in value.items()), key=lambda item: item[0]))
    return ("object", type(value).__qualname__)


_settings_digest: dict = {}


def settings_digest() -> str:
    """A digest of the settings' plain values (limits, switches, texts), once per process and again
    after any change (`setting_changed`): a page showing them is not served after they change."""
    if "value" not in _settings_digest:
        names = sorted({n for n in dir(settings) if n.isupper()})  # an override lists a name twice
        _settings_digest["value"] = digest([(n, _plain(getattr(settings, n))) for n in names])
    return _settings_digest["value"]


@receiver(setting_changed)
def _forget_settings_digest(**kwargs):
    _settings_digest.clear()


def _session_attributes(request) -> str | None:
    expires_in = getattr(request, "session_expires_in", None)
    if not expires_in:
        return None
    return f'data-session-expires-in="{int(expires_in)}" data-session-kind="{request.session_expiry_kind}"'


def keep_at_most(request, seconds: float) -> None:
    """The page shows something kept elsewhere for `seconds` more at most: keep it no longer."""
    current = getattr(request, "_portal_keep_at_most", PAGE_TIMEOUT)
    request._portal_keep_at_most = max(0, min(current, int(seconds)))


class GenerationMiddleware:
    """Reads the data generation for a GET of a page kept whole before anything reads the user, its
    roles or the data: a page is never older than the generation it is kept under.

    Its `process_view` must run before any middleware's `process_view` that reads `request.user`
    (settings.MIDDLEWARE: right after AuthenticationMiddleware, whose user is read lazily)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            token = getattr(request, "_portal_authorization_token", None)
            if token is not None:
                roles.forget_generation(token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if (request.method == "GET" and getattr(view_func, "portal_whole_page", False) and settings.PORTAL_WHOLE_PAGES
                and settings.SESSION_COOKIE_NAME in request.COOKIES):  # nobody logged in: no page kept
            # The roles' generation in the same query: the roles are read under it (roles.authorization).
            # The session's row too, where the session can take it (portal.sessions): one round trip.
            session = getattr(request, "session", None)
            key = getattr(session, "session_key", None)
            if key is not None and hasattr(session, "read_with") and not hasattr(session, "_session_cache"):
                (data, authorization), row = generations.read_many_and_session(
                    DataGeneration, AuthorizationGeneration, session_key=key)
                session.read_with(key, row)
            else:
                data, authorization = generations.read_many(DataGeneration, AuthorizationGeneration)
            request._portal_data_generation = data
            request._portal_authorization_token = roles.use_generation(authorization)


def _page_key(request, view) -> str | None:
    """The page's key, or None when this request must be rendered (not logged in, no CSRF secret
    yet or a new one made by this request, messages to show)."""
    # The generation before the user, the roles and the data (GenerationMiddleware), else now.
    generation = getattr(request, "_portal_data_generation", None)
    if generation is None:
        generation = generations.read(DataGeneration)
    # The secret the page's tokens are made of: the one CsrfViewMiddleware read from the cookie.
    secret = request.META.get("CSRF_COOKIE")
    if not secret or request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
        return None
    user = request.user
    if not user.is_authenticated:
        return None
    storage = getattr(request, "_messages", None)
    if storage is not None and len(storage):
        return None
    verified = user.is_verified() if hasattr(user, "is_verified") else False
    parts = (f"{view.__module__}.{view.__qualname__}", generation, datachanges.pending_writes(connection), user.pk,
             verified, hashlib.blake2b(secret.encode(), digest_size=16).hexdigest(), request.get_host(),
             request.get_full_path(), timezone.localdate().isoformat(), settings_digest())
    return f"page:{digest(release(), parts)}"


def _session_state(request) -> str:
    """The session's whole content, to tell whether a view changed it (even deep inside a value)."""
    return json.dumps(dict(request.session.items()), sort_keys=True, default=str)


def page(view=None, *, every_time=None):
    """Serve a logged-in user's GET of `view` whole from the cache when nothing it is made of changed.

    A page is kept only when rendering it left no trace: a 200 HTML response, no database write, no
    change to the session, no message added, no cookie set, no read of the audit log. A view whose
    rendering writes the audit log (a read that is audited) is kept only with `every_time`, called
    with the view's arguments each time the page is served whole, which writes it again; its
    `audited` attribute names the actions it writes, and a rendering that wrote any other (or the
    same one twice) is not kept."""
    if view is None:
        return functools.partial(page, every_time=every_time)

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method != "GET" or not settings.PORTAL_WHOLE_PAGES:
            return view(request, *args, **kwargs)
        key = _page_key(request, view)
        if key is None:
            return view(request, *args, **kwargs)
        found = cache.get(key)
        if isinstance(found, tuple) and len(found) == 2:
            html = _unpacked(key, found[1])
            if html is not None:
                if every_time is not None:
                    every_time(request, *args, **kwargs)
                fresh = _session_attributes(request)
                if fresh is not None:
                    html = _BODY_SESSION.sub(fresh, html, count=1)
                response = HttpResponse(html)
                for name, value in found[0]:
                    response.headers[name] = value
                return response
        before, session = datachanges.counters(connection), _session_state(request)
        with audit.watching() as audited:
            response = view(request, *args, **kwargs)
        reason = _not_kept(request, response, before, session, every_time, audited)
        timeout = getattr(request, "_portal_keep_at_most", PAGE_TIMEOUT)
        if reason is None and timeout > 0:
            headers = [(name, value) for name, value in response.items() if name.lower() != "content-length"]
            cache.set(key, (headers, _packed(response.content)), timeout)
        elif reason is not None:
            log.debug("pagecache: %s not kept: %s", request.path, reason)
        return response

    wrapped.portal_whole_page = True
    return wrapped


def _not_kept(request, response, before, session, every_time, audited) -> str | None:
    """Why a rendered page must not be kept whole, or None."""
    if response.status_code != 200 or response.streaming or not response.get("Content-Type", "").startswith("text/html"):
        return "not a 200 HTML page"
    csrf = response.cookies.get(settings.CSRF_COOKIE_NAME)
    renewed = {settings.CSRF_COOKIE_NAME} if csrf is not None and csrf.value == request.META.get("CSRF_COOKIE") else set()
    if set(response.cookies) - renewed:  # the same CSRF secret with a later expiry is no trace
        return "sets a cookie"
    writes, traces, private_reads = datachanges.counters(connection)
    if writes != before[0]:
        return "wrote to the database"
    if traces != before[1] and every_time is None:
        return "wrote the audit log"
    if traces != before[1] and sorted(audited) != sorted(getattr(every_time, "audited", ())):
        # Only the events the hook writes again when the page is served whole: any other one (a
        # refusal, a second read) would be written once and then never again.
        return "wrote audit events its hook does not write again"
    if private_reads != before[2]:
        return "read the audit log"
    if _session_state(request) != session:
        return "changed the session"
    storage = getattr(request, "_messages", None)
    if storage is not None and storage._queued_messages:
        return "added a message"
    return None
