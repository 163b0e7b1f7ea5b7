"""从Word导入 (issue 19): the 自评报告 a unit wrote in Word fills the report's sections in one step.

Upload (a new draft, or a draft or returned assessment of the officer's unit) → the file is
checked (importing.safety: the checks of the Excel import, for .docx) and read in the same limited
child process (importing.sandbox.read_document → importing.word) → preview: each chapter and the
section it fills (the officer may choose another, or none), what could not be placed, the tables
found and what the template recognises in them, the report-vs-table consistency warnings of the
result, and the errors a dry run of the real import meets → confirm: the import goes through
`apply` (the entry form's own validation, one transaction, an audit row). Replacing texts (or
tables) that hold something asks a second time and shows both texts. Nothing is saved before.

A .doc / .wps is refused with "请另存为 .docx 后上传", or converted first when the server has
LibreOffice and it is switched on (importing.convert).
"""

import json
import logging

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from .. import audit, pagecache, permissions, readmodel, table_templates
from ..consistency import check as check_consistency
from ..importing import apply, convert, parser, safety, sandbox, word
from ..models import Assessment, Round, Unit
from ..tablespec import KIND_DEPARTMENT
from . import imports

logger = logging.getLogger(__name__)

SESSION_KEY = "word_imports"
MISSING_ROUND = "未能从报告中识别年度，请选择评价批次。"
REPLACE_NOT_CONFIRMED = "请勾选“确认替换已有内容”后再点击确认。"
NOT_EDITABLE = "该自评当前状态为“{state}”，不能导入。"


