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

from .models import AuditEvent

Outcome = AuditEvent.Outcome

_current_request: ContextVar = ContextVar("portal_audit_request", default=None)

SECRET_KEY_PATTERN = re.compile(r"pass|pwd|token|secret|csrf|session|cookie|authori|otp", re.IGNORECASE)

ACTION_LABELS = {
    "auth.login": "登录成功",
    "auth.login_failed": "登录失败",
    "auth.locked_out": "账号锁定（登录失败次数过多）",
    "auth.unlocked": "解除登录锁定",
    "auth.logout": "退出登录",
    "auth.session_expired": "会话过期退出",
    "auth.password_change": "修改密码",
    "auth.password_change_failed": "修改密码失败",
    "access.denied": "越权访问被拒绝",
    "access.csrf_failed": "CSRF 校验失败（请求被拒绝）",
    "assessment.create": "新建草稿",
    "assessment.save": "保存草稿",
    "import.confirm": "从Excel导入（确认）",
    "workflow.submit": "提交",
    "workflow.withdraw": "撤回",
    "workflow.start_review": "开始审核",
    "workflow.return": "退回修改",
    "workflow.approve": "审核通过",
    "workflow.publish": "公开",
    "workflow.unpublish": "撤销公开",
    "review.open": "审核人查看提交",
    "review.save": "保存复核",
    "export.generated": "生成公开文件",
    "export.failed": "公开文件生成失败",
    "bulk.request": "申请打包下载公开报告",
    "bulk.download": "下载公开报告压缩包",
    "admin.add": "管理后台：新增",
    "admin.change": "管理后台：修改",
    "admin.delete": "管理后台：删除",
    "template.clone": "复制表样",
    "template.save": "保存表样新版本",
    "template.toggle": "启用/停用表样",
    "template.assign": "分配表样",
}

DETAIL_LABELS = {
    "path": "地址",
    "method": "方法",
    "view": "页面",
    "status": "状态码",
    "reason": "原因",
    "transition": "流转记录",
    "from": "原状态",
    "to": "新状态",
    "comment": "意见",
    "assessment": "自评",
    "rows": "行数",
    "review_total": "复核总分",
    "job": "导出任务",
    "attempt": "第几次尝试",
    "final": "不再重试",
    "error": "错误类型",
    "model": "数据表",
    "object": "对象",
    "change": "修改内容",
    "username": "账号",
    "code": "代码",
    "version": "版本",
    "active": "可选用",
    "region": "地区",
    "scope": "锁定范围",
    "title": "名称",
    "carry_from": "沿用自",
    "filename": "文件名",
    "created": "新建",
    "state": "当时状态",
    "round": "评价批次",
    "year": "年度",
}

_FROM_REQUEST = object()


def action_label(code: str) -> str:
    return ACTION_LABELS.get(code, code)


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
