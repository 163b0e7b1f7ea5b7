"""Session limits: idle timeout and absolute lifetime, kept in the session itself.

The login time and the time of the last request are stored in the session at login
(`start`, from the user_logged_in signal). `SessionPolicyMiddleware` checks them on every
request to a login-required view; public pages never touch the session. The last-seen time
is written at most once a minute (PORTAL_SESSION_TOUCH_SECONDS), so an ordinary page view
costs no extra query. The limits of the 安全策略 (issue 18; only ever stricter than the settings)
are stamped into the session at login and apply from the next login after a change. The session row itself expires (SESSION_COOKIE_AGE) 5 minutes after the
idle limit, so an idle session is always ended by the middleware, with a message saying why.
"""

import time

from django.conf import settings

LOGIN_AT = "portal_login_at"
LAST_SEEN = "portal_last_seen"
MUST_CHANGE = "portal_must_change_password"
# The limits of the 安全策略 when the session began (issue 18): [idle, absolute] seconds.
LIMITS = "portal_session_limits"

IDLE_MESSAGE = "您已超过 30 分钟未操作，为保护账号安全已自动退出，请重新登录。"
ABSOLUTE_MESSAGE = "会话已超过 12 小时，请重新登录。"


def idle_message(seconds: int) -> str:
    return f"您已超过 {_duration(seconds)}未操作，为保护账号安全已自动退出，请重新登录。"


def absolute_message(seconds: int) -> str:
    return f"会话已超过 {_duration(seconds)}，请重新登录。"


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} 小时"
    if seconds % 60 == 0:
        return f"{seconds // 60} 分钟"
    return f"{seconds} 秒"


def _stamped(session, index):
    limits = (session or {}).get(LIMITS) or [None, None]
    return limits[index]


def idle_seconds(session=None) -> int:
    """The deployment's idle limit, or the stricter one the session began with."""
    limit = int(getattr(settings, "PORTAL_SESSION_IDLE_SECONDS", 30 * 60))
    stamped = _stamped(session, 0)
    return min(limit, int(stamped)) if stamped else limit


def absolute_seconds(session=None) -> int:
    limit = int(getattr(settings, "PORTAL_SESSION_ABSOLUTE_SECONDS", 12 * 60 * 60))
    stamped = _stamped(session, 1)
    return min(limit, int(stamped)) if stamped else limit


def touch_seconds() -> int:
    return int(getattr(settings, "PORTAL_SESSION_TOUCH_SECONDS", 60))


def start(request, user) -> None:
    """Called at login: stamp the session, and carry the must-change-password flag into it."""
    from . import passwords

    session = getattr(request, "session", None)
    if session is None:
        return
    from . import policy

    now = time.time()
    session[LOGIN_AT] = now
    session[LAST_SEEN] = now
    stored = policy.stored(request)  # only what the 安全策略 sets: the settings stay in force otherwise
    if stored is not None and (stored.session_idle_minutes or stored.session_absolute_hours):
        limits = policy.effective(stored)
        session[LIMITS] = [
            limits.session_idle_seconds if stored.session_idle_minutes else None,
            limits.session_absolute_seconds if stored.session_absolute_hours else None,
        ]
    else:
        session.pop(LIMITS, None)
    if passwords.must_change(user):
        session[MUST_CHANGE] = True
    else:
        session.pop(MUST_CHANGE, None)
