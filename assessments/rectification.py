"""整改 (issue 15 §2): a reviewer opens items on an assessment, the unit answers, the reviewer
accepts or reopens. Items follow their indicator rows' lineage (ADR 0006) into the unit's later
assessments, where an unanswered item from an earlier year blocks submission (`blocking`, read by
`workflow.perform`).

An answer is text and, optionally, files: checked by the evidence issue's `evidence.inspect`
(content, never the name) and stored through `portal.storage`, all of an answer or none.
"""

from datetime import date
from types import MappingProxyType

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q

from . import audit, evidence, permissions
from .childrows import Statement
from .models import Assessment, Indicator, Rectification, RectificationEvent, RectificationFile, Round

S = Rectification.Status


class RectificationRefused(Exception):
    """The action is not allowed; the message says why, in Chinese."""


def open_item(user, assessment: Assessment, *, problem: str, indicator_keys, action: str, due_date: date) -> Rectification:
    """A reviewer of the assessment opens an item on some of its indicator rows (or on the whole)."""
    if not permissions.can_review(user, assessment):
        raise RectificationRefused("您无权对该自评下达整改事项。")
    if assessment.state == Assessment.State.DRAFT:
        raise RectificationRefused("草稿尚未提交，不能下达整改事项。")
    problem, action = problem.strip(), action.strip()
    if not problem or not action:
        raise RectificationRefused("存在的问题和整改要求均须填写。")
    keys = {str(k) for k in indicator_keys}
    rows = [r for r in Indicator.objects.filter(assessment=assessment).order_by("position", "id") if str(r.key) in keys]
    if len(rows) != len(keys):
        raise RectificationRefused("所选指标行已不存在，请刷新页面后重新选择。")
    with transaction.atomic():
        item = Rectification.objects.create(
            assessment=assessment, problem=problem, action=action, due_date=due_date, created_by=user,
            indicators=[{"lineage": str(r.lineage), "name": r.name} for r in rows],
        )
        audit.record("rectification.open", actor=user, unit=assessment.unit_id, obj=assessment,
                     details={"item": item.pk, "problem": problem[:500], "indicators": [r.name for r in rows],
                              "due_date": due_date.isoformat()})
    return item


# carried()'s two queries, by statements compiled once (childrows.Statement).
_LINEAGES = Statement(lambda pk: Indicator.objects.filter(assessment_id=pk).values_list("lineage", flat=True), int)
_CANDIDATES = Statement(
    lambda pk, unit, year: Rectification.objects.filter(
        Q(assessment_id=pk) | Q(assessment__unit_id=unit, assessment__round__year__lt=year)
    ).exclude(status=S.CLOSED).select_related("assessment__round").order_by("assessment__round__year", "id"),
    int, int, int)


def carried(assessment: Assessment, *, lineages=None) -> list[Rectification]:
    """Items not yet closed that concern this assessment: its own, and those of the unit's earlier
    rounds on an indicator row of the same lineage (or, for an item on the whole assessment, on an
    assessment of the same kind and project name). Two queries; one where the caller has read the
    lineages of the assessment's stored rows (`lineages`, e.g. of a read model built from them)."""
    if lineages is None:
        lineages = _LINEAGES.all(assessment.pk)
    lineages = {str(x) for x in lineages}
    candidates = _CANDIDATES.all(assessment.pk, assessment.unit_id, assessment.round.year)
    found = []
    for item in candidates:
        if item.assessment_id == assessment.pk:
            found.append(item)
        elif item.indicators:
            if any(i.get("lineage") in lineages for i in item.indicators):
                found.append(item)
        elif (item.assessment.kind, item.assessment.project_name) == (assessment.kind, assessment.project_name):
            found.append(item)
    return found


def blocking(assessment: Assessment) -> list[Rectification]:
    """Unanswered items of earlier years: the officer answers them before submitting."""
    return [i for i in carried(assessment) if i.assessment_id != assessment.pk and i.status == S.OPEN]


def blocking_message(items) -> str:
    names = "；".join(f"{i.assessment.round.year}年“{i.indicator_names}”：{i.problem[:40]}" for i in items)
    return f"提交未成功：有 {len(items)} 项上年整改事项尚未答复（{names}），请先在“整改事项”中逐项答复。"


