from django.conf import settings
from django.db import models
from django.db.models import Q

from .assessments import Assessment
from .rounds import Round


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
    """The one stored set of disclosure files of a published assessment."""

    assessment = models.OneToOneField(Assessment, on_delete=models.CASCADE, related_name="publication")
    xlsx = models.FileField("xlsx 文件", upload_to="disclosure/", max_length=200)
    json = models.FileField("JSON 文件", upload_to="disclosure/", max_length=200)
    xlsx_sha256 = models.CharField(max_length=64)
    json_sha256 = models.CharField(max_length=64)
    search_text = models.TextField("检索文本", blank=True)
    generated_at = models.DateTimeField("生成时间")

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
