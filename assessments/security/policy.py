"""The security settings in force: the deployment's settings, tightened by the 安全策略 (issue 18).

`SecurityPolicy` (one row, edited by the 安全管理员 in the admin) may only make the portal
stricter than portal/settings.py: longer passwords, more character classes, fewer login failures
before a lock, longer locks, shorter sessions, a narrower admin allow-list. Values are checked
when saved (`validate`) and clamped again when read (`effective`), so a row changed in the
database directly cannot loosen anything either.

Read where it is used: the password validators, the login throttle (AXES_FAILURE_LIMIT and
AXES_COOLOFF_TIME name the functions below), the session limits (stamped into the session at
login) and the admin allow-list. Within one request the row is read once.
"""

import ipaddress
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError

PK = 1


@dataclass(frozen=True)
class Effective:
    password_min_length: int
    password_min_classes: int
    login_failure_limit: int
    login_ip_failure_limit: int
    login_global_failure_limit: int
    lockout_minutes: int
    session_idle_seconds: int
    session_absolute_seconds: int
    admin_networks: tuple  # ipaddress networks; empty: the admin answers any address


@dataclass(frozen=True)
class Bound:
    """A field of the policy: its baseline setting and the direction in which it may move."""

    label: str
    baseline: object  # () -> int
    stricter: str  # "up" (a larger value is stricter) or "down"
    limit: int  # how far it may go: the largest ("up") or smallest ("down") value accepted
    unit: str


def _setting(name, default):
    return lambda: int(getattr(settings, name, default))