def answer(user, item: Rectification, text: str, *, on_assessment: Assessment, uploads=()) -> RectificationEvent:
    """The unit's answer (an officer of the item's unit), from the item's assessment or a later one:
    text, and files checked as 佐证材料 are (a refused file refuses the whole answer, nothing kept)."""
    if not permissions.is_officer_of(user, item.assessment):
        raise RectificationRefused("您无权答复该整改事项。")
    text = text.strip()
    if not text:
        raise RectificationRefused("整改情况：请填写整改情况。")
    uploads = list(uploads)
    if len(uploads) > settings.EVIDENCE_MAX_FILES_PER_UPLOAD:
        raise RectificationRefused(evidence.TOO_MANY_AT_ONCE.format(limit=settings.EVIDENCE_MAX_FILES_PER_UPLOAD))
    if sum(u.size for u in uploads) > evidence.max_total_bytes():
        raise RectificationRefused(FILES_TOO_LARGE.format(limit=settings.EVIDENCE_MAX_TOTAL_MB))
    try:
        kinds = evidence.inspect_all(uploads)
    except evidence.EvidenceRefused as exc:
        raise RectificationRefused(f"证明材料：{exc}") from None
    stored = []
    try:
        with transaction.atomic():
            if Rectification.objects.filter(pk=item.pk, status=S.OPEN).update(status=S.ANSWERED) != 1:
                raise RectificationRefused("该整改事项当前不是“未完成”状态，不能答复（可能已被他人处理），请刷新页面。")
            event = RectificationEvent.objects.create(item=item, kind=RectificationEvent.Kind.ANSWER, text=text,
                                                      actor=user, on_assessment=on_assessment)
            files = []
            for upload, file_type in zip(uploads, kinds, strict=True):
                name = evidence.put_upload(f"rectification/{item.pk}", upload, file_type)
                stored.append(name)
                files.append(RectificationFile.objects.create(
                    event=event, file=name, original_name=evidence.display_name(upload.name, file_type)[:120],
                    content_type=file_type.content_type, size=upload.size, sha256=upload.sha256, uploaded_by=user,
                ))
            audit.record("rectification.answer", actor=user, unit=item.assessment.unit_id, obj=item.assessment,
                         details={"item": item.pk, "on": on_assessment.pk, "text": text[:500],
                                  "files": [{"file": f.pk, "filename": f.original_name, "size": f.size,
                                             "sha256": f.sha256} for f in files]})
    except BaseException:
        evidence.discard(stored)
        raise
    item.status = S.ANSWERED
    return event


FILES_TOO_LARGE = "证明材料：一次答复的文件合计不能超过 {limit} MB，未提交。请压缩或拆分后分次说明。"


def file_for_unit(unit_id: int, file_id: int) -> RectificationFile | None:
    """A file of an answer on one of the unit's items (who may see the unit's 整改 sees it)."""
    return (RectificationFile.objects.filter(pk=file_id, event__item__assessment__unit=unit_id)
            .select_related("event__item").first())


def decide(user, item: Rectification, *, accept: bool, comment: str = "") -> None:
    """A reviewer of the item's unit accepts the answer (closed) or reopens it (a comment is required)."""
    if not permissions.can_review(user, item.assessment):
        raise RectificationRefused("您无权审核该整改事项。")
    comment = comment.strip()
    if not accept and not comment:
        raise RectificationRefused("退回重新整改须填写意见。")
    new = S.CLOSED if accept else S.OPEN
    with transaction.atomic():
        if Rectification.objects.filter(pk=item.pk, status=S.ANSWERED).update(status=new) != 1:
            raise RectificationRefused("该整改事项当前不是“已答复，待审核”状态，不能审核，请刷新页面。")
        kind = RectificationEvent.Kind.ACCEPT if accept else RectificationEvent.Kind.REOPEN
        RectificationEvent.objects.create(item=item, kind=kind, text=comment, actor=user)
        audit.record(f"rectification.{kind}", actor=user, unit=item.assessment.unit_id, obj=item.assessment,
                     details={"item": item.pk, "comment": comment[:500]})
    item.status = new


# What `awaiting` gives when there is nothing (read-only: one object shared by every request).
NOTHING_AWAITING = MappingProxyType({"open": 0, "answered_count": 0, "answered": ()})


def reviewed_items(user, round_):
    """The items on the round's submissions the user reviews."""
    return Rectification.objects.filter(permissions.reviewer_assessment_filter(user, "assessment__"), assessment__round=round_)


def in_progress(units, round_):
    """What `awaiting` counts: the items still open or answered on the round's submissions of the
    reviewer's `units(field)` (a `permissions.ForReviewer` condition). `round_` may be an
    `OuterRef` (the dashboard asks whether a round has any, in its query of the rounds)."""
    return Rectification.objects.filter(permissions.reviewer_assessment_condition(units, "assessment__"),
                                        assessment__round=round_, status__in=[S.OPEN, S.ANSWERED])


def awaiting(user, round_, limit: int = 20) -> dict:
    """For the reviewer's dashboard: counts of open and answered items on the round's submissions
    the user reviews (one query), and the answered ones waiting for a decision (one more, only
    when there are some; at most `limit`)."""
    items = reviewed_items(user, round_)
    counts = items.order_by().aggregate(
        open=Count("id", filter=Q(status=S.OPEN)), answered_count=Count("id", filter=Q(status=S.ANSWERED))
    )
    answered = []
    if counts["answered_count"]:
        answered = list(items.filter(status=S.ANSWERED).select_related("assessment__unit", "assessment__round")
                        .order_by("due_date", "id")[:limit])
    return {**counts, "answered": answered}


def public_summary() -> list[dict]:
    """Per round: how many items were opened and how many are closed (no details)."""
    counts = (
        Rectification.objects.values("assessment__round")
        .annotate(total=Count("id"), closed=Count("id", filter=Q(status=S.CLOSED)))
        .order_by()
    )
    by_round = {c["assessment__round"]: c for c in counts}
    return [
        {"round": r, "total": by_round[r.pk]["total"], "closed": by_round[r.pk]["closed"],
         "open": by_round[r.pk]["total"] - by_round[r.pk]["closed"]}
        for r in Round.objects.filter(pk__in=by_round).order_by("-year")
    ]
