"""审计日志: search the append-only audit log (admins and the 审计员 group; read only)."""

import ipaddress

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import render
from django.views.decorators.http import require_safe

from .. import audit, auditchain, params
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
FILTERS = {
    "date_from": params.Day(),
    "date_to": params.Day(),
    "actor": params.Text(100),
    "action": params.Text(100),
    "outcome": params.Choice(AuditEvent.Outcome.values),
    "object_type": params.Text(100),
    "object_id": params.Text(100),
    "ip": params.Text(100),
}


def can_view(user) -> bool:
    return user.is_authenticated and user.has_perm(PERMISSION)


def filtered(data):
    """The events matching the query parameters, the filters for the form (as typed) and errors."""
    p = params.read(data, FILTERS)
    form = {k: data.get(k, "").replace("\x00", "").strip()[:100] for k in FILTERS}
    qs = AuditEvent.objects.all()
    errors = []
    if "date_from" in p.refused:
        errors.append("起始日期格式应为 YYYY-MM-DD。")
    elif p.date_from is not None and (start := params.day_start(p.date_from)) is not None:
        qs = qs.filter(at__gte=start)
    if "date_to" in p.refused:
        errors.append("截止日期格式应为 YYYY-MM-DD。")
    elif p.date_to is not None and (end := params.day_end(p.date_to)) is not None:
        qs = qs.filter(at__lt=end)
    if p.actor:
        qs = qs.filter(actor_username__icontains=p.actor)
    if p.action:
        qs = qs.filter(Q(action=p.action) | Q(action__startswith=p.action.rstrip(".") + "."))
    if p.outcome:
        qs = qs.filter(outcome=p.outcome)
    if p.object_type:
        qs = qs.filter(object_type=p.object_type)
    if p.object_id:
        qs = qs.filter(object_id=p.object_id)
    if p.ip:
        qs = qs.filter(ip=p.ip) if _valid_ip(p.ip) else qs.none()
    return qs.order_by("-at", "-id"), form, errors


def _valid_ip(value: str) -> bool:
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
    page = Paginator(qs.select_related("unit"), PAGE_SIZE).get_page(params.read(request.GET, {"page": params.PAGE}).page)
    # The rows shown are checked against the hash chain on every view (one query); the whole
    # chain on request (issue 12, finding 11).
    problems = auditchain.check_page(page.object_list)
    for event in page.object_list:
        event.chain_problem = problems.get(event.id, "")
    verification = auditchain.verify() if request.GET.get("verify") == "1" else None
    return render(
        request,
        "audit/list.html",
        {
            "page": page,
            "filters": filters,
            "errors": errors,
            "verification": verification,
            "query": params.canonical(params.read(request.GET, FILTERS)),
            "actions": [(code, label) for code, label in audit.ACTION_LABELS.items()],
            "action_groups": list(ACTION_GROUPS.items()),
            "outcomes": AuditEvent.Outcome.choices,
            "object_types": list(OBJECT_TYPES.items()),
        },
    )
