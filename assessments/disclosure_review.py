"""公开审核 (issue 16): a round can require the bureau to check the public rendering of an approved
report before it is published. Not in `register`: deciding queues the export (`tasks`), and
`tasks` imports `register` for the warning's beat task."""

from django.db import transaction

from . import audit, permissions, publishing, tasks
from .models import Assessment, ExportJob
from .register import awaiting_review


class ReviewRefused(Exception):
    """The 公开审核 decision is not possible now; the message says why, in Chinese."""


def may_review_disclosure(user, assessment: Assessment) -> bool:
    """公开审核 is the bureau's: a bureau-wide reviewer (审核人（全部单位）) of the report."""
    return permissions.reviews_all_units(user) and permissions.can_review(user, assessment)


def review_publish(user, assessment: Assessment) -> ExportJob:
    """公开审核 passed: the export is queued and publishes the report when its files exist."""
    if not may_review_disclosure(user, assessment):
        raise ReviewRefused("公开审核须由财政局（全部单位）审核人进行。")
    with transaction.atomic():
        Assessment.objects.select_for_update().filter(pk=assessment.pk).first()
        if not awaiting_review(assessment):
            raise ReviewRefused("该报告当前不在公开审核中。")
        job = tasks.queue_export(assessment, user)
        audit.record("disclosure.review_publish", actor=user, unit=assessment.unit_id, obj=assessment, details={"job": job.pk})
    return job


def review_withhold(user, assessment: Assessment, reason: str, disclosure: str = Assessment.Disclosure.WITHHELD) -> None:
    """公开审核 decided not to publish (不予公开 or 依申请公开), with the public reason."""
    if not may_review_disclosure(user, assessment):
        raise ReviewRefused("公开审核须由财政局（全部单位）审核人进行。")
    if not reason.strip():
        raise ReviewRefused("不予公开须填写理由（将列入公开登记簿）。")
    if not awaiting_review(assessment):
        raise ReviewRefused("该报告当前不在公开审核中。")
    publishing.set_disclosure(user, assessment, publisher=assessment.publisher, document_number=assessment.document_number,
                              disclosure=disclosure, disclosure_reason=reason)
    audit.record("disclosure.review_withhold", actor=user, unit=assessment.unit_id, obj=assessment,
                 details={"disclosure": disclosure, "reason": reason[:500]})
