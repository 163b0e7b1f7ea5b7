"""What a locked-out login attempt answers: the login page with the lockout message."""

from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render

from . import policy


def locked_message(minutes: int) -> str:
    return f"登录失败次数过多，该账号已被锁定 {minutes} 分钟。如需立即解锁，请联系安全管理员。"


def address_locked_message(minutes: int) -> str:
    return f"从您所在网络地址登录失败的次数过多，已暂停从该地址登录 {minutes} 分钟。如需立即解除，请联系安全管理员。"


GLOBAL_LOCKED_MESSAGE = "近期全站登录失败次数异常，已暂停从新的网络地址登录，请稍后再试；如需立即登录，请联系安全管理员。"
# The messages with the deployment's default lock of 15 minutes.
LOCKED_MESSAGE = locked_message(15)
ADDRESS_LOCKED_MESSAGE = address_locked_message(15)
LOCKED_STATUS = 429


def message(scope: str | None, minutes: int) -> str:
    if scope == "address":
        return address_locked_message(minutes)
    if scope == "global":
        return GLOBAL_LOCKED_MESSAGE
    return locked_message(minutes)


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: same page for a known and an unknown username; the message says
    which throttle refused the login (`security.throttle`) and for how long (安全策略)."""
    form = AuthenticationForm(request)
    context = {
        "form": form,
        "next": request.POST.get("next", request.GET.get("next", "")),
        "lockout_message": message(getattr(request, "portal_throttle", None), policy.current(request).lockout_minutes),
    }
    return render(request, "registration/login.html", context, status=LOCKED_STATUS)
