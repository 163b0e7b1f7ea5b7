"""从Excel导入: an officer uploads an 自评表 workbook, checks the preview, then confirms.

Upload → the file is checked (importing.safety) and parsed (importing.parser) in a child process
with a CPU-time and memory limit (importing.sandbox); the result is kept in the officer's
session under a random token (no table, no file on disk) → preview page: what
was understood, every cell that was not, and the errors that would stop the import (found by a
dry run of the real import) → confirm: a new draft, or the rows of the current draft replaced
after a second, explicit confirmation. Nothing is saved before the confirmation.

The upload is read by a handler that stops at 10 MB, so an oversized file is never held whole
in memory or on disk; that handler must be installed before the CSRF check reads the request
body, hence the csrf_exempt wrapper around a csrf_protect view (the pattern Django documents).
"""

import io
import json
import logging
import secrets

from django import forms
from django.contrib import messages
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from .. import audit, pagecache, permissions, readmodel, table_templates
from ..fields import ChoiceOfModel
from ..importing import apply, parser, safety, sandbox
from ..models import Assessment, Round, TableTemplate, Unit
from ..tablespec import KIND_LABELS

logger = logging.getLogger(__name__)

SESSION_KEY = "assessment_imports"
KEEP_PENDING = 3  # previews kept per session; older ones are dropped
MAX_PARSED_CHARS = 1_000_000  # what one preview may keep in the session
TOO_MUCH = "识别出的内容过多（超过 100 万字），不像是一份自评表，请检查文件。"

MISSING_ROUND = "未能从表中识别年度，请选择评价批次。"
REPLACE_NOT_CONFIRMED = "请勾选“确认用文件中的内容替换当前草稿的表格”后再点击“确认替换”。"
EXPIRED = "该导入预览已失效（已导入、已被新的上传替换或会话已过期），请重新上传文件。"


# --- Upload handling --------------------------------------------------------------------------