BOUNDS = {
    "password_min_length": Bound("密码最少字符数", _setting("PORTAL_PASSWORD_MIN_LENGTH", 12), "up", 128, "个字符"),
    "password_min_classes": Bound("密码至少包含的字符类别数", _setting("PORTAL_PASSWORD_MIN_CLASSES", 3), "up", 4, "类"),
    "login_failure_limit": Bound("锁定账号的失败次数", _setting("PORTAL_LOGIN_FAILURE_LIMIT", 5), "down", 3, "次"),
    "login_ip_failure_limit": Bound("锁定地址的失败次数", _setting("PORTAL_LOGIN_IP_FAILURE_LIMIT", 20), "down", 5, "次"),
    "login_global_failure_limit": Bound(
        "全站限制登录的失败次数", _setting("PORTAL_LOGIN_GLOBAL_FAILURE_LIMIT", 300), "down", 50, "次"
    ),
    "lockout_minutes": Bound("锁定时长", _setting("PORTAL_LOGIN_COOLOFF_MINUTES", 15), "up", 24 * 60, "分钟"),
    "session_idle_minutes": Bound(
        "无操作自动退出", lambda: int(getattr(settings, "PORTAL_SESSION_IDLE_SECONDS", 30 * 60)) // 60, "down", 5, "分钟"
    ),
    "session_absolute_hours": Bound(
        "单次登录最长时间",
        lambda: max(1, int(getattr(settings, "PORTAL_SESSION_ABSOLUTE_SECONDS", 12 * 3600)) // 3600), "down", 1, "小时",
    ),
}


def _tightened(name, value) -> int:
    """The stored value if it is stricter than the baseline (and within the limit), else the baseline."""
    bound = BOUNDS[name]
    baseline = bound.baseline()
    if value is None:
        return baseline
    if bound.stricter == "up":
        return max(baseline, min(int(value), max(bound.limit, baseline)))
    return min(baseline, max(int(value), min(bound.limit, baseline)))


def deployment_networks() -> tuple:
    return tuple(parse_networks(getattr(settings, "PORTAL_ADMIN_ALLOWED_IPS", []) or []))


def parse_networks(lines) -> list:
    """Networks of the lines (addresses or CIDR, comments after #); raises ValueError naming a bad line."""
    networks = []
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(text) from None
    return networks


def _within(network, outer) -> bool:
    return any(network.version == o.version and network.subnet_of(o) for o in outer)


def admin_networks(policy) -> tuple:
    """The policy's list where it lies inside the deployment's (or when the deployment has none)."""
    baseline = deployment_networks()
    try:
        listed = parse_networks((policy.admin_allowed_networks or "").splitlines()) if policy is not None else []
    except ValueError:
        listed = []
    if baseline:
        listed = [n for n in listed if _within(n, baseline)]
    return tuple(listed) or baseline


def effective(policy=None) -> Effective:
    """The settings in force for the stored policy (None: the deployment's settings alone)."""

    def value(name):
        return _tightened(name, getattr(policy, name, None))

    idle = int(getattr(settings, "PORTAL_SESSION_IDLE_SECONDS", 30 * 60))
    absolute = int(getattr(settings, "PORTAL_SESSION_ABSOLUTE_SECONDS", 12 * 3600))
    if getattr(policy, "session_idle_minutes", None) is not None:
        idle = min(idle, value("session_idle_minutes") * 60)
    if getattr(policy, "session_absolute_hours", None) is not None:
        absolute = min(absolute, value("session_absolute_hours") * 3600)
    return Effective(
        password_min_length=value("password_min_length"),
        password_min_classes=value("password_min_classes"),
        login_failure_limit=value("login_failure_limit"),
        login_ip_failure_limit=value("login_ip_failure_limit"),
        login_global_failure_limit=value("login_global_failure_limit"),
        lockout_minutes=value("lockout_minutes"),
        session_idle_seconds=idle,
        session_absolute_seconds=absolute,
        admin_networks=admin_networks(policy),
    )


_UNREAD = object()


def stored(request=None):
    """The 安全策略 row (None if there is none); read once per request."""
    row = getattr(request, "_portal_security_policy_row", _UNREAD) if request is not None else _UNREAD
    if row is _UNREAD:
        from ..models import SecurityPolicy

        row = SecurityPolicy.objects.filter(pk=PK).first()
        if request is not None:
            request._portal_security_policy_row = row
    return row


def current(request=None) -> Effective:
    """The settings in force; read once per request."""
    return effective(stored(request))


# --- what django-axes asks (AXES_FAILURE_LIMIT, AXES_COOLOFF_TIME) --------------------------------


def failure_limit(request, credentials=None) -> int:
    return current(request).login_failure_limit


def cool_off(request=None) -> timedelta:
    return timedelta(minutes=current(request).lockout_minutes)


# --- saving the policy ---------------------------------------------------------------------------


def validate(policy) -> None:
    """Field errors for values that would loosen the deployment's settings or go past the limits,
    and for an allow-list that is malformed or reaches outside the deployment's list."""
    errors = {}
    for name, bound in BOUNDS.items():
        value = getattr(policy, name)
        if value is None:
            continue
        baseline = bound.baseline()
        if bound.stricter == "up":
            low, high = baseline, max(bound.limit, baseline)
        else:
            low, high = min(bound.limit, baseline), baseline
        if not low <= value <= high:
            errors[name] = (
                f"{bound.label}须在 {low} 至 {high} {bound.unit}之间：安全策略只能比部署设置"
                f"（{baseline} {bound.unit}）更严格。"
            )
    problem = networks_problem(policy.admin_allowed_networks)
    if problem:
        errors["admin_allowed_networks"] = problem
    if errors:
        raise ValidationError(errors)


def networks_problem(text: str, client_ip: str | None = None) -> str | None:
    """Why the allow-list `text` cannot be saved: a line that is no address, a network outside
    the deployment's list, or (given `client_ip`) a list that would shut out whoever saves it."""
    try:
        listed = parse_networks((text or "").splitlines())
    except ValueError as exc:
        return f"“{exc}”不是有效的 IP 地址或网段。"
    baseline = deployment_networks()
    outside = [str(n) for n in listed if baseline and not _within(n, baseline)]
    if outside:
        return f"{'、'.join(outside)} 不在部署设置允许的范围（{'、'.join(str(n) for n in baseline)}）内。"
    if listed and client_ip and not allowed(client_ip, tuple(listed)):
        return f"名单不包含您当前的地址 {client_ip}：保存后您将无法再进入管理后台。"
    return None


def allowed(ip: str | None, networks) -> bool:
    """Is `ip` in one of `networks`? (No networks: every address.)"""
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == n.version and address in n for n in networks)
