from django.conf import settings
from django.db import models
from django.db.models import Q

from .. import scoring
from .assessments import Assessment
from .units import Unit
from .workflow import Snapshot

SCORE = {"max_digits": 6, "decimal_places": 2, "null": True, "blank": True}


class ReviewerAssignment(models.Model):
    """A finance-bureau reviewer is responsible for a unit's submissions."""

    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="审核人", on_delete=models.CASCADE, related_name="review_assignments"
    )
    unit = models.ForeignKey(Unit, verbose_name="预算单位", on_delete=models.CASCADE, related_name="reviewer_assignments")

    class Meta:
        verbose_name = verbose_name_plural = "审核分工"
        constraints = [models.UniqueConstraint(fields=["reviewer", "unit"], name="assignment_unique")]

    def __str__(self):
        return f"{self.reviewer} → {self.unit}"


class Review(models.Model):
    """One round of 复核 of one submission. Earlier rounds stay as they were decided."""

    class Decision(models.TextChoices):
        PENDING = "pending", "审核中"
        RETURNED = "returned", "退回修改"
        APPROVED = "approved", "审核通过"

    class Level(models.TextChoices):
        SUPERVISOR = "supervisor", "主管部门初审"
        BUREAU = "bureau", "财政局复核"

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="reviews")
    level = models.CharField("审核层级", max_length=12, choices=Level.choices, default=Level.BUREAU)
    snapshot = models.ForeignKey(Snapshot, verbose_name="所审提交", on_delete=models.RESTRICT, related_name="reviews")
    number = models.PositiveIntegerField("审核轮次")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="审核人", null=True, on_delete=models.SET_NULL, related_name="+")
    decision = models.CharField("结论", max_length=20, choices=Decision.choices, default=Decision.PENDING)
    comment = models.TextField("审核意见", blank=True)
    review_total = models.DecimalField("复核总分", **SCORE)
    review_grade = models.CharField("复核等级", max_length=4, blank=True)
    started_at = models.DateTimeField("开始时间", auto_now_add=True)
    updated_at = models.DateTimeField("保存时间", auto_now=True)
    decided_at = models.DateTimeField("结论时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "复核"
        ordering = ["assessment", "number"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "number"], name="review_number_unique"),
            models.UniqueConstraint(
                fields=["assessment"], condition=Q(decision="pending"), name="one_pending_review"
            ),
        ]

    def __str__(self):
        return f"{self.assessment_id} 第{self.number}轮复核"


class IndicatorReview(models.Model):
    """The reviewer's 复核完成值 / 复核得分 / note for one indicator, matched by its key."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="rows")
    indicator_key = models.UUIDField("指标标识")
    actual = models.CharField("复核完成值", max_length=2000, blank=True)
    outcome = models.CharField("复核完成情况", max_length=20, blank=True, choices=list(scoring.OUTCOME_LABELS.items()))
    score = models.DecimalField("复核得分", **SCORE)
    note = models.TextField("复核说明", blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "指标复核"
        constraints = [
            models.UniqueConstraint(fields=["review", "indicator_key"], name="indicator_review_unique"),
            models.CheckConstraint(condition=Q(score__gte=0) | Q(score__isnull=True), name="review_score_non_negative"),
        ]

    def __str__(self):
        return f"{self.review} · {self.indicator_key}"

    def to_input(self) -> scoring.ReviewInput:
        return scoring.ReviewInput(actual=self.actual, outcome=self.outcome or None, score=self.score, note=self.note)