class CappedUploadHandler(FileUploadHandler):
    """Keeps an uploaded file in memory up to `safety.MAX_UPLOAD_BYTES`, and gives up beyond it."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.buffer = io.BytesIO()
        self.size = 0

    def receive_data_chunk(self, raw_data, start):
        self.size += len(raw_data)
        if self.size > safety.MAX_UPLOAD_BYTES:
            self.request.import_upload_too_large = True
            raise StopUpload(connection_reset=False)
        self.buffer.write(raw_data)
        return None

    def file_complete(self, file_size):
        self.buffer.seek(0)
        return InMemoryUploadedFile(
            self.buffer, self.field_name, self.file_name, self.content_type, file_size, self.charset,
            self.content_type_extra,
        )


class UploadForm(forms.Form):
    LAYOUT_CHOICES = [("", "自动识别")]

    unit = ChoiceOfModel(label="预算单位", queryset=Unit.objects.none(), empty_label=None,
                                  widget=forms.Select(attrs={"class": "form-select"}))
    round = ChoiceOfModel(
        label="评价批次", queryset=Round.objects.filter(is_open=True).order_by("-year"), required=False,
        empty_label="按表中的年度", widget=forms.Select(attrs={"class": "form-select"}),
    )
    layout = forms.ChoiceField(label="表样", choices=LAYOUT_CHOICES, required=False,
                               widget=forms.Select(attrs={"class": "form-select"}))
    project_name = forms.CharField(
        label="项目名称", required=False, max_length=200, widget=forms.TextInput(attrs={"class": "form-control"}),
        help_text="项目支出自评：留空则取表中的项目名称",
    )
    # Last, so that the browser posts it last: when an oversized file stops the upload, the
    # choices above have already been read and are shown again as chosen.
    file = forms.FileField(
        label="自评表 Excel 文件（.xlsx，不超过 10 MB）",
        error_messages={"required": safety.NO_FILE, "empty": safety.EMPTY_FILE, "invalid": safety.NO_FILE},
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx", "class": "form-control"}),
    )

    def __init__(self, *args, units=None, target=None, **kwargs):
        super().__init__(*args, **kwargs)
        if target is not None:
            for name in ("unit", "round", "layout", "project_name"):
                del self.fields[name]
            return
        self.fields["unit"].queryset = units
        self.fields["layout"].choices = self.LAYOUT_CHOICES + [
            (t.code, t.name) for t in TableTemplate.objects.filter(active=True).order_by("kind", "id")
        ]
        self.only_unit = units[0] if len(units) == 1 else None
        if self.only_unit is not None:
            self.fields["unit"].widget = forms.HiddenInput()
            self.fields["unit"].initial = self.only_unit.pk
            self.fields["unit"].required = False

    def clean_unit(self):
        return self.cleaned_data.get("unit") or self.only_unit


def _templates(form: UploadForm, target: Assessment | None):
    """(templates to try, the one chosen): a draft being replaced is read by its own version; a
    new import by the template the officer picked, else by whichever active one fits best."""
    if target is not None:
        return [], target.table
    versions = {t.code: table_templates.latest_version(t.code) for t in TableTemplate.objects.filter(active=True).order_by("kind", "id")}
    picked = form.cleaned_data.get("layout") if hasattr(form, "cleaned_data") else None
    if picked and picked in versions:
        return [], versions[picked].table
    return [v.table for v in versions.values()], None


def _read(request, form: UploadForm, target: Assessment | None = None) -> parser.ParsedWorkbook | None:
    """The parsed workbook, or None with the reason put on the form's file field."""
    if getattr(request, "import_upload_too_large", False):
        form.errors.pop("file", None)
        form.add_error("file", safety.TOO_LARGE)
        return None
    if not form.is_valid():
        return None
    upload = form.cleaned_data["file"]
    if upload.size > safety.MAX_UPLOAD_BYTES:
        form.add_error("file", safety.TOO_LARGE)
        return None
    data = upload.read(safety.MAX_UPLOAD_BYTES + 1)
    try:
        safety.check_upload(data)
        templates, chosen = _templates(form, target)
        parsed = sandbox.parse_workbook(data, templates, chosen)
        if len(json.dumps(parsed.to_dict(), ensure_ascii=False)) > MAX_PARSED_CHARS:
            form.add_error("file", TOO_MUCH)
            return None
        return parsed
    except (safety.UploadRefused, parser.ParseRefused) as exc:
        form.add_error("file", str(exc))
    except Exception:  # openpyxl raises many kinds of errors on damaged files; none may become a 500
        logger.warning("import: unreadable workbook %r", upload.name, exc_info=True)
        form.add_error("file", safety.CORRUPT)
    return None


def _choose(form: UploadForm, parsed: parser.ParsedWorkbook):
    """(unit, round, layout, project name) for a new draft, or None with errors on the form."""
    data = form.cleaned_data
    layout = data.get("layout") or parsed.layout
    if parsed.file_kind and apply.kind_of(layout) != parsed.file_kind:
        form.add_error("layout", f"所选表样与文件不符：文件是{KIND_LABELS[parsed.file_kind]}绩效自评表。")
        return None
    round_ = data.get("round")
    if round_ is None:
        if parsed.year is None:
            form.add_error("round", MISSING_ROUND)
            return None
        round_ = Round.objects.filter(is_open=True, year=parsed.year).first()
        if round_ is None:
            form.add_error("round", f"表中年度为{parsed.year}年，没有该年度的开放评价批次，请选择评价批次。")
            return None
    project_name = ""
    if layout != "department":
        project_name = (data.get("project_name") or parsed.header.get("project_name") or "").strip()
        if not project_name:
            form.add_error("project_name", "未能从表中识别项目名称，请填写项目名称。")
            return None
    return data["unit"], round_, layout, project_name


# --- Pending imports in the session -----------------------------------------------------------


