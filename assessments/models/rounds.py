from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from .. import scoring


class ScoringRuleSet(models.Model):
    """A named, editable set of scoring thresholds (provinces differ); defaults per SCORING.md.
    Weights belong to the table template (表样), not to the round."""

    name = models.CharField("规则名称", max_length=100, unique=True)
    over_achievement_ratio = models.DecimalField(
        "超额完成标记比例", max_digits=4, decimal_places=2, default=Decimal("1.30"),
        validators=[MinValueValidator(Decimal("1"))],
    )
    low_rate_threshold = models.DecimalField(
        "执行率偏低阈值", max_digits=4, decimal_places=2, default=Decimal("0.90"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
    )
    grade_excellent = models.DecimalField("“优”最低分", max_digits=5, decimal_places=2, default=Decimal("90"))
    grade_good = models.DecimalField("“良”最低分", max_digits=5, decimal_places=2, default=Decimal("80"))
    grade_fair = models.DecimalField("“中”最低分", max_digits=5, decimal_places=2, default=Decimal("60"))

    class Meta:
        verbose_name = verbose_name_plural = "评分规则"

    def __str__(self):
        return self.name

    def to_rules(self) -> scoring.RuleSet:
        return scoring.RuleSet(
            name=self.name,
            over_achievement_ratio=self.over_achievement_ratio,
            low_rate_threshold=self.low_rate_threshold,
            grade_thresholds=(("优", self.grade_excellent), ("良", self.grade_good), ("中", self.grade_fair)),
        )


class Round(models.Model):
    """An assessment round (评价批次), e.g. 2024年度绩效自评, with its deadline."""

    year = models.PositiveSmallIntegerField(
        "年度", unique=True, validators=[MinValueValidator(2000), MaxValueValidator(2100)]
    )
    title = models.CharField("名称", max_length=100)
    deadline = models.DateField("截止日期", null=True, blank=True)
    is_open = models.BooleanField("开放填报", default=True)
    supervisor_review = models.BooleanField(
        "须经主管部门初审", default=False,
        help_text="勾选后，有主管部门的单位提交后先由主管部门初审（退回或转报），再由财政局复核",
    )
    rule_set = models.ForeignKey(
        ScoringRuleSet, verbose_name="评分规则", null=True, blank=True, on_delete=models.PROTECT,
        help_text="留空则使用默认规则（财预〔2020〕10号）",
    )
    # Issue 16: publication of the round's reports.
    disclosure_review = models.BooleanField(
        "公开前须经公开审核", default=False,
        help_text="勾选后，审核通过的报告须由财政局公开审核（核对公开页面）后才公开",
    )
    disclosure_days = models.PositiveSmallIntegerField(
        "公开时限（天）", default=20, validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="自决算批复之日起公开的期限（财预〔2016〕143号：20日）",
    )

    class Meta:
        verbose_name = verbose_name_plural = "评价批次"
        ordering = ["-year"]

    def __str__(self):
        return self.title

    @property
    def rules(self) -> scoring.RuleSet:
        return self.rule_set.to_rules() if self.rule_set_id else scoring.DEFAULT_RULES
