"""Password change (also the forced change at first login), the session keep-alive and the
CSRF failure page (audited)."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import JsonResponse
from django.views import csrf
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from .. import audit
from . import passwords, sessions

FORCED_MESSAGE = "您正在使用管理员设置的初始密码或重置后的密码，须先修改密码才能继续使用。"


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's view (which keeps this session and so ends the user's other sessions), plus
    clearing the must-change flag and an audit row in the same transaction."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["title"] = "修改密码"
        context["forced"] = bool(self.request.session.get(sessions.MUST_CHANGE))
        context["forced_message"] = FORCED_MESSAGE
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