def _store(request, entry: dict, key: str = SESSION_KEY) -> str:
    pending = dict(request.session.get(key, {}))
    for old in sorted(pending, key=lambda t: pending[t]["created"])[: max(0, len(pending) - KEEP_PENDING + 1)]:
        del pending[old]
    token = secrets.token_urlsafe(16)
    pending[token] = {**entry, "user": request.user.pk, "created": timezone.now().isoformat()}
    request.session[key] = pending
    return token


def _pending(request, token: str, key: str = SESSION_KEY) -> dict:
    entry = request.session.get(key, {}).get(token)
    if entry is None or entry.get("user") != request.user.pk:
        raise Http404(EXPIRED)
    return entry


def _drop(request, token: str, key: str = SESSION_KEY) -> None:
    pending = dict(request.session.get(key, {}))
    pending.pop(token, None)
    request.session[key] = pending


# --- Views ------------------------------------------------------------------------------------


def _officer_units(request):
    units = Unit.objects.filter(pk__in=permissions.officer_unit_ids(request.user)).order_by("id")
    if not units:
        raise Http404
    return units


@csrf_exempt
@pagecache.page
def import_new(request):
    request.upload_handlers = [CappedUploadHandler(request)]
    return _import_new(request)


@csrf_protect
def _import_new(request):
    units = _officer_units(request)
    if request.method != "POST":
        return render(request, "assessments/import/upload.html", {"form": UploadForm(units=units), "target": None})
    form = UploadForm(request.POST, request.FILES, units=units)
    parsed = _read(request, form)
    chosen = _choose(form, parsed) if parsed is not None else None
    if chosen is None:
        return render(request, "assessments/import/upload.html", {"form": form, "target": None}, status=400)
    unit, round_, layout, project_name = chosen
    parsed.layout = layout
    token = _store(request, {
        "target": None, "unit": unit.pk, "round": round_.pk, "layout": layout, "project_name": project_name,
        "filename": form.cleaned_data["file"].name, "version": None, "parsed": parsed.to_dict(),
    })
    return redirect("assessments:import_preview", token=token)


@csrf_exempt
def import_replace(request, pk):
    request.upload_handlers = [CappedUploadHandler(request)]
    return _import_replace(request, pk)


@csrf_protect
def _import_replace(request, pk):
    assessment = permissions.get_officer_assessment(request.user, pk)
    if not permissions.can_edit(request.user, assessment):
        message = f"该自评当前状态为“{assessment.get_state_display()}”，不能导入替换。"
        if request.method == "POST":
            return render(request, "assessments/import/upload.html",
                          {"form": UploadForm(target=assessment), "target": assessment, "refused": message}, status=403)
        messages.warning(request, message)
        return redirect("assessments:detail", pk=pk)
    if request.method != "POST":
        return render(request, "assessments/import/upload.html", {"form": UploadForm(target=assessment), "target": assessment})
    form = UploadForm(request.POST, request.FILES, target=assessment)
    parsed = _read(request, form, target=assessment)
    if parsed is None:
        return render(request, "assessments/import/upload.html", {"form": form, "target": assessment}, status=400)
    token = _store(request, {
        "target": assessment.pk, "unit": assessment.unit_id, "round": assessment.round_id, "layout": assessment.layout,
        "project_name": assessment.project_name, "filename": form.cleaned_data["file"].name,
        "version": assessment.version, "parsed": parsed.to_dict(),
    })
    return redirect("assessments:import_preview", token=token)


