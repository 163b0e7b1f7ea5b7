from django.conf import settings
from django.db import models
from django.db.models import Q

from ..tablespec import KIND_LABELS, TableSpec
from .rounds import Round
from .units import Region

KIND_CHOICES = list(KIND_LABELS.items())

# Versions never change once written, so their parsed declaration is kept per process.
_SPECS: dict[int, tuple[dict, TableSpec]] = {}


class TableTemplate(models.Model):
    """A 表样: an official variant of the 自评表. Its content lives in its versions."""

    code = models.SlugField("代码", max_length=40, unique=True)
    name = models.CharField("名称", max_length=100)
    kind = models.CharField("类型", max_length=20, choices=KIND_CHOICES)
    builtin = models.BooleanField("内置", default=False, help_text="内置表样不可修改，可复制后修改")
    active = models.BooleanField("可选用", default=True, help_text="新建自评时可选；已有自评不受影响")
    based_on = models.ForeignKey(
        "self", verbose_name="复制自", null=True, blank=True, on_delete=models.SET_NULL, related_name="copies"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="创建人", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "表样"
        ordering = ["kind", "id"]

    def __str__(self):
        return self.name

    def latest(self) -> "TemplateVersion | None":
        return self.versions.order_by("-number").first()


class TemplateVersion(models.Model):
    """One immutable version of a 表样; every assessment keeps the version it was created with."""

    template = models.ForeignKey(TableTemplate, verbose_name="表样", on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField("版本")
    spec = models.JSONField("表样定义")
    note = models.CharField("修改说明", max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="创建人", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "表样版本"
        ordering = ["template", "number"]
        constraints = [models.UniqueConstraint(fields=["template", "number"], name="template_version_once")]

    def __str__(self):
        return f"{self.template.name}（第{self.number}版）"

    @property
    def table(self) -> TableSpec:
        """The parsed declaration. Kept on the instance, and per process by id: a saved version never
        changes (the cached copy is still compared with the row, since an id may be reused after a
        rolled-back insert, as in the 表样 preview)."""
        spec = self.__dict__.get("_table")
        if spec is not None:
            return spec
        cached = _SPECS.get(self.pk) if self.pk is not None else None
        if cached is not None and cached[0] == self.spec:
            spec = cached[1]
        else:
            spec = TableSpec.from_dict(self.spec)
            if self.pk is not None:
                _SPECS[self.pk] = (self.spec, spec)
        self.__dict__["_table"] = spec
        return spec


class TemplateAssignment(models.Model):
    """The 表样 a round uses for a kind of assessment, for all regions or for one."""

    round = models.ForeignKey(Round, verbose_name="评价批次", on_delete=models.CASCADE, related_name="template_assignments")
    kind = models.CharField("类型", max_length=20, choices=KIND_CHOICES)
    region = models.ForeignKey(
        Region, verbose_name="适用地区", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        help_text="留空则适用于全部地区；指定地区时也适用于其下级地区",
    )
    template = models.ForeignKey(TableTemplate, verbose_name="表样", on_delete=models.PROTECT, related_name="assignments")

    class Meta:
        verbose_name = verbose_name_plural = "表样分配"
        ordering = ["round", "kind", "region"]
        constraints = [
            models.UniqueConstraint(fields=["round", "kind", "region"], name="assignment_once_per_region"),
            models.UniqueConstraint(
                fields=["round", "kind"], condition=Q(region__isnull=True), name="assignment_once_for_all_regions"
            ),
        ]

    def __str__(self):
        where = self.region.full_name if self.region_id else "全部地区"
        return f"{self.round}·{self.get_kind_display()}·{where}：{self.template}"
