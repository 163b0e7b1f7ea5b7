"""Session limits: idle timeout and absolute lifetime, kept in the session itself.

The login time and the time of the last request are stored in the session at login
(`start`, from the user_logged_in signal). `SessionPolicyMiddleware` checks them on every
request to a login-required view; public pages never touch the session. The last-seen time
is written at most once a minute (PORTAL_SESSION_TOUCH_SECONDS), so an ordinary page view
costs no extra query. The session row itself expires (SESSION_COOKIE_AGE) 5 minutes after the
idle limit, so an idle session is always ended by the middleware, with a message saying why.
"""

import time

from django.conf import settings

LOGIN_AT = "portal_login_at"
LAST_SEEN = "portal_last_seen"
MUST_CHANGE = "portal_must_change_password"

IDLE_MESSAGE = "您已超过 30 分钟未操作，为保护账号安全已自动退出，请重新登录。"
ABSOLUTE_MESSAGE = "会话已超过 12 小时，请重新登录。"


def idle_seconds() -> int:
    return int(getattr(settings, "PORTAL_SESSION_IDLE_SECONDS", 30 * 60))


def absolute_seconds() -> int:
    return int(getattr(settings, "PORTAL_SESSION_ABSOLUTE_SECONDS", 12 * 60 * 60))


def touch_seconds() -> int:
    return int(getattr(settings, "PORTAL_SESSION_TOUCH_SECONDS", 60))


def start(request, user) -> None:
    """Called at login: stamp the session, and carry the must-change-password flag into it."""
    from . import passwords

    session = getattr(request, "session", None)
    if session is None:
        return
    now = time.time()
    session[LOGIN_AT] = now
    session[LAST_SEEN] = now
    if passwords.must_change(user):
        session[MUST_CHANGE] = True
    else:
        session.pop(MUST_CHANGE, None)
