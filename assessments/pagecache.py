"""Rendered fragments kept in the shared cache under a digest of what they are made of (ADR 0024).

A fragment's key is a digest of everything it shows: the rows it is rendered from (every
stored field, read from the instances the page has already fetched), the 表样 version, the
round's scoring rules, and the code and templates that render it (`release`). Whatever changes
any of these (a save, an import, the admin, a migration, a deployment) gives a new key, so
nothing is ever invalidated by hand and a stale fragment cannot be served; old entries simply
age out of the cache. A cache that fails or is empty costs one render, as before.
"""

import functools
import hashlib
import logging
import zlib
from importlib import metadata
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

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


def row_values(obj) -> tuple:
    """Every stored field of a model instance, as fetched (no query)."""
    values = obj.__dict__
    return tuple(values.get(f.attname) for f in obj._meta.concrete_fields)


def instance_values(obj, _seen=None) -> tuple:
    """Every stored field of an instance and of the rows fetched with it (select_related and
    prefetch_related), without a query: what a page rendered from the instance can show."""
    seen = set() if _seen is None else _seen
    if id(obj) in seen:  # a back reference (a prefetched row's assessment): already counted
        return ("↺", type(obj).__name__, obj.pk)
    seen.add(id(obj))
    out = [type(obj).__name__, row_values(obj)]
    for name, related in sorted(obj._state.fields_cache.items()):
        out.append((name, None if related is None else instance_values(related, seen)))
    for name, rows in sorted(getattr(obj, "_prefetched_objects_cache", {}).items()):
        out.append((name, [instance_values(row, seen) for row in rows]))
    return tuple(out)


def digest(*parts) -> str:
    """A digest of plain values (str, numbers, Decimal, dates, None, and tuples, lists and dicts of them)."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=20).hexdigest()


def _key(name: str, parts) -> str:
    return f"fragment:{name}:{digest(release(), parts)}"


def _unpacked(key: str, packed) -> str | None:
    if packed is None:
        return None
    try:
        return zlib.decompress(packed).decode()
    except (zlib.error, TypeError, UnicodeDecodeError):
        log.warning("pagecache: unreadable entry %s, rendered again", key)
        return None


def _packed(html: str) -> bytes:
    # Compressed: a 40-row entry form is ~220 KiB of HTML and ~15 KiB deflated.
    return zlib.compress(html.encode(), 1)


def fragment(name: str, parts, render) -> str:
    """The HTML `render()` gives, kept under `name` and the digest of `parts` (see the module's note)."""
    key = _key(name, parts)
    html = _unpacked(key, cache.get(key))
    if html is None:
        html = str(render())
        cache.set(key, _packed(html), TIMEOUT)
    return html


def fragments(name: str, parts_list: list, render) -> list[str]:
    """Many fragments of one kind in one round trip: the HTML of each `parts_list[i]`, `render(i)`
    called for those the cache does not hold."""
    keys = [_key(name, parts) for parts in parts_list]
    found = cache.get_many(keys) if keys else {}
    out, missing = [], {}
    for i, key in enumerate(keys):
        html = _unpacked(key, found.get(key))
        if html is None:
            html = str(render(i))
            missing[key] = _packed(html)
        out.append(html)
    if missing:
        cache.set_many(missing, TIMEOUT)
    return out


def value(name: str, parts, compute):
    """`compute()`'s result (picklable), kept under `name` and the digest of `parts` like a fragment."""
    key = f"value:{name}:{digest(release(), parts)}"
    found = cache.get(key)
    if isinstance(found, tuple) and len(found) == 1:
        return found[0]
    result = compute()
    cache.set(key, (result,), TIMEOUT)
    return result


def paper_form(view, parts, *, show_explanations: bool, row_comments=None):
    """The paper form (`includes/paper_form.html`) of a read model, kept under `parts`: what the read
    model was built from (e.g. `instance_values` of the assessment it was built from). Returns a
    function: the page template calls it where the form goes."""
    comments = row_comments or {}

    def render():
        return render_to_string("includes/paper_form.html",
                                {"view": view, "show_explanations": show_explanations, "row_comments": comments})

    noted = sorted((key, row_values(row)) for key, row in comments.items())
    return lambda: mark_safe(fragment("paper-form", (parts, show_explanations, noted), render))
