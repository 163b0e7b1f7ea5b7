"""What a locked-out login attempt answers: the login page with the lockout message."""

from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render

LOCKED_MESSAGE = "登录失败次数过多，该账号已被锁定 15 分钟。如需立即解锁，请联系管理员。"
ADDRESS_LOCKED_MESSAGE = "从您所在网络地址登录失败的次数过多，已暂停从该地址登录 15 分钟。如需立即解除，请联系管理员。"
GLOBAL_LOCKED_MESSAGE = "近期全站登录失败次数异常，已暂停从新的网络地址登录，请稍后再试；如需立即登录，请联系管理员。"
LOCKED_STATUS = 429
MESSAGES = {"address": ADDRESS_LOCKED_MESSAGE, "global": GLOBAL_LOCKED_MESSAGE}


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: same page for a known and an unknown username; the message says
    which throttle refused the login (`security.throttle`)."""
    form = AuthenticationForm(request)
    context = {
        "form": form,
        "next": request.POST.get("next", request.GET.get("next", "")),
        "lockout_message": MESSAGES.get(getattr(request, "portal_throttle", None), LOCKED_MESSAGE),
    }
    return render(request, "registration/login.html", context, status=LOCKED_STATUS)
