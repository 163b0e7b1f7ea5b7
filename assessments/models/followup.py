"""After 复核 (issue 15): 抽查 (spot checks) and 结果应用 (how a result is applied to next year's
budget)."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from .assessments import Assessment
from .rounds import Round

PERCENT = {"max_digits": 5, "decimal_places": 2}


class SpotCheck(models.Model):
    """One recorded draw: the criteria, the population with its weights, the seed, the method and
    the sample. Nothing here changes after the draw: anyone can re-run it from the record."""

    class Method(models.TextChoices):
        SIMPLE = "simple", "简单随机抽样"
        STRATIFIED = "stratified", "按主管部门分层抽样"
        RISK_WEIGHTED = "risk_weighted", "按风险提示加权抽样"

    round = models.ForeignKey(Round, verbose_name="评价批次", on_delete=models.PROTECT, related_name="spot_checks")
    title = models.CharField("名称", max_length=100)
    # What defined the population: {"kinds": [...], "regions": [ids], "supervisor": "", "amount_min": "", "amount_max": ""}.
    criteria = models.JSONField("抽查范围", default=dict)
    method = models.CharField("抽样方法", max_length=20, choices=Method.choices)
    size_count = models.PositiveIntegerField("抽取数量", null=True, blank=True)
    size_percent = models.DecimalField("抽取比例（%）", null=True, blank=True, **PERCENT)
    seed = models.BigIntegerField("随机种子", validators=[MinValueValidator(0)])
    algorithm = models.CharField("算法版本", max_length=40)
    # [[id, weight, stratum], …] ascending by id: exactly what the draw read.
    population = models.JSONField("抽样总体")
    # Sampled ids, ascending.
    sample = models.JSONField("抽中编号")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="抽取人", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("抽取时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "抽查"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(size_count__isnull=False, size_percent__isnull=True)
                | Q(size_count__isnull=True, size_percent__isnull=False),
                name="spot_check_one_size",
            ),
        ]

    def __str__(self):
        return self.title


class SpotCheckItem(models.Model):
    """A sampled assessment: who does its 复核 (a reviewer, or a third-party firm)."""

    spot_check = models.ForeignKey(SpotCheck, on_delete=models.CASCADE, related_name="items")
    assessment = models.ForeignKey(Assessment, verbose_name="绩效自评", on_delete=models.PROTECT, related_name="spot_check_items")
    stratum = models.CharField("主管部门", max_length=100, blank=True)
    weight = models.PositiveIntegerField("权重", default=1)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="复核人", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    third_party = models.CharField("委托第三方机构", max_length=100, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "抽查对象"
        ordering = ["spot_check", "assessment_id"]
        constraints = [
            models.UniqueConstraint(fields=["spot_check", "assessment"], name="spot_check_item_once"),
            models.CheckConstraint(
                condition=Q(reviewer__isnull=True) | Q(third_party=""), name="spot_check_item_one_assignee"
            ),
        ]

    def __str__(self):
        return f"{self.spot_check_id} · {self.assessment_id}"


class Advice(models.TextChoices):
    PRIORITIZE = "prioritize", "优先保障"
    MAINTAIN = "maintain", "维持"
    REDUCE = "reduce", "核减"
    ADJUST = "adjust", "调整"
    CANCEL = "cancel", "取消"


class ApplicationRule(models.Model):
    """结果应用规则: a grade (and optionally a score range) → advice for next year's budget.
    The first matching rule of the round (by position) gives the advice; a round without rules
    uses `results.DEFAULT_RULES`."""

    round = models.ForeignKey(Round, verbose_name="评价批次", on_delete=models.CASCADE, related_name="application_rules")
    position = models.PositiveSmallIntegerField("顺序", default=0)
    grade = models.CharField("等级", max_length=4, choices=[(g, g) for g in ("优", "良", "中", "差")])
    score_min = models.DecimalField("最低分（含）", max_digits=6, decimal_places=2, null=True, blank=True)
    score_max = models.DecimalField("最高分（不含）", max_digits=6, decimal_places=2, null=True, blank=True)
    advice = models.CharField("应用建议", max_length=20, choices=Advice.choices)
    reduce_percent = models.DecimalField(
        "核减比例（%）", null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(100)], **PERCENT
    )

    class Meta:
        verbose_name = verbose_name_plural = "结果应用规则"
        ordering = ["round", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(advice="reduce") | Q(reduce_percent__isnull=False), name="application_rule_reduce_percent",
                violation_error_message="应用建议为“核减”时须填写核减比例。",
            ),
        ]

    def __str__(self):
        return f"{self.grade} → {self.get_advice_display()}"


class ResultApplication(models.Model):
    """The bureau's confirmed 结果应用 of one assessment: the rule's advice, or an override with a
    reason."""

    assessment = models.OneToOneField(Assessment, verbose_name="绩效自评", on_delete=models.CASCADE, related_name="result_application")
    suggested = models.CharField("规则建议", max_length=20, choices=Advice.choices, blank=True)
    suggested_percent = models.DecimalField("规则核减比例（%）", null=True, blank=True, **PERCENT)
    advice = models.CharField("确认结果", max_length=20, choices=Advice.choices)
    reduce_percent = models.DecimalField("核减比例（%）", null=True, blank=True, **PERCENT)
    reason = models.TextField("调整理由", blank=True)
    grade = models.CharField("依据等级", max_length=4)
    score = models.DecimalField("依据得分", max_digits=6, decimal_places=2, null=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="确认人", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField("确认时间")

    class Meta:
        verbose_name = verbose_name_plural = "结果应用"

    def __str__(self):
        return f"{self.assessment_id} {self.get_advice_display()}"

    @property
    def overridden(self) -> bool:
        return (self.advice, self.reduce_percent) != (self.suggested, self.suggested_percent)


class RoundReport(models.Model):
    """A round's 自评汇总表 (xlsx) and 汇总分析报告 (docx), built together by a Celery job."""

    class Status(models.TextChoices):
        QUEUED = "queued", "排队中"
        RUNNING = "running", "生成中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

    round = models.ForeignKey(Round, verbose_name="评价批次", on_delete=models.CASCADE, related_name="round_reports")
    supervisor = models.CharField("主管部门", max_length=100, blank=True, help_text="留空为全部")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="申请人", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField("总数", default=0)
    done = models.PositiveIntegerField("已完成", default=0)
    xlsx = models.FileField("汇总表", upload_to="summary/", blank=True, max_length=200)
    docx = models.FileField("汇总分析报告", upload_to="summary/", blank=True, max_length=200)
    error = models.TextField("错误信息", blank=True)
    created_at = models.DateTimeField("申请时间", auto_now_add=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "汇总表与分析报告"
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.round} {self.supervisor or '全部'} {self.get_status_display()}"

    @property
    def percent(self) -> int:
        return int(self.done * 100 / self.total) if self.total else (100 if self.status == self.Status.DONE else 0)


