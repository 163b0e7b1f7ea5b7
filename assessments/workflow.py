"""The only code that changes an assessment's state.

Every transition checks who may do it, compares-and-sets the state (so two clicks, or two
people, never both win), records who/when/comment, and on submission stores an immutable
snapshot of the content.
"""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone

from . import audit, flags, history, permissions, readmodel, reviewing
from .models import Assessment, Review, Snapshot, Transition
from .models.workflow import ACTION_CHOICES

S = Assessment.State

# Sent inside the transition's transaction once it is recorded: assessment, transition, user.
transitioned = Signal()


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    sources: tuple[str, ...]
    target: str
    comment_required: bool = False


LABELS = dict(ACTION_CHOICES)
ACTIONS = {
    a.name: a
    for a in (
        Action("submit", LABELS["submit"], (S.DRAFT, S.RETURNED), S.SUBMITTED),
        Action("withdraw", LABELS["withdraw"], (S.SUBMITTED,), S.DRAFT),
        Action("start_review", LABELS["start_review"], (S.SUBMITTED,), S.IN_REVIEW),
        Action("return", LABELS["return"], (S.IN_REVIEW,), S.RETURNED, comment_required=True),
        Action("approve", LABELS["approve"], (S.IN_REVIEW,), S.APPROVED),
        Action("publish", LABELS["publish"], (S.APPROVED,), S.PUBLISHED),
        Action("unpublish", LABELS["unpublish"], (S.PUBLISHED,), S.APPROVED, comment_required=True),
    )
}
OFFICER_ACTIONS = {"submit", "withdraw"}
REVIEWER_ACTIONS = {"start_review", "return", "approve", "unpublish"}
SYSTEM_ACTIONS = {"publish"}  # done by the export job once the files exist, never by a person


WITHDRAW_IN_REVIEW = "财政局已开始审核，不能再撤回。如需修改，请联系审核人退回修改。"


class TransitionRefused(Exception):
    """The action is not allowed now; the message says why, in Chinese."""


class SubmissionInvalid(TransitionRefused):
    """Submit found problems; `problems` lists every one with its row."""

    def __init__(self, problems):
        self.problems = problems
        super().__init__(f"提交未成功：共有 {len(problems)} 处问题需要修改。")


def _may(user, assessment: Assessment, name: str) -> bool:
    if name in SYSTEM_ACTIONS:
        return user is None
    if user is None:
        return False
    if name in OFFICER_ACTIONS:
        return permissions.is_officer_of(user, assessment)
    return permissions.can_review(user, assessment)


def allowed(user, assessment: Assessment, name: str) -> bool:
    action = ACTIONS[name]
    return assessment.state in action.sources and _may(user, assessment, name)


def _changed_message(current: str | None) -> str:
    label = S(current).label if current else "已删除"
    return f"该自评的状态刚刚已被更改（现为“{label}”），请刷新页面后再操作。"


def publish(assessment: Assessment) -> Transition:
    """Make an approved assessment public; called by the export job after its files are stored."""
    return perform(None, assessment, "publish")


