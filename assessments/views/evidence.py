"""佐证材料 pages (issue 13): the officer's list with upload and removal, and the file downloads
for officers, reviewers and (for items a reviewer made public) anyone.

Files are served by the portal after the permission check, streamed from the storage (local disk
or S3) in chunks: PDF and images inline, everything else as a download, always with the type the
content was checked to be, `nosniff`, no caching and a sandboxing CSP. The upload handler must be
installed before the CSRF check reads the body, hence the csrf_exempt wrapper around a
csrf_protect view (as for 从Excel导入).
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST, require_safe

from portal import storage

from .. import audit, evidence, pagecache, params, permissions, readmodel
from ..childrows import Ids, Statement
from ..models import Assessment, Evidence, Snapshot

KIND_CHOICES = Evidence.Kind.choices


class UploadForm(forms.Form):
    indicator = forms.ChoiceField(label="对应指标", required=False, widget=forms.Select(attrs={"class": "form-select"}))
    kind = forms.ChoiceField(label="类型", choices=KIND_CHOICES, widget=forms.Select(attrs={"class": "form-select"}))
    title = forms.CharField(label="标题", max_length=100, error_messages={"required": evidence.TITLE_REQUIRED},
                            widget=forms.TextInput(attrs={"class": "form-control"}))
    note = forms.CharField(label="说明（可选）", max_length=500, required=False,
                           widget=forms.TextInput(attrs={"class": "form-control"}))

    def __init__(self, *args, rows=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["indicator"].choices = [("", "整体（不对应具体指标）")] + [
            (line.key, f"第{line.number}行 {' '.join((line.name or '').split())[:40] or line.level2}") for line in rows
        ]


def _limits() -> dict:
    from django.conf import settings

    return {
        "max_file_mb": settings.EVIDENCE_MAX_FILE_MB,
        "max_total_mb": settings.EVIDENCE_MAX_TOTAL_MB,
        "max_files": settings.EVIDENCE_MAX_FILES,
        "max_per_upload": settings.EVIDENCE_MAX_FILES_PER_UPLOAD,
        "accept": evidence.ACCEPT_ATTRIBUTE,
    }


def _page(request, assessment, form=None, errors=None, status=200, lines=None):
    lines = evidence.row_lines(assessment) if lines is None else lines
    items = evidence.current(assessment)
    count, used = len(items), sum(i.size for i in items)
    return render(request, "assessments/evidence/list.html", {
        "a": assessment,
        "groups": evidence.grouped(lines, items),
        "form": form or UploadForm(rows=lines),
        "errors": errors or [],
        "can_edit": permissions.can_edit(request.user, assessment),
        "count": count,
        "used": evidence.human_size(used),
        "limits": _limits(),
    }, status=status)


@csrf_exempt
@pagecache.page
def evidence_list(request, pk):
    """The officer's evidence page; a POST uploads."""
    if request.method != "POST":  # the assessment read once, with the rows the page names
        return _page(request, permissions.get_officer_assessment(request.user, pk, content=(readmodel.INDICATOR_ROWS,)))
    assessment = permissions.get_officer_assessment(request.user, pk)
    if permissions.can_edit(request.user, assessment):
        _count, used = evidence.usage(assessment)
        request.upload_handlers = [
            evidence.EvidenceUploadHandler(request, remaining_bytes=max(0, evidence.max_total_bytes() - used))
        ]
        try:
            request.POST  # noqa: B018 - parse the body now, through the handler above
        except (TooManyFilesSent, TooManyFieldsSent, RequestDataTooBig):
            return _page(request, assessment, errors=[evidence.TOO_MANY_AT_ONCE.format(
                limit=_limits()["max_per_upload"])], status=400)
    return _evidence_list(request, assessment)


@csrf_protect
def _evidence_list(request, assessment):
    if not permissions.can_edit(request.user, assessment):
        return _page(request, assessment, errors=[evidence.NOT_EDITABLE.format(state=assessment.get_state_display())],
                     status=403)
    lines = evidence.row_lines(assessment)
    form = UploadForm(request.POST, rows=lines)
    refusal = getattr(request, "evidence_refusal", None)
    if refusal:
        return _page(request, assessment, form=form, errors=[refusal], status=400, lines=lines)
    if not form.is_valid():
        return _page(request, assessment, form=form, status=400, lines=lines)
    uploads = request.FILES.getlist("files")
    try:
        created = evidence.store(
            assessment=assessment, user=request.user, uploads=uploads, kind=form.cleaned_data["kind"],
            title=form.cleaned_data["title"].strip(), note=form.cleaned_data["note"].strip(),
            indicator_key=form.cleaned_data["indicator"] or None,
        )
    except evidence.EvidenceRefused as exc:
        return _page(request, assessment, form=form, errors=[str(exc)], status=400, lines=lines)
    finally:
        for upload in uploads:
            upload.close()
    messages.success(request, f"已上传 {len(created)} 个文件。")
    return redirect("assessments:evidence", pk=assessment.pk)


