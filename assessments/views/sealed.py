"""盖章版 pages (issue 13): the unit's page (upload after approval, the publication choice), the
files for the unit's officers and reviewers, the reviewer's confirmation, the public download.

The upload is streamed through the 佐证材料 handler (installed before the CSRF check reads the
body, hence csrf_exempt around a csrf_protect view) and checked the same way; only a PDF passes.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST, require_safe

from .. import audit, evidence, pagecache, params, permissions, sealed
from ..models import SealedCopy
from .evidence import serve


def _page(request, assessment, errors=None, status=200, publish_requested=False):
    copy = sealed.current(assessment)
    return render(request, "assessments/sealed/page.html", {
        "a": assessment,
        "copy": copy,
        "status": sealed.status_label(copy),
        "history": [c for c in sealed.history(assessment) if copy is None or c.pk != copy.pk],
        "may_upload": sealed.may_upload(assessment) and permissions.is_officer_of(request.user, assessment),
        "rule": sealed.rule(),
        "public_now": sealed.is_public(copy, assessment),
        "errors": errors or [],
        "publish_requested": publish_requested,
        "max_file_mb": evidence.max_file_bytes() // evidence.MB,
    }, status=status)


@csrf_exempt
@pagecache.page
def sealed_page(request, pk):
    """The unit's 盖章版 page; a POST uploads (multipart) or sets the publication choice."""
    assessment = permissions.get_officer_assessment(request.user, pk)
    if request.method == "POST" and sealed.may_upload(assessment) and request.content_type == "multipart/form-data":
        request.upload_handlers = [evidence.EvidenceUploadHandler(request, remaining_bytes=evidence.max_file_bytes())]
        try:
            request.POST  # noqa: B018 - parse the body now, through the handler above
        except (TooManyFilesSent, TooManyFieldsSent, RequestDataTooBig):
            return _page(request, assessment, errors=[sealed.ONE_FILE], status=400)
    return _sealed_page(request, assessment)


@csrf_protect
def _sealed_page(request, assessment):
    if request.method != "POST":
        return _page(request, assessment)
    if not sealed.may_upload(assessment):
        return _page(request, assessment, errors=[sealed.NOT_YET.format(state=assessment.get_state_display())],
                     status=403)
    form = params.read(request.POST, {"action": params.Choice(["upload", "publish"]),
                                      "public": params.Choice(["1", "0"])})
    wanted = form.public == "1"
    if form.action == "publish":
        copy = sealed.current(assessment)
        if copy is None:
            raise Http404
        sealed.set_publish(copy, request.user, wanted)
        messages.success(request, "已选择公开盖章版。" if wanted else "已选择不公开盖章版。")
        return redirect("assessments:sealed", pk=assessment.pk)
    refusal = getattr(request, "evidence_refusal", None)
    if refusal:
        return _page(request, assessment, errors=[refusal], status=400, publish_requested=wanted)
    uploads = request.FILES.getlist("file")
    try:
        sealed.store(assessment=assessment, user=request.user, uploads=uploads, publish_requested=wanted)
    except sealed.SealedRefused as exc:
        return _page(request, assessment, errors=[str(exc)], status=400, publish_requested=wanted)
    finally:
        for upload in uploads:
            upload.close()
    messages.success(request, "已上传盖章版，等待审核人确认。")
    return redirect("assessments:sealed", pk=assessment.pk)


@require_safe
def sealed_file(request, pk, sid):
    """An officer of the unit downloads a sealed copy (current or replaced)."""
    assessment = permissions.get_officer_assessment(request.user, pk)
    copy = SealedCopy.objects.filter(assessment=assessment, pk=sid).first()
    if copy is None:
        raise Http404
    return serve(_as_file(copy))


@require_safe
def review_sealed_file(request, pk, sid):
    """A reviewer of the unit opens a sealed copy; each time logged."""
    if not permissions.is_reviewer(request.user):
        raise PermissionDenied
    assessment = permissions.get_reviewer_assessment(request.user, pk)
    copy = SealedCopy.objects.filter(assessment=assessment, pk=sid).first()
    if copy is None:
        raise Http404
    audit.record("sealed.download", unit=assessment.unit_id, obj=assessment,
                 details={"sealed": copy.pk, "filename": copy.original_name})
    return serve(_as_file(copy))


@require_POST
def review_sealed_decide(request, pk, sid):
    """The reviewer confirms that the current copy matches the approved version, or says why not."""
    if not permissions.is_reviewer(request.user):
        raise PermissionDenied
    assessment = permissions.get_reviewer_assessment(request.user, pk)
    if not permissions.can_review(request.user, assessment):
        raise PermissionDenied
    copy = SealedCopy.objects.filter(assessment=assessment, pk=sid).select_related("assessment").first()
    if copy is None:
        raise Http404
    form = params.read(request.POST, {"decision": params.Choice(["match", "mismatch"]), "comment": params.Text(500)})
    try:
        sealed.decide(copy, request.user, matches=form.decision == "match", comment=form.comment or "")
    except sealed.SealedRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "已确认盖章版与审核通过的版本一致。" if form.decision == "match"
                         else "已告知填报单位盖章版不一致，请其重新上传。")
    return redirect("assessments:review", pk=pk)


class _SealedFile:
    """A sealed copy as `serve` expects a file: always a checked PDF, shown inline."""

    content_type = "application/pdf"
    inline = True

    def __init__(self, copy):
        self.file, self.original_name = copy.file, copy.original_name


def _as_file(copy):
    return _SealedFile(copy)
