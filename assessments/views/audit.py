"""审计日志: search, export and verify the append-only audit log (the 审计管理员 only; read only)."""

import csv
import ipaddress
import json

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from .. import audit, audit_labels, auditchain, params, permissions
from ..exports.lists import csv_safe
from ..models import AuditEvent

PAGE_SIZE = 50
PERMISSION = "assessments.view_auditevent"
# Logins with the emergency superuser account, listed above the search (issue 18).
SUPERUSER_LOGIN = "auth.superuser_login"
SUPERUSER_LOGINS_SHOWN = 20
OBJECT_TYPES = audit_labels.OBJECT_TYPE_LABELS
ACTION_GROUPS = audit_labels.ACTION_GROUPS
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
    """The 审计管理员 (view_auditevent granted to the account or its group); not the superuser."""
    return permissions.can_audit(user)


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
    page = Paginator(qs.select_related("unit", "actor"), PAGE_SIZE).get_page(params.read(request.GET, {"page": params.PAGE}).page)
    # The rows shown are checked against the hash chain on every view (one query); the whole
    # chain on request (issue 12, finding 11).
    problems = auditchain.check_page(page.object_list)
    for event in page.object_list:
        event.chain_problem = problems.get(event.id, "")
    verification = auditchain.verify() if request.GET.get("verify") == "1" else None
    superuser_logins = AuditEvent.objects.filter(action=SUPERUSER_LOGIN).select_related("actor").order_by("-at", "-id")
    query = params.canonical(params.read(request.GET, FILTERS))
    return render(
        request,
        "audit/list.html",
        {
            "superuser_logins": list(superuser_logins[:SUPERUSER_LOGINS_SHOWN]),
            "superuser_login_count": superuser_logins.count(),
            "export_query": query,
            "page": page,
            "page_range": params.page_range(page),
            "filters": filters,
            "errors": errors,
            "verification": verification,
            "query": query,
            "actions": [(code, label) for code, label in audit.ACTION_LABELS.items()],
            "action_groups": list(ACTION_GROUPS.items()),
            "outcomes": AuditEvent.Outcome.choices,
            "object_types": list(OBJECT_TYPES.items()),
        },
    )


EXPORT_COLUMNS = [
    ("seq", "序号"), ("at", "时间"), ("actor_username", "操作人账号"), ("unit", "单位"), ("ip", "IP 地址"),
    ("action_label", "事件"), ("action", "事件代码"), ("object_type", "对象类型"), ("object_id", "对象编号"),
    ("outcome", "结果"), ("details", "详情"), ("prev_hash", "前一条哈希"), ("row_hash", "本条哈希"),
]


class _Echo:
    def write(self, value):
        return value


def _export_rows(qs):
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([label for _, label in EXPORT_COLUMNS])  # Excel/WPS read UTF-8
    outcomes = dict(AuditEvent.Outcome.choices)
    for event in qs.select_related("unit").iterator(chunk_size=2000):
        values = {
            "seq": event.seq, "at": timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M:%S"),
            "actor_username": event.actor_username or "（系统）",
            "unit": (event.unit.short_name or event.unit.name) if event.unit else "", "ip": event.ip or "",
            "action_label": event.action_label, "action": event.action, "object_type": event.object_type,
            "object_id": event.object_id, "outcome": outcomes.get(event.outcome, event.outcome),
            "details": json.dumps(event.details or {}, ensure_ascii=False, sort_keys=True),
            "prev_hash": event.prev_hash, "row_hash": event.row_hash,
        }
        yield writer.writerow([csv_safe(values[key]) for key, _ in EXPORT_COLUMNS])


@require_safe
def audit_export(request):
    """The rows the same filters select, oldest first, with their hashes (CSV, UTF-8 with BOM), so
    the chain can be checked outside the portal. The export is itself recorded."""
    if not can_view(request.user):
        raise PermissionDenied
    qs, filters, _ = filtered(request.GET)
    audit.record("audit.export", details={"filters": {k: v for k, v in filters.items() if v}})
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(
        (line.encode("utf-8") for line in _export_rows(qs.order_by("seq", "id"))), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response
