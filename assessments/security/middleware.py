"""Request-level security: audit context, refused access, the admin allow-list, session limits,
forced password change, the administrators' second factor."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from .. import audit, roles
from . import policy, sessions

KEEPALIVE = "session_keepalive"
OTP_VERIFY = "otp_verify"
# Views a user who must change the password may still reach.
MUST_CHANGE_EXEMPT = {"password_change", "password_change_done", "logout", "admin:logout", KEEPALIVE, OTP_VERIFY}
# Views an administrator who has not yet given the TOTP code may reach.
SECOND_FACTOR_EXEMPT = {OTP_VERIFY, "logout", "admin:logout", KEEPALIVE}
ADMIN_REFUSED_MESSAGE = "管理后台只允许从指定的网络地址访问，您当前的地址不在允许范围内。"
SECOND_FACTOR_MESSAGE = "管理员账号须先输入动态口令。"


def _is_fetch(request) -> bool:
    return bool(request.headers.get("X-Requested-With")) or "application/json" in request.headers.get("Accept", "")


def _view_name(request) -> str:
    match = getattr(request, "resolver_match", None)
    return match.view_name if match else ""


def _raised_by_permissions(exception) -> bool:
    """True when an Http404 comes from `assessments.permissions` (another unit's object)."""
    tb = exception.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__") == "assessments.permissions":
            return True
        tb = tb.tb_next
    return False


class AuditRequestMiddleware:
    """Makes the request available to `audit.record` and records refused access.

    A PermissionDenied (403), or an Http404 raised by the permission helpers (another unit's
    object answers 404 like a missing one), is recorded as `access.denied`.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = audit.set_request(request)
        try:
            return self.get_response(request)
        finally:
            audit.reset_request(token)

    def process_exception(self, request, exception):
        if isinstance(exception, PermissionDenied):
            status = 403
        elif isinstance(exception, Http404) and _raised_by_permissions(exception):
            status = 404
        else:
            return None
        match = getattr(request, "resolver_match", None)
        pk = match.kwargs.get("pk") if match else None
        audit.record(
            "access.denied",
            outcome=audit.Outcome.DENIED,
            object_type="assessment" if pk is not None and status == 404 else "",
            object_id=pk if status == 404 else "",
            details={"path": request.path, "method": request.method, "view": _view_name(request), "status": status},
        )
        return None


class SessionPolicyMiddleware:
    """Idle timeout, absolute session lifetime and the change-password-first rule.

    Only login-required views are checked (public pages must not read the session). Sets
    `request.session_expires_in` (seconds) and `request.session_expiry_kind` ("idle" or
    "absolute") for the expiry warning in base.html.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not getattr(view_func, "login_required", True):
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        session = request.session
        now = time.time()
        view_name = _view_name(request)
        login_at = session.get(sessions.LOGIN_AT)
        if login_at is None:  # a session from before these limits existed
            session[sessions.LOGIN_AT] = login_at = now
        last = session.get(sessions.LAST_SEEN, login_at)
        idle, absolute = sessions.idle_seconds(session), sessions.absolute_seconds(session)
        if now - login_at >= absolute:
            return self.expire(request, "absolute", view_name)
        if now - last >= idle:
            return self.expire(request, "idle", view_name)
        if now - last >= sessions.touch_seconds() or view_name == KEEPALIVE:
            session[sessions.LAST_SEEN] = last = now
        idle_left, absolute_left = idle - (now - last), absolute - (now - login_at)
        request.session_expires_in = max(1, int(min(idle_left, absolute_left)))
        request.session_expiry_kind = "absolute" if absolute_left < idle_left else "idle"

        if session.get(sessions.MUST_CHANGE) and view_name not in MUST_CHANGE_EXEMPT:
            if _is_fetch(request):
                return JsonResponse({"error": "请先修改初始密码。"}, status=403)
            return redirect("password_change")
        return None

    def expire(self, request, reason, view_name):
        session = request.session
        message = (
            sessions.absolute_message(sessions.absolute_seconds(session)) if reason == "absolute"
            else sessions.idle_message(sessions.idle_seconds(session))
        )
        request.portal_logout_reason = reason
        logout(request)
        messages.warning(request, message)
        if _is_fetch(request) or view_name == KEEPALIVE:
            return JsonResponse({"error": message, "login_url": reverse("login")}, status=401)
        if view_name in ("logout", "admin:logout"):
            return redirect("login")
        # A POST (e.g. the entry form) lands back on its page after login; the typed content
        # is offered again from the browser's local copy (static/js/entry-autosave.js).
        return redirect_to_login(request.get_full_path())


class AdminAllowListMiddleware:
    """The admin pages (login included) answer only to the addresses of the allow-list: the
    安全策略's, else PORTAL_ADMIN_ALLOWED_IPS; none listed, any address (issue 18).
    A refusal is a 403 and an ``access.admin_ip_refused`` audit row."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.prefix = None

    def __call__(self, request):
        if self.prefix is None:
            self.prefix = reverse("admin:index")
        if request.path.startswith(self.prefix):
            ip = audit.client_ip(request)
            if not policy.allowed(ip, policy.current(request).admin_networks):
                audit.record(
                    "access.admin_ip_refused", outcome=audit.Outcome.DENIED,
                    details={"path": request.path[:200], "method": request.method},
                )
                return render(request, "403.html", {"refusal_reason": ADMIN_REFUSED_MESSAGE}, status=403)
        return self.get_response(request)


def second_factor_required(user) -> bool:
    """Must this user give a TOTP code before using any page? (PORTAL_ADMIN_REQUIRE_OTP)"""
    return bool(getattr(settings, "PORTAL_ADMIN_REQUIRE_OTP", False)) and roles.is_administrator(user)


class SecondFactorMiddleware:
    """With PORTAL_ADMIN_REQUIRE_OTP on, an administrator (an administrator role, staff or
    superuser) whose session has not been confirmed with a TOTP code (django-otp) is sent to the
    code page from every login-required page, the admin included (issue 18)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not getattr(view_func, "login_required", True):
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or _view_name(request) in SECOND_FACTOR_EXEMPT:
            return None
        if not second_factor_required(user) or user.is_verified():
            return None
        if _is_fetch(request):
            return JsonResponse({"error": SECOND_FACTOR_MESSAGE}, status=403)
        return redirect(f"{reverse(OTP_VERIFY)}?{urlencode({'next': request.get_full_path()})}")
