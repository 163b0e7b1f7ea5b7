from django.conf import settings
from django.db import models

from .assessments import Assessment

ACTION_CHOICES = [
    ("submit", "提交"),
    ("forward", "初审通过并转报"),
    ("pre_return", "初审退回"),
    ("withdraw", "撤回"),
    ("start_review", "开始审核"),
    ("return", "退回修改"),
    ("approve", "审核通过"),
    ("publish", "公开"),
    ("unpublish", "撤销公开"),
    ("correct", "发起更正"),
]


class Transition(models.Model):
    """One state change of an assessment: who did what, when, with which comment."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="transitions")
    action = models.CharField("操作", max_length=20, choices=ACTION_CHOICES)
    from_state = models.CharField("原状态", max_length=20, choices=Assessment.State.choices)
    to_state = models.CharField("新状态", max_length=20, choices=Assessment.State.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="操作人", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.TextField("意见", blank=True)
    at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "流转记录"
        ordering = ["assessment", "at", "id"]

    def __str__(self):
        return f"{self.assessment_id}: {self.from_state} → {self.to_state}"


class Snapshot(models.Model):
    """The content of an assessment exactly as submitted; never changed afterwards."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="snapshots")
    number = models.PositiveIntegerField("提交次序")
    transition = models.OneToOneField(Transition, on_delete=models.RESTRICT, related_name="snapshot")
    data = models.JSONField("内容")
    created_at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "提交快照"
        ordering = ["assessment", "number"]
        constraints = [models.UniqueConstraint(fields=["assessment", "number"], name="snapshot_number_unique")]

    def __str__(self):
        return f"{self.assessment_id} #{self.number}"
