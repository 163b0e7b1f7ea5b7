import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from .assessments import Assessment


class Evidence(models.Model):
    """A 佐证材料 file of an assessment: for the whole assessment, or for one indicator row
    (matched by the row's key, which survives edits, imports and snapshots).

    The stored file never changes (a new upload is a new object). Once a submission included it
    (`submitted`), removing it only hides it from the draft: reviewers of that version still
    open it. A file never submitted is deleted for good when removed.
    """

    class Kind(models.TextChoices):
        EVIDENCE = "evidence", "佐证材料"
        SEALED_SCAN = "sealed_scan", "盖章扫描件"
        SURVEY = "survey", "满意度调查"
        MINUTES = "minutes", "会议纪要或文件"
        OTHER = "other", "其他"

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="evidence")
    # None: the whole assessment; else `Indicator.key` of the row.
    indicator_key = models.UUIDField("对应指标", null=True, blank=True)
    kind = models.CharField("类型", max_length=20, choices=Kind.choices, default=Kind.EVIDENCE)
    title = models.CharField("标题", max_length=100)
    note = models.CharField("说明", max_length=500, blank=True)
    # Stored under a name the portal makes (evidence/<assessment>/<uuid>.<ext>), never the uploader's.
    file = models.FileField("文件", upload_to="evidence/", max_length=200)
    original_name = models.CharField("原文件名", max_length=120)
    content_type = models.CharField("文件类型", max_length=100)
    size = models.PositiveBigIntegerField("大小（字节）")
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="上传人", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField("上传时间", auto_now_add=True)
    submitted = models.BooleanField("已随提交冻结", default=False)
    removed_at = models.DateTimeField("移除时间", null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="移除人", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Marked by a reviewer: shown on the public page of the published report (never for 涉密).
    public = models.BooleanField("公开", default=False)

    class Meta:
        verbose_name = verbose_name_plural = "佐证材料"
        ordering = ["assessment", "id"]
        indexes = [models.Index(fields=["assessment", "removed_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(size__gte=0), name="evidence_size_non_negative"),
        ]

    def __str__(self):
        return self.title

    @property
    def inline(self) -> bool:
        """PDF and images open in the browser; Office documents and OFD are downloaded."""
        return self.content_type in INLINE_TYPES


INLINE_TYPES = ("application/pdf", "image/jpeg", "image/png")


class SealedCopy(models.Model):
    """盖章版: the sealed PDF of the approved 自评表/自评报告 the unit uploads after approval; the
    reviewer confirms that it matches. Public only when confirmed, never for 涉密, and per the
    bureau's rule (settings.SEALED_COPY_PUBLICATION: the unit's choice, always or never)."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="sealed_copies")
    key = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    file = models.FileField("文件", upload_to="sealed/", max_length=200)
    original_name = models.CharField("原文件名", max_length=120)
    size = models.PositiveBigIntegerField("大小（字节）")
    sha256 = models.CharField(max_length=64)
    publish_requested = models.BooleanField("申请公开", default=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="上传人", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField("上传时间", auto_now_add=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="确认人", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField("确认时间", null=True, blank=True)
    rejected_comment = models.CharField("不符说明", max_length=500, blank=True)
    replaced_at = models.DateTimeField("被替换时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "盖章版"
        ordering = ["assessment", "-uploaded_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["assessment"], condition=Q(replaced_at__isnull=True), name="one_current_sealed_copy"),
        ]

    def __str__(self):
        return f"{self.assessment_id} 盖章版"
