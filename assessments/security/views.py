"""Password change (also the forced change at first login), the administrators' TOTP code page,
the session keep-alive and the CSRF failure page (audited)."""

import django_otp
from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import csrf
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from .. import audit
from . import passwords, policy, sessions
from .middleware import second_factor_required

FORCED_MESSAGE = "您正在使用管理员设置的初始密码或重置后的密码，须先修改密码才能继续使用。"


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's view (which keeps this session and so ends the user's other sessions), plus
    clearing the must-change flag and an audit row in the same transaction."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["title"] = "修改密码"
        context["forced"] = bool(self.request.session.get(sessions.MUST_CHANGE))
        context["forced_message"] = FORCED_MESSAGE
        context["rules"] = policy.current(self.request)
        return context

    def form_valid(self, form):
        from django.db import transaction

        with transaction.atomic():
            response = super().form_valid(form)
            passwords.changed_by_user(form.user)
            audit.record("auth.password_change", actor=form.user)
        self.request.session.pop(sessions.MUST_CHANGE, None)
        messages.success(self.request, "密码已修改。您在其他设备或浏览器上的登录已全部失效。")
        return response

    def form_invalid(self, form):
        # Which check refused it, never what was typed (issue 12, finding 11).
        codes = sorted({e.code or "invalid" for errors in form.errors.as_data().values() for e in errors})
        audit.record("auth.password_change_failed", outcome=audit.Outcome.FAILED, actor=form.user,
                     details={"reason": ",".join(codes)[:200]})
        return self.render_to_response(self.get_context_data(form=form), status=400)


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["title"] = "密码已修改"
        return context


@never_cache
@require_POST
def session_keepalive(request):
    """Called by static/js/session.js when the user chooses to stay logged in (or types).
    `SessionPolicyMiddleware` has already refreshed the last-seen time."""
    return JsonResponse({"expires_in": getattr(request, "session_expires_in", 0),
                         "kind": getattr(request, "session_expiry_kind", "idle")})


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: Django's 403 page, and an audit row saying where and why."""
    audit.record(
        "access.csrf_failed", outcome=audit.Outcome.DENIED,
        details={"path": request.path[:200], "method": request.method, "reason": str(reason)[:200]},
    )
    return csrf.csrf_failure(request, reason=reason)


NO_DEVICE_MESSAGE = "您的账号尚未绑定动态口令设备，暂不能使用管理功能。请联系安全管理员为您绑定后再登录。"
WRONG_TOKEN_MESSAGE = "动态口令不正确或已过期，请重新输入。"


class TokenForm(forms.Form):
    token = forms.CharField(
        label="动态口令", max_length=8, strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
        help_text="打开手机上的身份验证器，输入本门户账号当前显示的 6 位数字。",
    )


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("home")


@never_cache
@sensitive_post_parameters("token")
@require_http_methods(["GET", "HEAD", "POST"])
def otp_verify(request):
    """An administrator confirms the login with a TOTP code (PORTAL_ADMIN_REQUIRE_OTP, issue 18).

    Without a registered device there is no form: the 安全管理员 registers one in the admin
    (动态口令设备). django-otp slows down repeated wrong codes per device.
    """
    user, next_url = request.user, _next_url(request)
    if not second_factor_required(user) or user.is_verified():
        return HttpResponseRedirect(next_url)  # a path, never a view name (redirect() would try one)
    devices = list(TOTPDevice.objects.devices_for_user(user, confirmed=True).order_by("id"))
    form, status = TokenForm(request.POST if request.method == "POST" else None), 200
    if not devices:
        status = 403 if request.method == "POST" else 200
    elif request.method == "POST":
        if form.is_valid():
            token = form.cleaned_data["token"]
            device = next((d for d in devices if django_otp.verify_token(user, d.persistent_id, token)), None)
            if device is not None:
                django_otp.login(request, device)
                audit.record("auth.otp_verified", obj=user, details={"device": device.name})
                return HttpResponseRedirect(next_url)
            form.add_error("token", WRONG_TOKEN_MESSAGE)
        audit.record("auth.otp_failed", outcome=audit.Outcome.FAILED, obj=user)
        status = 400
    context = {"form": form, "next": next_url, "has_device": bool(devices), "no_device_message": NO_DEVICE_MESSAGE}
    return render(request, "registration/otp_verify.html", context, status=status)
