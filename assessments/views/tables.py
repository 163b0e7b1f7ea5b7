"""表样管理: the bureau's administrators list, clone, edit (each save is a new version), preview
and assign the table templates. Officers only ever choose among what is assigned or active."""

import secrets

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Count, Max
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from .. import audit, pagecache, permissions, readmodel, table_templates
from ..exports import public, xlsx
from ..fields import ChoiceOfModel, RegionChoiceField
from ..forms import EntryForm
from ..models import Region, Round, TableTemplate, TemplateAssignment, TemplateVersion, Unit
from ..services import create_assessment
from ..tablespec import KIND_LABELS, SpecInvalid, TableSpec
from ..template_forms import EditorForms
from .entry import tables_context

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _require_manager(request):
    if not permissions.can_manage_templates(request.user):
        raise PermissionDenied


class CloneForm(forms.Form):
    code = forms.SlugField(label="新代码", max_length=40, widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}),
                           error_messages={"invalid": "代码只能由小写字母、数字、短横线组成。"})
    name = forms.CharField(label="新名称", max_length=100, widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}))


class AssignForm(forms.Form):
    round = ChoiceOfModel(label="评价批次", queryset=Round.objects.order_by("-year"), empty_label=None,
                                   widget=forms.Select(attrs={"class": "form-select form-select-sm"}))
    region = RegionChoiceField(label="适用地区", queryset=Region.objects.order_by("level", "name"), required=False,
                                    empty_label="全部地区", widget=forms.Select(attrs={"class": "form-select form-select-sm"}))


@pagecache.page
def template_list(request):
    _require_manager(request)
    if request.method == "POST":
        return _list_action(request)
    templates = list(
        TableTemplate.objects.annotate(n_versions=Count("versions", distinct=True), n_assessments=Count("versions__assessments"))
        .order_by("kind", "id")
    )
    return render(request, "assessments/tables/list.html", {
        "templates": templates,
        "assignments": TemplateAssignment.objects.select_related("round", "region", "template").order_by("-round__year", "kind"),
        "clone_form": CloneForm(),
        "assign_form": AssignForm(),
        "kinds": KIND_LABELS,
    })


def _list_action(request):
    action = request.POST.get("action", "")
    template = get_object_or_404(TableTemplate, pk=request.POST.get("template") or 0) if action != "unassign" else None
    if action == "clone":
        form = CloneForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return redirect("assessments:templates")
        try:
            copy = table_templates.clone(template, code=form.cleaned_data["code"], name=form.cleaned_data["name"], user=request.user)
        except table_templates.TemplateRefused as exc:
            messages.error(request, str(exc))
            return redirect("assessments:templates")
        audit.record("template.clone", actor=request.user, obj=copy, details={"from": template.code, "code": copy.code})
        messages.success(request, f"已复制为“{copy.name}”，请修改后保存。")
        return redirect("assessments:template_edit", pk=copy.pk)
    if action == "toggle":
        TableTemplate.objects.filter(pk=template.pk).update(active=not template.active)
        audit.record("template.toggle", actor=request.user, obj=template, details={"active": not template.active})
        messages.success(request, f"“{template.name}”已{'停用' if template.active else '启用'}。")
        return redirect("assessments:templates")
    if action == "assign":
        form = AssignForm(request.POST)
        if form.is_valid():
            round_, region = form.cleaned_data["round"], form.cleaned_data["region"]
            TemplateAssignment.objects.update_or_create(
                round=round_, kind=template.kind, region=region, defaults={"template": template}
            )
            audit.record("template.assign", actor=request.user, obj=template,
                         details={"round": round_.year, "region": region.pk if region else None})
            where = region.full_name if region else "全部地区"
            messages.success(request, f"{round_.title}的{KIND_LABELS[template.kind]}自评（{where}）使用“{template.name}”。")
        else:
            messages.error(request, "请选择评价批次。")
        return redirect("assessments:templates")
    if action == "unassign":
        assignment = get_object_or_404(TemplateAssignment, pk=request.POST.get("assignment") or 0)
        assignment.delete()
        messages.success(request, "已取消该分配；新建自评时可从启用的表样中选择。")
        return redirect("assessments:templates")
    messages.error(request, "未知的操作。")
    return redirect("assessments:templates")