def perform(user, assessment: Assessment, name: str, comment: str = "", *, view=None) -> Transition:
    """Carry out action `name` on `assessment` for `user`, or raise TransitionRefused.

    `view`: for a submit right after a save, the read model the save returned (so the content is
    scored once); the compare-and-set on its version refuses it if anything was saved since."""
    action = ACTIONS.get(name)
    if action is None:
        raise TransitionRefused("未知的操作。")
    comment = (comment or "").strip()
    if not _may(user, assessment, name):
        raise TransitionRefused(f"您无权对该自评执行“{action.label}”。")
    if name == "withdraw" and assessment.state == S.IN_REVIEW:
        raise TransitionRefused(WITHDRAW_IN_REVIEW)
    if assessment.state not in action.sources:
        raise TransitionRefused(
            f"当前状态为“{assessment.get_state_display()}”，不能执行“{action.label}”。"
        )
    if action.comment_required and not comment:
        raise TransitionRefused(f"“{action.label}”须填写意见。")

    with transaction.atomic():
        view, review, totals = (view if name == "submit" else None), None, None
        changes = {"state": action.target, "version": F("version") + 1}
        if name == "submit":
            view = view if view is not None else readmodel.load(assessment.pk)
            if view.result.problems:
                raise SubmissionInvalid(view.result.problems)
            changes["submitted_at"] = timezone.now()
            # Risk flags of exactly what is submitted (the year-over-year ones may have changed
            # since the last save, when an earlier year was handed in); kept in the snapshot too,
            # so reviewers of a returned assessment see the submitted version's flags.
            submitted_flags = flags.compute(view, history.history(view))
            changes["risk_flags"] = flags.encode(submitted_flags)
            changes["risk_flag_count"] = len(submitted_flags)
        elif name in ("return", "approve"):
            # The row lock `reviewing.save` takes too: review rows being saved commit before
            # the decision reads them, or wait for it and are refused (issue 12, finding 6).
            locked = Assessment.objects.select_for_update().filter(pk=assessment.pk).values_list("state", flat=True).first()
            if locked != assessment.state:
                raise TransitionRefused(_changed_message(locked))
            review = reviewing.pending(assessment)
            if review is None:
                current = Assessment.objects.filter(pk=assessment.pk).values_list("state", flat=True).first()
                if current != assessment.state:
                    raise TransitionRefused(_changed_message(current))
                raise TransitionRefused("没有进行中的复核，请先开始审核。")
            totals = reviewing.build(readmodel.load(assessment.pk), review).totals
            if totals.problems:
                raise TransitionRefused(f"复核中还有 {len(totals.problems)} 处问题：{totals.problems[0].message}")
            if name == "approve":
                changes["review_total"] = totals.total
                changes["review_grade"] = totals.grade or ""
        elif name == "publish" and assessment.confidential:
            raise TransitionRefused("涉密项目不公开。")
        # Compare-and-set: only the first of two concurrent requests finds the old state.
        expected = {"pk": assessment.pk, "state": assessment.state}
        if view is not None:
            # The snapshot must be exactly what gets submitted: refuse if a save slipped in.
            expected["version"] = view.assessment.version
        updated = Assessment.objects.filter(**expected).update(**changes)
        if updated != 1:
            current = Assessment.objects.filter(pk=assessment.pk).values_list("state", flat=True).first()
            raise TransitionRefused(_changed_message(current))
        transition = Transition.objects.create(
            assessment=assessment,
            action=name,
            from_state=assessment.state,
            to_state=action.target,
            actor=user,
            comment=comment,
        )
        audit.record(
            f"workflow.{name}", actor=user, system=user is None, unit=assessment.unit_id, obj=assessment,
            details={"transition": transition.pk, "from": assessment.state, "to": action.target, "comment": comment[:500]},
        )
        if view is not None:
            number = Snapshot.objects.filter(assessment=assessment).count() + 1
            data = view.to_dict()
            data["risk_flags"] = submitted_flags
            Snapshot.objects.create(assessment=assessment, number=number, transition=transition, data=data)
        if name == "start_review":
            Review.objects.create(
                assessment=assessment,
                snapshot=Snapshot.objects.filter(assessment=assessment).latest("number"),
                number=Review.objects.filter(assessment=assessment).count() + 1,
                reviewer=user,
            )
        if review is not None:
            review.decision = Review.Decision.RETURNED if name == "return" else Review.Decision.APPROVED
            review.comment = comment
            review.decided_at = timezone.now()
            review.review_total, review.review_grade = totals.total, totals.grade or ""
            review.reviewer = user
            review.save()
        # The export's outbox row, the public cache, the e-mail: receivers in tasks.py, inside
        # this transaction (what must commit with the change), sending after commit.
        transitioned.send(sender=Action, assessment=assessment, transition=transition, user=user)
    assessment.refresh_from_db(fields=["state", "version", "submitted_at", "review_total", "review_grade"])
    return transition
