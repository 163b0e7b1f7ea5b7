"""The audit log: one call, `record()`, for every security and business event.

`record()` inserts an `AuditEvent` in the caller's transaction, so a business change and its
audit row commit (or roll back) together. The current request (for the actor and the client
IP) comes from a context variable set by `security.middleware.AuditRequestMiddleware`; code
outside a request (Celery, management commands) records the system as actor and no IP.

Details are stored as JSON after dropping every key that looks like a secret, so a password,
token, cookie or session key never reaches the log even if a caller passes one by mistake.
"""

import re
from contextvars import ContextVar

from django.db import models

from .audit_labels import ACTION_LABELS, DETAIL_LABELS, action_label  # noqa: F401 - the page's labels
from .models import AuditEvent

Outcome = AuditEvent.Outcome

_current_request: ContextVar = ContextVar("portal_audit_request", default=None)
# The actions recorded while a page kept whole renders (`pagecache.page`, `watching`): a page that
# wrote events other than those written again each time it is served must not be kept.
_watched: ContextVar = ContextVar("portal_audit_watched", default=None)

SECRET_KEY_PATTERN = re.compile(r"pass|pwd|token|secret|csrf|session|cookie|authori|otp", re.IGNORECASE)

_FROM_REQUEST = object()


def set_request(request):
    """Make `request` the current one; returns the token for `reset_request`."""
    return _current_request.set(request)


def reset_request(token) -> None:
    _current_request.reset(token)


def current_request():
    return _current_request.get()


def client_ip(request) -> str | None:
    """REMOTE_ADDR: behind a reverse proxy, the proxy must set it (gunicorn --forwarded-allow-ips)."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def clean(value):
    """A JSON-safe copy of `value` without any key that looks like a secret."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items() if not SECRET_KEY_PATTERN.search(str(k))}
    if isinstance(value, (list, tuple, set)):
        return [clean(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, models.Model):
        return str(value.pk)
    return str(value)


def _request_user(request):
    user = getattr(request, "user", None) if request is not None else None
    return user if user is not None and user.is_authenticated else None


class watching:
    """`with audit.watching() as actions:` the actions recorded inside, in order."""

    def __enter__(self) -> list[str]:
        self.actions: list[str] = []
        self._token = _watched.set(self.actions)
        return self.actions

    def __exit__(self, *exc) -> None:
        _watched.reset(self._token)


def record(
    action: str,
    *,
    outcome: str = Outcome.OK,
    actor=_FROM_REQUEST,
    username: str | None = None,
    unit=None,
    obj=None,
    object_type: str = "",
    object_id="",
    details: dict | None = None,
    system: bool = False,
) -> AuditEvent:
    """Append one event. Raises if the row cannot be written: callers inside a transaction
    then roll back their change too (an unaudited change must not commit).

    actor: a user, or None for "nobody logged in"; by default the current request's user.
    system: the event is done by the system (export job, publish), not by the request's user.
    """
    request = None if system else current_request()
    if actor is _FROM_REQUEST:
        actor = None if system else _request_user(request)
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or obj.pk
    if username is None:
        username = actor.get_username() if actor is not None else ""
    unit_id = unit.pk if isinstance(unit, models.Model) else unit
    watched = _watched.get()
    if watched is not None:
        watched.append(action)
    return AuditEvent.objects.create(
        actor=actor,
        actor_username=(username or "")[:150],
        unit_id=unit_id,
        ip=client_ip(request),
        action=action,
        object_type=object_type or "",
        object_id="" if object_id in (None, "") else str(object_id)[:64],
        outcome=outcome,
        details=clean(details or {}),
    )
