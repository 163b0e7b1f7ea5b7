from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from ..audit_labels import OBJECT_TYPE_LABELS, action_label, detail_items
from ..auditchain import append
from .units import Unit


class AuditLogImmutable(Exception):
    """The audit log is append-only: rows are never changed or deleted."""


IMMUTABLE_MESSAGE = "审计日志只可追加，不可修改或删除。"


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditLogImmutable(IMMUTABLE_MESSAGE)

    def delete(self):
        raise AuditLogImmutable(IMMUTABLE_MESSAGE)

    def bulk_create(self, objs, *args, **kwargs):
        """Rows added in bulk join the hash chain like any other (`auditchain.append`)."""
        objs = list(objs)
        with transaction.atomic(using=self.db, savepoint=False):
            append(objs)
            return super().bulk_create(objs, *args, **kwargs)

    update.queryset_only = True
    delete.queryset_only = True


class AuditEvent(models.Model):
    """One security or business event. Written by `assessments.audit.record`, never changed.

    `actor` and `unit` are plain references without a database constraint: deleting a user or
    a unit must neither delete nor rewrite its history (`actor_username` keeps the name).
    On PostgreSQL a trigger refuses UPDATE and DELETE on this table (migration 0004). On both
    databases the rows form a hash chain (`seq`, `prev_hash`, `row_hash`; `assessments.auditchain`),
    so a change below the model shows up in `manage.py verify_audit` and on the audit page.
    """

    class Outcome(models.TextChoices):
        OK = "ok", "成功"
        FAILED = "failed", "失败"
        DENIED = "denied", "拒绝"

    at = models.DateTimeField("时间", default=timezone.now, editable=False, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="操作人", null=True, blank=True, editable=False,
        on_delete=models.DO_NOTHING, db_constraint=False, related_name="+",
    )
    actor_username = models.CharField("操作人账号", max_length=150, blank=True, editable=False)
    unit = models.ForeignKey(
        Unit, verbose_name="单位", null=True, blank=True, editable=False,
        on_delete=models.DO_NOTHING, db_constraint=False, related_name="+",
    )
    ip = models.GenericIPAddressField("IP 地址", null=True, blank=True, editable=False)
    action = models.CharField("事件", max_length=50, editable=False)
    object_type = models.CharField("对象类型", max_length=50, blank=True, editable=False)
    object_id = models.CharField("对象编号", max_length=64, blank=True, editable=False)
    outcome = models.CharField("结果", max_length=10, choices=Outcome.choices, default=Outcome.OK, editable=False)
    details = models.JSONField("详情", default=dict, blank=True, editable=False)
    seq = models.PositiveBigIntegerField("序号", null=True, blank=True, unique=True, editable=False)
    prev_hash = models.CharField("前一条哈希", max_length=64, blank=True, editable=False)
    row_hash = models.CharField("本条哈希", max_length=64, blank=True, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = verbose_name_plural = "审计日志"
        ordering = ["-at", "-id"]
        default_permissions = ("view",)
        indexes = [
            models.Index(fields=["action", "at"]),
            models.Index(fields=["actor_username", "at"]),
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["outcome", "at"]),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_username or '系统'} {self.action_label} {self.get_outcome_display()}"

    def save(self, *args, **kwargs):
        if self.pk is not None or not self._state.adding:
            raise AuditLogImmutable(IMMUTABLE_MESSAGE)
        kwargs["force_insert"] = True
        # The caller's transaction if there is one (its change and this row commit together).
        with transaction.atomic(using=kwargs.get("using"), savepoint=False):
            append([self])
            super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogImmutable(IMMUTABLE_MESSAGE)

    @property
    def action_label(self) -> str:
        return action_label(self.action)

    @property
    def detail_items(self) -> list[tuple[str, str]]:
        return detail_items(self.details)

    @property
    def object_type_label(self) -> str:
        return OBJECT_TYPE_LABELS.get(self.object_type, self.object_type)


class AuditChainLock(models.Model):
    """One row, locked (SELECT … FOR UPDATE) while rows are appended to the audit log, so that
    concurrent appends take their places in the hash chain one after another."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)

    class Meta:
        verbose_name = verbose_name_plural = "审计日志追加锁"
        default_permissions = ()

    def __str__(self):
        return "审计日志追加锁"
