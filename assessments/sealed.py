"""盖章版 (issue 13, part 3): after approval the unit uploads the sealed PDF of its 自评表 and
自评报告 ("上传带公章的PDF版自评结果汇总分析报告和自评汇总表"); a reviewer of the unit confirms that it
matches the approved version, or says why not (the unit then uploads another).

The upload goes through the same streamed handler and content checks as 佐证材料
(`assessments.evidence`), and only a PDF is accepted. A new upload replaces the current copy
(the old one stays stored and listed for the record). Whether a confirmed copy is published with
the report is the bureau's rule, `settings.SEALED_COPY_PUBLICATION`: "unit" (the unit's choice,
changeable at any time), "always" or "never"; a 涉密 report's never is.
"""

import uuid

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from portal import storage

from . import audit, evidence
from .childrows import Statement
from .models import Assessment, SealedCopy

AFTER_APPROVAL = (Assessment.State.APPROVED, Assessment.State.PUBLISHED)

NOT_YET = "该自评当前状态为“{state}”：审核通过后才能上传盖章版。"
ONE_FILE = "请选择一个 PDF 文件（盖章版只接受一个文件）。"
NOT_PDF = "“{name}”是{what}：盖章版须为盖章后扫描或导出的 PDF 文件。"
COMMENT_REQUIRED = "请写明盖章版与审核通过的版本哪里不符。"
ALREADY_DECIDED = "该盖章版已被替换或已确认，请刷新页面。"


class SealedRefused(Exception):
    pass


def rule() -> str:
    return settings.SEALED_COPY_PUBLICATION


_CURRENT = Statement(lambda pk: SealedCopy.objects.filter(assessment_id=pk, replaced_at__isnull=True)[:1], int)


def current(assessment) -> SealedCopy | None:
    """The 盖章版 in force (not replaced), if any (a statement compiled once: the public page reads it)."""
    return next(iter(_CURRENT.all(assessment.pk)), None)


def history(assessment) -> list[SealedCopy]:
    return list(SealedCopy.objects.filter(assessment=assessment).select_related("uploaded_by", "confirmed_by"))


def may_upload(assessment) -> bool:
    return assessment.state in AFTER_APPROVAL


def is_public(copy: SealedCopy | None, assessment) -> bool:
    """Shown with the published report: confirmed, never 涉密, and per the bureau's rule."""
    if copy is None or copy.confirmed_at is None or assessment.confidential:
        return False
    if assessment.state != Assessment.State.PUBLISHED:
        return False
    return {"always": True, "never": False}.get(rule(), copy.publish_requested)


def status_label(copy: SealedCopy | None) -> str:
    if copy is None:
        return "未上传"
    if copy.confirmed_at is not None:
        return "审核人已确认与审核通过的版本一致"
    if copy.rejected_comment:
        return "审核人认为不一致，请重新上传"
    return "待审核人确认"


def store(*, assessment, user, uploads, publish_requested: bool) -> SealedCopy:
    """Check the one upload (same checks as 佐证材料, PDF only) and make it the current copy."""
    if len(uploads) != 1:
        raise SealedRefused(ONE_FILE)
    upload = uploads[0]
    try:
        file_type = evidence.inspect(upload)
    except evidence.EvidenceRefused as exc:
        raise SealedRefused(str(exc)) from None
    if file_type is not evidence.PDF:
        raise SealedRefused(NOT_PDF.format(name=evidence.clean_name(upload.name), what=file_type.label))
    name = f"sealed/{assessment.pk}/{uuid.uuid4().hex}.pdf"
    stored = False
    try:
        with transaction.atomic():
            locked = Assessment.objects.select_for_update().get(pk=assessment.pk)
            if not may_upload(locked):
                raise SealedRefused(NOT_YET.format(state=locked.get_state_display()))
            upload.file.seek(0)
            storage.put(name, File(upload.file))
            stored = True
            now = timezone.now()
            replaced = SealedCopy.objects.filter(assessment=locked, replaced_at__isnull=True).update(replaced_at=now)
            copy = SealedCopy.objects.create(
                assessment=locked, file=name, original_name=evidence.display_name(upload.name, file_type)[:120],
                size=upload.size, sha256=upload.sha256, uploaded_by=user,
                publish_requested=publish_requested if rule() == "unit" else False,
            )
            audit.record("sealed.upload", unit=locked.unit_id, obj=locked, details={
                "sealed": copy.pk, "filename": copy.original_name, "size": copy.size, "replaced": bool(replaced),
                "public": copy.publish_requested})
            _public_page_changed(locked)
    except BaseException:
        if stored:
            default_storage.delete(name)
        raise
    return copy


def set_publish(copy: SealedCopy, user, wanted: bool) -> None:
    """The unit's choice (rule "unit" only)."""
    if rule() != "unit" or copy.publish_requested == wanted:
        return
    with transaction.atomic():
        SealedCopy.objects.filter(pk=copy.pk).update(publish_requested=wanted)
        copy.publish_requested = wanted
        audit.record("sealed.publish_choice", unit=copy.assessment.unit_id, obj=copy.assessment,
                     details={"sealed": copy.pk, "public": wanted})
        _public_page_changed(copy.assessment)


def decide(copy: SealedCopy, user, *, matches: bool, comment: str = "") -> None:
    """The reviewer's word on the current copy: it matches (confirmed) or not (with the reason)."""
    comment = comment.strip()
    if not matches and not comment:
        raise SealedRefused(COMMENT_REQUIRED)
    with transaction.atomic():
        locked = SealedCopy.objects.select_for_update().get(pk=copy.pk)
        if locked.replaced_at is not None or locked.confirmed_at is not None:
            raise SealedRefused(ALREADY_DECIDED)
        if matches:
            locked.confirmed_at, locked.confirmed_by, locked.rejected_comment = timezone.now(), user, ""
        else:
            locked.rejected_comment = comment[:500]
        locked.save(update_fields=["confirmed_at", "confirmed_by", "rejected_comment"])
        audit.record("sealed.confirm" if matches else "sealed.reject", unit=copy.assessment.unit_id,
                     obj=copy.assessment, details={"sealed": copy.pk, "filename": copy.original_name,
                                                   **({} if matches else {"comment": comment[:500]})})
        _public_page_changed(copy.assessment)


def _public_page_changed(assessment) -> None:
    """The published page links the copy: cached public pages are rebuilt."""
    if assessment.state == Assessment.State.PUBLISHED:
        from . import exporting

        exporting.bump_public_cache()