class WordUploadForm(imports.UploadForm):
    LAYOUT_CHOICES = [("", "按报告标题（部门整体支出 / 项目支出）")]

    project_name = forms.CharField(
        label="项目名称", required=False, max_length=200, widget=forms.TextInput(attrs={"class": "form-control"}),
        help_text="项目支出自评报告：留空则取报告标题中的项目名称",
    )
    file = forms.FileField(
        label="自评报告 Word 文档（.docx，不超过 10 MB）",
        error_messages={"required": safety.NO_DOCUMENT, "empty": safety.EMPTY_FILE, "invalid": safety.NO_DOCUMENT},
        widget=forms.ClearableFileInput(attrs={"accept": ".docx,.doc,.wps", "class": "form-control"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "round" in self.fields:
            self.fields["round"].empty_label = "按报告中的年度"


def _specs(form: WordUploadForm, target: Assessment | None, unit):
    """The 表样 to read the document by: the draft's own; the one picked; else, by kind, the one the
    round prescribes for the unit or the first active one (the report's title chooses the kind)."""
    if target is not None:
        return target.table
    picked = form.cleaned_data.get("layout")
    if picked:
        return table_templates.latest_version(picked).table
    offered = table_templates.offered_templates(form.cleaned_data.get("round"), unit)
    return {
        kind: table_templates.version_for_new(templates[0]).table
        for kind, templates in offered.items() if templates
    }


def _read(request, form: WordUploadForm, target: Assessment | None = None) -> word.WordDocument | None:
    """The document read, or None with the reason put on the form's file field."""
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
        if data and safety.is_old_word_file(data) and convert.enabled():
            data = convert.to_docx(data, upload.name)
        safety.check_docx_upload(data)
        unit = target.unit if target is not None else form.cleaned_data["unit"]
        document = sandbox.read_document(data, _specs(form, target, unit))
        if len(json.dumps(document.to_dict(), ensure_ascii=False)) > imports.MAX_PARSED_CHARS:
            form.add_error("file", imports.TOO_MUCH)
            return None
        return document
    except (safety.UploadRefused, parser.ParseRefused) as exc:
        form.add_error("file", str(exc))
    except Exception:  # python-docx raises many kinds of errors on damaged files; none may become a 500
        logger.warning("word import: unreadable document %r", upload.name, exc_info=True)
        form.add_error("file", safety.CORRUPT_DOCX)
    return None


def _choose(form: WordUploadForm, document: word.WordDocument):
    """(unit, round, layout, project name) of a new draft, or None with errors on the form."""
    data = form.cleaned_data
    layout = data.get("layout") or document.layout
    round_ = data.get("round")
    if round_ is None:
        if document.year is None:
            form.add_error("round", MISSING_ROUND)
            return None
        round_ = Round.objects.filter(is_open=True, year=document.year).first()
        if round_ is None:
            form.add_error("round", f"报告中的年度为{document.year}年，没有该年度的开放评价批次，请选择评价批次。")
            return None
    if not data.get("layout"):
        # The round may prescribe another template of that kind for the unit's region than the one
        # the document was read by (the sections are matched by key: they carry over).
        prescribed = table_templates.assigned_template(round_, apply.kind_of(layout), data["unit"].region)
        if prescribed is not None:
            layout = prescribed.code
    project_name = ""
    if apply.kind_of(layout) != KIND_DEPARTMENT:
        project_name = (data.get("project_name") or document.project_name or "").strip()
        if not project_name:
            form.add_error("project_name", "未能从报告标题中识别项目名称，请填写项目名称。")
            return None
    return data["unit"], round_, layout, project_name


# --- Upload -----------------------------------------------------------------------------------


@csrf_exempt
@pagecache.page
def word_import(request):
    request.upload_handlers = [imports.CappedUploadHandler(request)]
    return _word_import(request)


@csrf_protect
def _word_import(request):
    units = imports._officer_units(request)
    page = "assessments/word/upload.html"
    if request.method != "POST":
        return render(request, page, {"form": WordUploadForm(units=units), "target": None})
    form = WordUploadForm(request.POST, request.FILES, units=units)
    document = _read(request, form)
    chosen = _choose(form, document) if document is not None else None
    if chosen is None:
        return render(request, page, {"form": form, "target": None}, status=400)
    unit, round_, layout, project_name = chosen
    token = imports._store(request, {
        "target": None, "unit": unit.pk, "round": round_.pk, "layout": layout, "project_name": project_name,
        "filename": form.cleaned_data["file"].name, "version": None, "document": document.to_dict(),
    }, SESSION_KEY)
    return redirect("assessments:word_preview", token=token)


@csrf_exempt
def word_import_replace(request, pk):
    request.upload_handlers = [imports.CappedUploadHandler(request)]
    return _word_import_replace(request, pk)


@csrf_protect
def _word_import_replace(request, pk):
    assessment = permissions.get_officer_assessment(request.user, pk)
    page = "assessments/word/upload.html"
    if not permissions.can_edit(request.user, assessment):
        message = NOT_EDITABLE.format(state=assessment.get_state_display())
        if request.method == "POST":
            return render(request, page, {"form": WordUploadForm(target=assessment), "target": assessment,
                                          "refused": message}, status=403)
        messages.warning(request, message)
        return redirect("assessments:detail", pk=pk)
    if request.method != "POST":
        return render(request, page, {"form": WordUploadForm(target=assessment), "target": assessment})
    form = WordUploadForm(request.POST, request.FILES, target=assessment)
    document = _read(request, form, target=assessment)
    if document is None:
        return render(request, page, {"form": form, "target": assessment}, status=400)
    token = imports._store(request, {
        "target": assessment.pk, "unit": assessment.unit_id, "round": assessment.round_id, "layout": assessment.layout,
        "project_name": assessment.project_name, "filename": form.cleaned_data["file"].name,
        "version": assessment.version, "document": document.to_dict(),
    }, SESSION_KEY)
    return redirect("assessments:word_preview", token=token)


# --- Preview and confirmation -----------------------------------------------------------------


def _choices(post, document: word.WordDocument, spec) -> tuple[list[str], bool]:
    """(the section of each chapter, whether to import the tables): as posted, else the defaults."""
    mapping = document.default_mapping()
    tables = document.table_result is not None
    if post is None:
        return mapping, tables
    keys = {s.key for s in spec.text_sections}
    for n in range(len(mapping)):
        value = post.get(f"chapter-{n}")
        if value is not None:
            mapping[n] = value if value in keys else ""
    return mapping, tables and post.get("import_tables") == "on"


def _context(request, token: str, entry: dict, post=None) -> dict:
    """Everything the preview shows for these choices; re-checks that the officer may import here."""
    document = word.WordDocument.from_dict(entry["document"])
    target = base = None
    if entry["target"] is not None:
        target = permissions.get_officer_assessment(request.user, entry["target"])
        unit, round_ = target.unit, target.round
        base = readmodel.load_content(target.pk)
        spec = target.table
    else:
        if entry["unit"] not in permissions.officer_unit_ids(request.user):
            raise Http404
        unit = Unit.objects.select_related("region").get(pk=entry["unit"])
        round_ = Round.objects.select_related("rule_set").get(pk=entry["round"])
        spec = table_templates.latest_version(entry["layout"]).table
    mapping, tables = _choices(post, document, spec)
    parsed = document.parsed(spec, mapping, tables=tables)
    a = apply.stub(unit, round_, parsed, entry["layout"], entry["project_name"], base=base)
    view = apply.preview_view(a, parsed, base=base)
    replaced = apply.replaced_texts(base, parsed) if base is not None else []
    replaced_tables = apply.replaced_tables(base, parsed) if base is not None else []
    by_key = {r["key"]: r for r in replaced}
    labels = {s.key: s.title for s in spec.text_sections}
    chapters = [
        {"n": n, "chapter": c, "selected": mapping[n], "known": c.key is not None,
         "replaces": by_key.get(mapping[n]) if mapping[n] and mapping.index(mapping[n]) == n else None}
        for n, c in enumerate(document.chapters)
    ]
    table_parse = document.tables_parsed
    return {
        "token": token,
        "entry": entry,
        "document": document,
        "target": target,
        "unit": unit,
        "round": round_,
        "layout_label": apply.layout_label(entry["layout"]),
        "spec": spec,
        "chapters": chapters,
        "section_choices": [(s.key, s.title) for s in spec.text_sections],
        "filled": [labels[s["key"]] for s in document.sections(spec, mapping)],
        "not_imported": [c.heading for c, key in zip(document.chapters, mapping, strict=True) if not key],
        "tables_offered": table_parse is not None,
        "import_tables": tables,
        "table_parse": table_parse,
        "view": view,
        "row_comments": {},
        "consistency": check_consistency(view),
        "replaced": replaced,
        "replaced_tables": replaced_tables if tables else [],
        "needs_confirmation": bool(replaced or (tables and replaced_tables)),
        "parsed": parsed,
        "can_import": target is None or permissions.can_edit(request.user, target),
    }


def _run(request, entry: dict, parsed, *, dry_run: bool) -> apply.Outcome:
    if entry["target"] is not None:
        target = permissions.get_officer_assessment(request.user, entry["target"])
        if not permissions.can_edit(request.user, target):
            return apply.Outcome(None, [NOT_EDITABLE.format(state=target.get_state_display())])
        return apply.import_into(assessment=target, parsed=parsed, expected_version=entry["version"], dry_run=dry_run)
    return apply.import_new(
        user=request.user, unit=Unit.objects.get(pk=entry["unit"]), round_=Round.objects.get(pk=entry["round"]),
        layout=entry["layout"], parsed=parsed, project_name=entry["project_name"], dry_run=dry_run,
    )


@require_http_methods(["GET", "POST"])
def word_preview(request, token):
    """GET: the preview with the chapters where the reader put them; POST: with the officer's choices."""
    entry = imports._pending(request, token, SESSION_KEY)
    context = _context(request, token, entry, request.POST if request.method == "POST" else None)
    context["errors"] = _run(request, entry, context["parsed"], dry_run=True).errors
    return render(request, "assessments/word/preview.html", context)


@require_POST
def word_confirm(request, token):
    entry = imports._pending(request, token, SESSION_KEY)
    context = _context(request, token, entry, request.POST)
    if context["needs_confirmation"] and request.POST.get("confirm_replace") != "on":
        context["errors"] = _run(request, entry, context["parsed"], dry_run=True).errors
        context["confirm_error"] = REPLACE_NOT_CONFIRMED
        return render(request, "assessments/word/preview.html", context, status=400)
    with transaction.atomic():  # the imported texts and their audit row commit together
        outcome = _run(request, entry, context["parsed"], dry_run=False)
        if not outcome.errors:
            audit.record(
                "import.word", unit=outcome.assessment.unit_id, obj=outcome.assessment,
                details={
                    "filename": entry["filename"][:200], "created": entry["target"] is None,
                    "sections": [t["key"] for t in list(context["parsed"].blocks) + list(context["parsed"].sections or [])],
                    "tables": context["import_tables"],
                    "not_imported": [h[:100] for h in context["not_imported"][:20]],
                },
            )
    if outcome.errors:
        context["errors"] = outcome.errors
        return render(request, "assessments/word/preview.html", context, status=400)
    imports._drop(request, token, SESSION_KEY)
    a = outcome.assessment
    done = f"已从“{entry['filename']}”导入自评报告：{len(context['filled'])} 个章节"
    if context["import_tables"]:
        done += "及表格"
    done += "。请核对后保存、提交。"
    if context["not_imported"]:
        done += f"未导入的章节：{'；'.join(context['not_imported'])}。"
    messages.success(request, done)
    return redirect("assessments:edit", pk=a.pk)


@require_POST
def word_cancel(request, token):
    entry = imports._pending(request, token, SESSION_KEY)
    imports._drop(request, token, SESSION_KEY)
    messages.info(request, "已取消导入，未保存任何内容。")
    if entry["target"] is not None:
        return redirect("assessments:detail", pk=entry["target"])
    return redirect(reverse("assessments:list"))

