import uuid

from django.db import models
from django.db.models import Q

from .. import scoring
from .assessments import SCORE, Assessment


class Indicator(models.Model):
    """A 三级 performance indicator row: target vs actual, weight, score, reason for deviation."""

    OUTCOME_CHOICES = list(scoring.OUTCOME_LABELS.items())

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="indicators")
    # Stable identity of the row across edits and snapshots (rows are matched by it, not position).
    key = models.UUIDField(default=uuid.uuid4, editable=False)
    # Identity across years: a row carried over into next year's assessment keeps its lineage,
    # so targets and actuals can be followed from year to year (see docs/adr/0006).
    lineage = models.UUIDField("指标谱系", default=uuid.uuid4, editable=False, db_index=True)
    position = models.PositiveIntegerField("序号", default=0)
    # 一级 from the assessment's 表样; 二级 as the unit writes it (the 表样 only suggests).
    level1 = models.CharField("一级指标", max_length=30)
    level2 = models.CharField("二级指标", max_length=50, blank=True)
    name = models.CharField("三级指标", max_length=300, blank=True)
    operator = models.CharField("指标性质", max_length=10, blank=True)  # where the 表样 prints it apart
    target = models.CharField("指标值", max_length=1000, blank=True)
    unit = models.CharField("度量单位", max_length=30, blank=True)  # where the 表样 prints it apart
    actual = models.CharField("实际完成值", max_length=2000, blank=True)
    weight = models.DecimalField("分值", **SCORE)
    outcome = models.CharField("完成情况", max_length=20, choices=OUTCOME_CHOICES, blank=True)
    # The unit's 得分: the record. None: the rule-computed score stands (see scoring.py).
    score = models.DecimalField("得分", **SCORE)
    reason = models.TextField("偏差原因分析及改进措施", blank=True)
    extra = models.JSONField("其他栏目", default=dict, blank=True)
    # The 指标值 as approved (批复的绩效目标, issue 14), one text ("≥10次"); empty: not from approved
    # targets. A row with it is locked: 一级/二级/三级, 指标值 and 分值 change only by a 目标调整.
    approved_target = models.CharField("批复指标值", max_length=1000, blank=True)

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
            target=scoring.compose_value(self.operator, self.target, self.unit),
            actual=scoring.compose_value("", self.actual, self.unit),
            weight=self.weight,
            outcome=self.outcome or None,
            score=self.score,
            reason=self.reason,
        )
