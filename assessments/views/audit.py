"""审计日志: search the append-only audit log (admins and the 审计员 group; read only)."""

from datetime import datetime, time, timedelta

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from .. import audit, auditchain
from ..models import AuditEvent

PAGE_SIZE = 50
PERMISSION = "assessments.view_auditevent"
OBJECT_TYPES = {
    "assessment": "绩效自评",
    "review": "复核",
    "exportjob": "导出任务",
    "user": "用户",
    "group": "用户组",
    "unit": "预算单位",
    "membership": "单位人员",
    "reviewerassignment": "审核分工",
    "round": "评价批次",
    "bulkexport": "打包下载",
}
ACTION_GROUPS = {
    "auth": "全部登录与账号事件",
    "access": "全部越权访问与 CSRF 拒绝",
    "assessment": "全部草稿新建与保存",
    "import": "全部从Excel导入",
    "workflow": "全部流转操作",
    "review": "全部复核（查看与保存）",
    "export": "全部公开文件生成",
    "bulk": "全部打包下载",
    "admin": "全部管理后台操作",
}
FILTERS = ("date_from", "date_to", "actor", "action", "outcome", "object_type", "object_id", "ip")


def can_view(user) -> bool:
    return user.is_authenticated and user.has_perm(PERMISSION)


def _date(value: str):
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return None


def filtered(params):
    """The events matching the query parameters, and the cleaned filters for the form."""
    f = {k: params.get(k, "").strip()[:100] for k in FILTERS}
    qs = AuditEvent.objects.all()
    errors = []
    tz = timezone.get_current_timezone()
    if f["date_from"]:
        day = _date(f["date_from"])
        if day is None:
            errors.append("起始日期格式应为 YYYY-MM-DD。")
        else:
            qs = qs.filter(at__gte=datetime.combine(day, time.min, tzinfo=tz))
    if f["date_to"]:
        day = _date(f["date_to"])
        if day is None:
            errors.append("截止日期格式应为 YYYY-MM-DD。")
        else:
            qs = qs.filter(at__lt=datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz))
    if f["actor"]:
        qs = qs.filter(actor_username__icontains=f["actor"])
    if f["action"]:
        qs = qs.filter(Q(action=f["action"]) | Q(action__startswith=f["action"].rstrip(".") + "."))
    if f["outcome"] in AuditEvent.Outcome.values:
        qs = qs.filter(outcome=f["outcome"])
    if f["object_type"]:
        qs = qs.filter(object_type=f["object_type"])
    if f["object_id"]:
        qs = qs.filter(object_id=f["object_id"])
    if f["ip"]:
        qs = qs.filter(ip=f["ip"]) if _valid_ip(f["ip"]) else qs.none()
    return qs.order_by("-at", "-id"), f, errors


def _valid_ip(value: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


@require_safe
def audit_log(request):
    if not can_view(request.user):
        raise PermissionDenied
    qs, filters, errors = filtered(request.GET)
    page = Paginator(qs.select_related("unit"), PAGE_SIZE).get_page(request.GET.get("page"))
    # The rows shown are checked against the hash chain on every view (one query); the whole
    # chain on request (issue 12, finding 11).
    problems = auditchain.check_page(page.object_list)
    for event in page.object_list:
        event.chain_problem = problems.get(event.id, "")
    verification = auditchain.verify() if request.GET.get("verify") == "1" else None
    params = request.GET.copy()
    params.pop("page", None)
    params.pop("verify", None)
    return render(
        request,
        "audit/list.html",
        {
            "page": page,
            "filters": filters,
            "errors": errors,
            "verification": verification,
            "query": params.urlencode(),
            "actions": [(code, label) for code, label in audit.ACTION_LABELS.items()],
            "action_groups": list(ACTION_GROUPS.items()),
            "outcomes": AuditEvent.Outcome.choices,
            "object_types": list(OBJECT_TYPES.items()),
        },
    )
