"""What a locked-out login attempt answers: the login page with the lockout message."""

from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render

LOCKED_MESSAGE = "登录失败次数过多，该账号已被锁定 15 分钟。如需立即解锁，请联系管理员。"
LOCKED_STATUS = 429


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: same page for a known and an unknown username."""
    form = AuthenticationForm(request)
    context = {
        "form": form,
        "next": request.POST.get("next", request.GET.get("next", "")),
        "lockout_message": LOCKED_MESSAGE,
    }
    return render(request, "registration/login.html", context, status=LOCKED_STATUS)