class Rectification(models.Model):
    """整改事项: a problem found in a review or a 抽查, on indicator rows of an assessment, with the
    action required and a due date. Its indicator rows' lineages carry it into the unit's next
    years (see `rectification.carried`)."""

    class Status(models.TextChoices):
        OPEN = "open", "未完成"
        ANSWERED = "answered", "已答复，待审核"
        CLOSED = "closed", "已完成"

    assessment = models.ForeignKey(Assessment, verbose_name="绩效自评", on_delete=models.CASCADE, related_name="rectifications")
    problem = models.TextField("存在的问题")
    # The indicator rows it concerns: [{"lineage": "...", "name": "群众满意度"}, …] (names as they were).
    indicators = models.JSONField("涉及指标", default=list, blank=True)
    action = models.TextField("整改要求")
    due_date = models.DateField("整改期限")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="下达人", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("下达时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "整改事项"
        ordering = ["assessment", "id"]

    def __str__(self):
        return self.problem[:30]

    @property
    def indicator_names(self) -> str:
        return "、".join(i.get("name", "") for i in self.indicators) or "（整体）"


class RectificationEvent(models.Model):
    """An answer of the unit or a decision of the reviewer on a 整改事项."""

    class Kind(models.TextChoices):
        ANSWER = "answer", "单位答复"
        ACCEPT = "accept", "审核通过"
        REOPEN = "reopen", "退回重新整改"

    item = models.ForeignKey(Rectification, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField("类型", max_length=10, choices=Kind.choices)
    text = models.TextField("内容", blank=True)
    # The assessment the answer was given from (next year's, when the item was carried there).
    on_assessment = models.ForeignKey(
        Assessment, verbose_name="答复所在自评", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="操作人", null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "整改答复与审核"
        ordering = ["item", "at", "id"]

    def __str__(self):
        return f"{self.item_id} {self.get_kind_display()}"


class RectificationFile(models.Model):
    """A file of a unit's 整改 answer: checked and stored like a 佐证材料 file (`evidence.inspect`,
    `portal.storage`), under a name the portal makes; never changed, served after a permission
    check to the unit's officers and its reviewers."""

    event = models.ForeignKey(RectificationEvent, on_delete=models.CASCADE, related_name="files")
    file = models.FileField("文件", upload_to="rectification/", max_length=200)
    original_name = models.CharField("原文件名", max_length=120)
    content_type = models.CharField("文件类型", max_length=100)
    size = models.PositiveBigIntegerField("大小（字节）")
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="上传人", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField("上传时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "整改证明材料"
        ordering = ["event", "id"]

    def __str__(self):
        return self.original_name

    @property
    def inline(self) -> bool:
        """PDF and images open in the browser; the rest is downloaded (as for 佐证材料)."""
        from .evidence import INLINE_TYPES

        return self.content_type in INLINE_TYPES