def _context(request, token: str, entry: dict) -> dict:
    """Everything the preview shows; re-checks that the officer may still import here."""
    parsed = parser.ParsedWorkbook.from_dict(entry["parsed"])
    target = None
    if entry["target"] is not None:
        target = permissions.get_officer_assessment(request.user, entry["target"])
        unit, round_ = target.unit, target.round
    else:
        if entry["unit"] not in permissions.officer_unit_ids(request.user):
            raise Http404
        unit = Unit.objects.select_related("region").get(pk=entry["unit"])
        round_ = Round.objects.select_related("rule_set").get(pk=entry["round"])
    layout = entry["layout"] if target is None else parsed.layout
    if target is not None and (target.layout != parsed.layout or (parsed.file_kind and parsed.file_kind != target.kind)):
        view = None
    else:
        base = readmodel.load_content(target.pk) if target is not None else None
        a = apply.stub(unit, round_, parsed, layout, entry["project_name"], base=base)
        view = apply.preview_view(a, parsed, base=base)
    spec = table_templates.latest_version(layout).table if target is None else target.table
    _rows, score_notes = apply.resolve_indicators(parsed.indicators, round_.rules, spec.table_rules)
    _funding, funding_notes = apply.resolve_funding(parsed.funding, spec, round_.rules)
    return {
        "token": token,
        "entry": entry,
        "parsed": parsed,
        "target": target,
        "unit": unit,
        "round": round_,
        "layout_label": apply.layout_label(layout),
        "view": view,
        "row_comments": {},
        "notes": parsed.notes + apply.level1_notes(parsed) + funding_notes + score_notes
        + ([apply.CONFIDENTIAL_NOTE] if target is None and view is not None and apply.inherits_confidential(a) else [])
        + ([note] if target is not None and (note := apply.evidence_note(target, parsed)) else []),
        "unmapped": parsed.unmapped,
        "can_replace": target is None or permissions.can_edit(request.user, target),
    }


def _run(request, entry: dict, parsed, *, dry_run: bool) -> apply.Outcome:
    if entry["target"] is not None:
        target = permissions.get_officer_assessment(request.user, entry["target"])
        if not permissions.can_edit(request.user, target):
            return apply.Outcome(None, [f"该自评当前状态为“{target.get_state_display()}”，不能导入替换。"])
        return apply.import_into(assessment=target, parsed=parsed, expected_version=entry["version"], dry_run=dry_run)
    unit = Unit.objects.get(pk=entry["unit"])
    round_ = Round.objects.get(pk=entry["round"])
    return apply.import_new(
        user=request.user, unit=unit, round_=round_, layout=entry["layout"], parsed=parsed,
        project_name=entry["project_name"], dry_run=dry_run,
    )


def import_preview(request, token):
    entry = _pending(request, token)
    context = _context(request, token, entry)
    context["errors"] = _run(request, entry, context["parsed"], dry_run=True).errors
    return render(request, "assessments/import/preview.html", context)


@require_POST
def import_confirm(request, token):
    entry = _pending(request, token)
    context = _context(request, token, entry)
    if entry["target"] is not None and request.POST.get("confirm_replace") != "on":
        context["errors"] = _run(request, entry, context["parsed"], dry_run=True).errors
        context["confirm_error"] = REPLACE_NOT_CONFIRMED
        return render(request, "assessments/import/preview.html", context, status=400)
    with transaction.atomic():  # the imported draft and its audit row commit together
        outcome = _run(request, entry, context["parsed"], dry_run=False)
        if not outcome.errors:
            audit.record(
                "import.confirm", unit=outcome.assessment.unit_id, obj=outcome.assessment,
                details={"filename": entry["filename"][:200], "created": entry["target"] is None},
            )
    if outcome.errors:
        context["errors"] = outcome.errors
        return render(request, "assessments/import/preview.html", context, status=400)
    _drop(request, token)
    a = outcome.assessment
    if entry["target"] is None:
        messages.success(request, f"已从“{entry['filename']}”导入，生成草稿“{a.title}”。请核对后保存、提交。")
    else:
        messages.success(request, f"已用“{entry['filename']}”中的内容替换草稿的表格。请核对后提交。")
    return redirect("assessments:edit", pk=a.pk)


@require_POST
def import_cancel(request, token):
    entry = _pending(request, token)
    _drop(request, token)
    messages.info(request, "已取消导入，未保存任何内容。")
    if entry["target"] is not None:
        return redirect("assessments:detail", pk=entry["target"])
    return redirect("assessments:list")

