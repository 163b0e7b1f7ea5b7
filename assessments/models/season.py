"""The season the finance bureau runs (issue 14): the approved 绩效目标 an assessment starts from,
the 目标调整 a unit asks for, the tasks (填报任务) issued per unit and the reminders sent for them."""

import datetime

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q

from .assessments import SCORE, Assessment
from .rounds import Round
from .units import Unit


class TargetSet(models.Model):
    """The approved 绩效目标 (批复的绩效目标) of one unit's project, or of its 部门整体, in a round."""

    class Source(models.TextChoices):
        UPLOAD = "upload", "上传绩效目标申报表"
        ADMIN = "admin", "管理后台录入"

    round = models.ForeignKey(Round, verbose_name="评价批次", on_delete=models.PROTECT, related_name="target_sets")
    unit = models.ForeignKey(Unit, verbose_name="预算单位", on_delete=models.PROTECT, related_name="target_sets")
    kind = models.CharField("类型", max_length=20, choices=Assessment.Kind.choices, default=Assessment.Kind.PROJECT)
    project_name = models.CharField("项目名称", max_length=200, blank=True)
    goals = models.TextField("年度目标", blank=True)
    source = models.CharField("来源", max_length=10, choices=Source.choices, default=Source.ADMIN)
    file_name = models.CharField("文件名", max_length=200, blank=True)
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="录入人", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    loaded_at = models.DateTimeField("录入时间", auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "批复的绩效目标"
        ordering = ["round", "unit", "kind", "project_name"]
        constraints = [
            models.UniqueConstraint(fields=["round", "unit", "kind", "project_name"], name="target_set_once"),
            models.CheckConstraint(condition=~Q(kind="project", project_name=""), name="target_set_project_has_name"),
        ]

    def __str__(self):
        return f"{self.round.year}年度 {self.unit} {self.project_name or '部门整体支出'}"

    @property
    def title(self) -> str:
        return self.project_name or "部门整体支出"


class ApprovedIndicator(models.Model):
    """One approved indicator: 一级/二级/三级, the 指标值 and the 分值 as approved."""

    target_set = models.ForeignKey(TargetSet, on_delete=models.CASCADE, related_name="indicators")
    position = models.PositiveIntegerField("序号", default=0)
    level1 = models.CharField("一级指标", max_length=30)
    level2 = models.CharField("二级指标", max_length=50, blank=True)
    name = models.CharField("三级指标", max_length=300, blank=True)
    operator = models.CharField("指标性质", max_length=10, blank=True)
    target = models.CharField("指标值", max_length=1000)
    unit = models.CharField("度量单位", max_length=30, blank=True)
    weight = models.DecimalField("分值", **SCORE)

    class Meta:
        verbose_name = verbose_name_plural = "批复的绩效指标"
        ordering = ["target_set", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(weight__gte=0) | Q(weight__isnull=True), name="approved_weight_non_negative"),
        ]

    def __str__(self):
        return self.name or f"{self.level1}/{self.level2}"


class TargetAdjustment(models.Model):
    """A 目标调整: the unit changed an approved target, with its reason. Reviewers see it beside the
    approved value; the assessment carries the flag "target_adjusted"."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="target_adjustments")
    indicator_key = models.UUIDField("指标标识")
    indicator_name = models.CharField("三级指标", max_length=300, blank=True)
    approved_target = models.CharField("批复指标值", max_length=1000)
    previous_target = models.CharField("调整前指标值", max_length=1000)
    new_target = models.CharField("调整后指标值", max_length=1000)
    reason = models.TextField("调整理由")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="调整人", null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "目标调整"
        ordering = ["assessment", "at", "id"]

    def __str__(self):
        return f"{self.indicator_name}: {self.approved_target} → {self.new_target}"


class Task(models.Model):
    """A 填报任务: unit X must assess project P (or its 部门整体) in round R between two dates."""

    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "未开始"
        FILLING = "filling", "填报中"
        SUBMITTED = "submitted", "已提交"
        RETURNED = "returned", "被退回"
        OVERDUE = "overdue", "逾期"
        CANCELLED = "cancelled", "已取消"

    round = models.ForeignKey(Round, verbose_name="评价批次", on_delete=models.PROTECT, related_name="tasks")
    unit = models.ForeignKey(Unit, verbose_name="预算单位", on_delete=models.PROTECT, related_name="tasks")
    kind = models.CharField("类型", max_length=20, choices=Assessment.Kind.choices)
    project_name = models.CharField("项目名称", max_length=200, blank=True)
    target_set = models.ForeignKey(
        TargetSet, verbose_name="批复的绩效目标", null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    assessment = models.OneToOneField(
        Assessment, verbose_name="自评", null=True, blank=True, on_delete=models.SET_NULL, related_name="task"
    )
    starts_on = models.DateField("开始日期")
    due_on = models.DateField("截止日期")
    warn_days = models.PositiveSmallIntegerField("预警天数", default=3, validators=[MaxValueValidator(60)])
    cancelled_at = models.DateTimeField("取消时间", null=True, blank=True)
    cancel_reason = models.TextField("取消理由", blank=True)
    extend_reason = models.TextField("延期理由", blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="下达人", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    issued_at = models.DateTimeField("下达时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "填报任务"
        ordering = ["round", "unit", "kind", "project_name"]
        constraints = [
            models.UniqueConstraint(fields=["round", "unit", "kind", "project_name"], name="task_once"),
            models.CheckConstraint(condition=~Q(kind="project", project_name=""), name="task_project_has_name"),
            models.CheckConstraint(condition=Q(due_on__gte=models.F("starts_on")), name="task_due_after_start"),
        ]
        indexes = [models.Index(fields=["round", "due_on"])]

    def __str__(self):
        return f"{self.unit} · {self.title}"

    @property
    def title(self) -> str:
        return self.project_name or "部门整体支出"

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None

    @property
    def warn_on(self) -> datetime.date:
        return self.due_on - datetime.timedelta(days=self.warn_days)


class Reminder(models.Model):
    """One reminder e-mail for a task. The automatic ones (lead time, deadline) are recorded per
    deadline, so a task is never reminded twice for the same one; an extension moves the
    deadline and so allows new ones."""

    class Kind(models.TextChoices):
        LEAD = "lead", "预警提醒"
        DEADLINE = "deadline", "截止日提醒"
        MANUAL = "manual", "逾期催办"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField("类型", max_length=10, choices=Kind.choices)
    due_on = models.DateField("针对的截止日期")
    recipients = models.TextField("收件人", blank=True)
    sent_count = models.PositiveIntegerField("发送数", default=0)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="催办人", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField("发送时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "催办提醒"
        ordering = ["task", "sent_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["task", "kind", "due_on"], condition=~Q(kind="manual"), name="automatic_reminder_once"
            ),
        ]

    def __str__(self):
        return f"{self.task} · {self.get_kind_display()} · {self.sent_at:%Y-%m-%d}"
