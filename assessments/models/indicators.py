import uuid

from django.db import models
from django.db.models import Q

from .. import scoring
from .assessments import Assessment

SCORE = {"max_digits": 6, "decimal_places": 2, "null": True, "blank": True}


class Indicator(models.Model):
    """A 三级 performance indicator row: target vs actual, weight, score, reason for deviation."""

    LEVEL1_CHOICES = [(name, name) for name in scoring.TAXONOMY]
    OUTCOME_CHOICES = list(scoring.OUTCOME_LABELS.items())

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="indicators")
    # Stable identity of the row across edits and snapshots (rows are matched by it, not position).
    key = models.UUIDField(default=uuid.uuid4, editable=False)
    # Identity across years: a row carried over into next year's assessment keeps its lineage,
    # so targets and actuals can be followed from year to year (see docs/adr/0006).
    lineage = models.UUIDField("指标谱系", default=uuid.uuid4, editable=False, db_index=True)
    position = models.PositiveIntegerField("序号", default=0)
    level1 = models.CharField("一级指标", max_length=20, choices=LEVEL1_CHOICES)
    level2 = models.CharField("二级指标", max_length=30)
    name = models.CharField("三级指标", max_length=300, blank=True)
    target = models.CharField("指标值", max_length=1000, blank=True)
    actual = models.CharField("实际完成值", max_length=2000, blank=True)
    weight = models.DecimalField("分值", **SCORE)
    outcome = models.CharField("完成情况", max_length=20, choices=OUTCOME_CHOICES, blank=True)
    score = models.DecimalField("得分（定性）", **SCORE)
    reason = models.TextField("偏差原因分析及改进措施", blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "绩效指标"
        ordering = ["assessment", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "key"], name="indicator_key_unique"),
            models.CheckConstraint(condition=Q(weight__gte=0) | Q(weight__isnull=True), name="indicator_weight_non_negative"),
            models.CheckConstraint(condition=Q(score__gte=0) | Q(score__isnull=True), name="indicator_score_non_negative"),
        ]

    def __str__(self):
        return self.name or f"{self.level1}/{self.level2}"

    def to_input(self) -> scoring.IndicatorInput:
        return scoring.IndicatorInput(
            level1=self.level1,
            level2=self.level2,
            name=self.name,
            target=self.target,
            actual=self.actual,
            weight=self.weight,
            outcome=self.outcome or None,
            score=self.score,
            reason=self.reason,
        )
