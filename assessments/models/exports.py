from django.conf import settings
from django.db import models
from django.db.models import Q

from .assessments import Assessment
from .rounds import Round
from .units import Unit


class ExportJob(models.Model):
    """Outbox row: an approved assessment waiting for (or done with) its disclosure export.

    Written in the approval's transaction, so an export is never lost when the broker is down:
    a row still queued is sent again by `tasks.dispatch_pending_exports`.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "排队中"
        RUNNING = "running", "生成中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="export_jobs")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField("尝试次数", default=0)
    error = models.TextField("错误信息", blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="发起人", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    dispatched_at = models.DateTimeField("最近投递时间", null=True, blank=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    # Written every EXPORT_HEARTBEAT_SECONDS while the job runs: a RUNNING job whose beat stopped
    # lost its worker (exporting.stale_running).
    heartbeat_at = models.DateTimeField("最近心跳", null=True, blank=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "导出任务"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "dispatched_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["assessment"], condition=Q(status__in=["queued", "running"]), name="one_active_export_job"
            )
        ]

    def __str__(self):
        return f"{self.assessment_id} {self.get_status_display()}"


class Publication(models.Model):
    """The one stored set of disclosure files of a published assessment (of its newest version)."""

    assessment = models.OneToOneField(Assessment, on_delete=models.CASCADE, related_name="publication")
    xlsx = models.FileField("xlsx 文件", upload_to="disclosure/", max_length=200)
    json = models.FileField("JSON 文件", upload_to="disclosure/", max_length=200)
    pdf = models.FileField("PDF 文件", upload_to="disclosure/", max_length=200, blank=True)
    docx = models.FileField("Word 文件", upload_to="disclosure/", max_length=200, blank=True)
    xlsx_sha256 = models.CharField(max_length=64)
    json_sha256 = models.CharField(max_length=64)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    docx_sha256 = models.CharField(max_length=64, blank=True)
    search_text = models.TextField("检索文本", blank=True)
    generated_at = models.DateTimeField("生成时间")
    version = models.PositiveIntegerField("公开版本", default=1)
    version_published_at = models.DateTimeField("本版本发布时间", null=True, blank=True)
    snapshot_sha256 = models.CharField("提交快照哈希", max_length=64, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "公开文件"

    def __str__(self):
        return f"{self.assessment_id}"


class BulkExport(models.Model):
    """A ZIP of all published reports of a round, built by a Celery job."""

    class Status(models.TextChoices):
        QUEUED = "queued", "排队中"
        RUNNING = "running", "打包中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

    round = models.ForeignKey(Round, verbose_name="评价批次", on_delete=models.CASCADE, related_name="bulk_exports")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="申请人", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField("总数", default=0)
    done = models.PositiveIntegerField("已完成", default=0)
    file = models.FileField("ZIP 文件", upload_to="bulk/", blank=True, max_length=200)
    with_evidence = models.BooleanField("含佐证材料", default=False)
    error = models.TextField("错误信息", blank=True)
    created_at = models.DateTimeField("申请时间", auto_now_add=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "批量下载"
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.round} {self.get_status_display()}"

    @property
    def percent(self) -> int:
        return int(self.done * 100 / self.total) if self.total else (100 if self.status == self.Status.DONE else 0)


class PublishedVersion(models.Model):
    """One published version of an assessment: what the public saw, kept after a correction.

    Version 1 is the first publication; re-publishing different content (after 发起更正, a new
    submission and approval) adds version 2 with a correction note (更正说明) computed from the two
    public documents. The document is the public JSON as published, so an earlier version renders
    exactly as it was published; re-running an export of the same content adds no version.
    """

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="published_versions")
    number = models.PositiveIntegerField("版本号")
    document = models.JSONField("公开文档")
    # SHA-256 of the submission snapshot this version publishes (printed on the PDF and Word copy).
    snapshot_sha256 = models.CharField("提交快照哈希", max_length=64)
    published_at = models.DateTimeField("发布时间")
    superseded_at = models.DateTimeField("被更正时间", null=True, blank=True)
    correction_reason = models.TextField("更正原因", blank=True)
    # [{"section", "row", "field", "before", "after"}]: the public fields that changed.
    correction = models.JSONField("更正内容", default=list, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "公开版本"
        ordering = ["assessment", "number"]
        constraints = [models.UniqueConstraint(fields=["assessment", "number"], name="published_version_unique")]

    def __str__(self):
        return f"{self.assessment_id} v{self.number}"


class IndexSerial(models.Model):
    """The last 流水号 given under one 索引号 prefix (地区代码-部门代码-类别-年): one row per prefix,
    incremented under a row lock so that concurrent publications never share a number."""

    prefix = models.CharField("前缀", max_length=80, unique=True)
    last = models.PositiveIntegerField("最近流水号", default=0)

    class Meta:
        verbose_name = verbose_name_plural = "索引号流水"

    def __str__(self):
        return f"{self.prefix}: {self.last}"


class DisclosureClock(models.Model):
    """A unit's 决算批复 date in a round: its reports must be public within the round's
    `disclosure_days` of it. `warned_at` is set once, when the bureau was warned that the window is
    running out (`register.warn_due`)."""

    unit = models.ForeignKey(Unit, verbose_name="预算单位", on_delete=models.CASCADE, related_name="disclosure_clocks")
    round = models.ForeignKey(Round, verbose_name="评价批次", on_delete=models.CASCADE, related_name="disclosure_clocks")
    approved_on = models.DateField("决算批复日期")
    warned_at = models.DateTimeField("到期提醒时间", null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="登记人", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField("登记时间", auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "决算批复与公开时限"
        constraints = [models.UniqueConstraint(fields=["unit", "round"], name="disclosure_clock_once")]

    def __str__(self):
        return f"{self.unit} {self.round}: {self.approved_on}"