@require_POST
def evidence_remove(request, pk, eid):
    assessment = permissions.get_officer_assessment(request.user, pk)
    item = Evidence.objects.filter(assessment=assessment, pk=eid, removed_at__isnull=True).first()
    if item is None:
        raise Http404
    try:
        evidence.remove(item, request.user)
    except evidence.EvidenceRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"已移除“{item.title}”。" + ("已提交过的版本中仍保留该文件供审核。" if item.submitted else ""))
    return redirect("assessments:evidence", pk=pk)


def serve(item, *, public: bool = False):
    """The file of an evidence item, streamed, with safe headers."""
    try:
        stream = storage.open_stream(item.file.name)
    except FileNotFoundError:
        raise Http404 from None
    inline = item.inline
    response = FileResponse(stream, content_type=item.content_type, as_attachment=not inline,
                            filename=item.original_name)
    response["Content-Length"] = str(stream.size)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store, private" if not public else "no-cache, public"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    # An image is shown in a sandbox: no script, no plugin, nothing loaded. A PDF keeps the
    # browser's own viewer (which a sandbox would block); its scripts were refused on upload.
    if item.content_type.startswith("image/"):
        response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
    else:
        response["Content-Security-Policy"] = "default-src 'none'; object-src 'self'; frame-ancestors 'self'"
    return response


@require_safe
def evidence_file(request, pk, eid):
    """An officer downloads a file of the unit's assessment (the draft's or a submitted one)."""
    assessment = permissions.get_officer_assessment(request.user, pk)
    item = Evidence.objects.filter(assessment=assessment, pk=eid).first()
    if item is None or (item.removed_at is not None and not item.submitted):
        raise Http404
    return serve(item)


@require_safe
def review_evidence_file(request, pk, eid):
    """A reviewer opens a file a submission included (drafts are never shown); each time logged."""
    if not permissions.is_reviewer(request.user):
        raise PermissionDenied
    assessment = permissions.get_reviewer_assessment(request.user, pk)
    item = evidence.reviewer_may_open(assessment, eid)
    if item is None:
        raise Http404
    audit.record("evidence.download", unit=assessment.unit_id, obj=assessment,
                 details={"evidence": item.pk, "title": item.title, "filename": item.original_name})
    return serve(item)


@require_POST
def review_evidence_public(request, pk, eid):
    """A reviewer marks a submitted file public (shown with the published report) or not; never
    for a 涉密 project."""
    if not permissions.is_reviewer(request.user):
        raise PermissionDenied
    assessment = permissions.get_reviewer_assessment(request.user, pk)
    if not permissions.can_review(request.user, assessment):
        raise PermissionDenied
    item = evidence.reviewer_may_open(assessment, eid)
    if item is None:
        raise Http404
    wanted = params.read(request.POST, {"public": params.Choice(["1", "0"])}).public == "1"
    if wanted and assessment.confidential:
        messages.error(request, "涉密项目的佐证材料不能公开。")
        return redirect("assessments:review", pk=pk)
    from django.db import transaction

    from .. import exporting

    with transaction.atomic():
        Evidence.objects.filter(pk=item.pk).update(public=wanted)
        audit.record("evidence.public", unit=assessment.unit_id, obj=assessment,
                     details={"evidence": item.pk, "title": item.title, "public": wanted})
        if assessment.state == Assessment.State.PUBLISHED:
            exporting.bump_public_cache()
    messages.success(request, f"“{item.title}”已{'设为公开' if wanted else '取消公开'}。")
    return redirect("assessments:review", pk=pk)


# The evidence list of the last submission (not the whole snapshot), and the public files among
# them, by statements compiled once (issue 17).
_SUBMITTED_EVIDENCE = Statement(lambda pk: Snapshot.objects.filter(assessment_id=pk).order_by("-number")
                                .values_list("data__evidence", flat=True)[:1], int)
_PUBLIC_FILES = Statement(lambda pk, ids: Evidence.objects.filter(assessment_id=pk, pk__in=ids, public=True, submitted=True),
                          int, Ids)


def public_items(assessment) -> list:
    """The files of a published report a reviewer made public (never 涉密): of the last submission."""
    if assessment.confidential:
        return []
    listed = next(iter(_SUBMITTED_EVIDENCE.all(assessment.pk)), None)
    ids = [e["id"] for e in evidence.of_snapshot({"evidence": listed})]
    by_id = {e.pk: e for e in _PUBLIC_FILES.all(assessment.pk, ids)} if ids else {}
    return [by_id[i] for i in ids if i in by_id]
