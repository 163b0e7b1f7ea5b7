"""A Redis cache that never takes a page down (issue 12, finding 3).

Everything the portal keeps in its cache can be rebuilt from the database, so an unreachable,
slow or full Redis is treated as an empty cache: a read is a miss, a write is dropped. The first
error of an outage is logged (once per process); for `retry_after` seconds after an error the
cache is not asked at all, so a Redis that hangs costs one socket timeout per process, not one
per request. The next successful call logs the recovery.
"""

import logging
import threading
import time
from functools import wraps

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# Errors of the cache server or of the way to it; anything else (a value that cannot be
# pickled, a bad key) is a programming error and is raised as usual.
CACHE_ERRORS = (RedisError, OSError)


class _Outage:
    """Per process and cache location: whether the cache is failing, and until when to skip it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.failing = False
        self.skip_until = 0.0


_outages: dict[str, _Outage] = {}


def _guarded(fallback):
    """Run the Redis call unless the cache is resting after an error; on an error answer `fallback(*args)`."""

    def decorate(method):
        @wraps(method)
        def wrapper(self, *args, **kwargs):
            outage = self._outage
            if outage.skip_until and time.monotonic() < outage.skip_until:
                return fallback(*args, **kwargs)
            try:
                result = method(self, *args, **kwargs)
            except CACHE_ERRORS as exc:
                self._failed(exc)
                return fallback(*args, **kwargs)
            if outage.failing:
                self._recovered()
            return result

        return wrapper

    return decorate


def _none(*args, **kwargs):
    return None


def _false(*args, **kwargs):
    return False


def _default(key, default=None, version=None):
    return default


def _empty(*args, **kwargs):
    return {}


def _all_keys_failed(data, *args, **kwargs):
    return list(data)


def _missing(key, *args, **kwargs):
    raise ValueError(f"Key '{key}' not found (cache unavailable)")


# The alias of the cache that keeps, in each process, a copy of what is kept in Redis under keys that
# cannot go stale (settings.CACHES; assessments/pagecache.py reads and fills it).
LOCAL_COPY = "fragments_local"


class ResilientRedisCache(RedisCache):
    """Django's Redis cache with errors turned into misses. Extra option: ``RETRY_AFTER``
    (seconds without asking Redis after an error, default 5)."""

    def __init__(self, server, params):
        options = dict(params.get("OPTIONS", {}))
        self.retry_after = float(options.pop("RETRY_AFTER", 5))
        super().__init__(server, {**params, "OPTIONS": options})
        self._outage = _outages.setdefault(",".join(self._servers), _Outage())

    def _failed(self, exc):
        outage = self._outage
        with outage.lock:
            first = not outage.failing
            outage.failing = True
            outage.skip_until = time.monotonic() + self.retry_after
        if first:
            log.warning(
                "cache unavailable, pages are served without it (asked again every %.0f s): %s: %s",
                self.retry_after, type(exc).__name__, exc,
            )

    def _recovered(self):
        outage = self._outage
        with outage.lock:
            was_failing, outage.failing, outage.skip_until = outage.failing, False, 0.0
        if was_failing:
            log.info("cache available again")

    @_guarded(_default)
    def get(self, key, default=None, version=None):
        return super().get(key, default, version)

    @_guarded(_none)
    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return super().set(key, value, timeout, version)

    @_guarded(_false)
    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return super().add(key, value, timeout, version)

    @_guarded(_false)
    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return super().touch(key, timeout, version)

    @_guarded(_false)
    def delete(self, key, version=None):
        return super().delete(key, version)

    @_guarded(_empty)
    def get_many(self, keys, version=None):
        return super().get_many(keys, version)

    @_guarded(_false)
    def has_key(self, key, version=None):
        return super().has_key(key, version)

    @_guarded(_missing)
    def incr(self, key, delta=1, version=None):
        return super().incr(key, delta, version)

    @_guarded(_all_keys_failed)
    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return super().set_many(data, timeout, version)

    @_guarded(_none)
    def delete_many(self, keys, version=None):
        return super().delete_many(keys, version)

    def clear(self):
        """Empty Redis and this process's copy of what is kept there (`LOCAL_COPY`,
        assessments/pagecache.py): what was cleared is not served from the copy."""
        from django.conf import settings
        from django.core.cache import caches

        if LOCAL_COPY in settings.CACHES:
            caches[LOCAL_COPY].clear()
        return self._clear_shared()

    @_guarded(_false)
    def _clear_shared(self):
        return super().clear()