def template_edit(request, pk):
    _require_manager(request)
    template = get_object_or_404(TableTemplate, pk=pk)
    latest = table_templates.version_for_new(template)
    if template.builtin:
        messages.warning(request, "内置表样不可修改，请先复制。")
        return redirect("assessments:template_version", pk=pk, number=latest.number)
    if request.method != "POST":
        return render(request, "assessments/tables/edit.html", {"template": template, "latest": latest, "editor": EditorForms(latest.table)})
    editor = EditorForms(latest.table, request.POST)
    errors, spec = _checked(editor)
    action = request.POST.get("action", "preview")
    context = {"template": template, "latest": latest, "editor": editor, "errors": errors}
    if errors:
        return render(request, "assessments/tables/edit.html", context, status=400)
    if action == "preview_xlsx":
        return _xlsx_response(blank_preview(request, spec)["xlsx"], f"{spec.name}（预览）")
    if action == "save":
        version = table_templates.save_version(template, spec, user=request.user, note=editor.note)
        audit.record("template.save", actor=request.user, obj=template, details={"version": version.number})
        messages.success(request, f"已保存为第{version.number}版；已有的自评仍按其原来的版本显示和导出。")
        return redirect("assessments:template_edit", pk=pk)
    context["preview"] = blank_preview(request, spec)
    return render(request, "assessments/tables/edit.html", context)


def _checked(editor: EditorForms) -> tuple[list[str], TableSpec | None]:
    """Every problem of the edited declaration, or none and the valid declaration."""
    if not editor.is_valid():
        return editor.errors(), None
    try:
        return [], TableSpec.from_dict(editor.build_spec().to_dict())
    except SpecInvalid as exc:
        return exc.errors, None


def template_version(request, pk, number):
    """A saved version as the officer will see it (the empty entry form) and as it prints."""
    _require_manager(request)
    version = get_object_or_404(TemplateVersion.objects.select_related("template"), template_id=pk, number=number)
    return render(request, "assessments/tables/version.html", {
        "template": version.template, "version": version, "spec": version.table,
        "versions": version.template.versions.order_by("-number"), "preview": blank_preview(request, version.table),
    })


def template_xlsx(request, pk, number):
    _require_manager(request)
    version = get_object_or_404(TemplateVersion.objects.select_related("template"), template_id=pk, number=number)
    return _xlsx_response(blank_preview(request, version.table)["xlsx"], f"{version.template.name}（第{version.number}版）")


def _xlsx_response(data: bytes, name: str) -> HttpResponse:
    response = HttpResponse(data, content_type=XLSX)
    from django.utils.http import content_disposition_header

    response["Content-Disposition"] = content_disposition_header(True, f"{name}.xlsx")
    return response


class _Rollback(Exception):
    pass


def blank_preview(request, spec: TableSpec) -> dict:
    """The empty table of `spec` as the officer's entry form, the paper form and the xlsx: made in
    a transaction that is rolled back, so nothing of it is kept."""
    out: dict = {}
    token = secrets.token_hex(4)
    try:
        with transaction.atomic():
            template = TableTemplate.objects.create(code=f"preview-{token}", name=spec.name, kind=spec.kind, active=False)
            version = TemplateVersion.objects.create(template=template, number=1, spec=spec.evolve(code=template.code).to_dict())
            region = Region.objects.create(name=f"预览{token}", level=Region.Level.PROVINCE)
            unit = Unit.objects.create(name=f"（示例单位）{token}", short_name="示例单位", region=region)
            year = (Round.objects.aggregate(year=Max("year"))["year"] or 2000) + 1
            round_ = Round.objects.create(year=year, title="（预览）", is_open=False)
            a = create_assessment(unit=unit, round=round_, version=version, project_name="（示例项目）", prefill=False)
            a = readmodel.load_content(a.pk)
            entry = EntryForm(a, extra_indicators=3)
            view = readmodel.build(a)
            # A Jinja2 template (ADR 0023): escaped as it was rendered, returned as a plain str.
            out["entry_html"] = mark_safe(render_to_string("assessments/entry/tables.html", tables_context(entry, view),
                                                           request=request))
            out["paper_html"] = pagecache.render_paper_form(view, False)
            out["xlsx"] = xlsx.to_bytes(public.PublicReport(view, [], None, None, None))
            raise _Rollback
    except _Rollback:
        pass
    except IntegrityError as exc:  # a concurrent preview took the same year: try once more
        raise RuntimeError("表样预览失败，请重试。") from exc
    return out
