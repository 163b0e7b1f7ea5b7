from django.conf import settings
from django.db import models
from django.db.models import F
from django.db.models.functions import Coalesce, NullIf

from ..sqlwords import Constant

# A unit without a 主管部门, as the 公开登记簿 groups and lists it.
NO_SUPERVISOR = "（未填主管部门）"


def supervisor_label(to: str = ""):
    """The unit's 主管部门 as the 公开登记簿 shows it (NO_SUPERVISOR when none), as an expression of
    the unit (`to`: the path to it, e.g. "unit__"). The register is in its order: an index of it
    (`unit_register_order_idx`, with the unit's name) reads a page of a round's reports without
    sorting all of them (issue 17); its constants are written into the statement, as the index's."""
    return Coalesce(NullIf(F(f"{to}supervisor"), Constant("")), Constant(NO_SUPERVISOR))


class RegionQuerySet(models.QuerySet):
    def full_names(self) -> list[tuple[int, str]]:
        """(pk, full name) of each region, in this queryset's order, read as plain values: a list of
        every region for a select costs one query and no model instance (4.3 → 0.7 ms for 137)."""
        rows = list(self.values_list("pk", "name", "parent_id"))
        known = {pk: (name, parent) for pk, name, parent in rows}
        missing = {parent for _, _, parent in rows if parent is not None and parent not in known}
        while missing:  # ancestors outside this queryset, one query per level
            found = list(Region.objects.filter(pk__in=missing).values_list("pk", "name", "parent_id"))
            known.update((pk, (name, parent)) for pk, name, parent in found)
            missing = {parent for _, _, parent in found if parent is not None and parent not in known}

        def full_name(pk):
            names = []
            while pk is not None:
                name, pk = known[pk]
                names.append(name)
            return "".join(reversed(names))

        return [(pk, full_name(pk)) for pk, _, _ in rows]


class Region(models.Model):
    class Level(models.TextChoices):
        PROVINCE = "province", "省"
        CITY = "city", "市"
        DISTRICT = "district", "区县"

    name = models.CharField("名称", max_length=50)
    level = models.CharField("层级", max_length=10, choices=Level.choices)
    # 行政区划代码 (430104): the 地区代码 of a disclosure's 索引号 (`publishing.index_number`).
    code = models.CharField("区划代码", max_length=12, blank=True)
    parent = models.ForeignKey(
        "self", verbose_name="上级", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    objects = RegionQuerySet.as_manager()

    class Meta:
        verbose_name = verbose_name_plural = "行政区划"
        constraints = [models.UniqueConstraint(fields=["parent", "name"], name="region_unique_name_in_parent")]
        ordering = ["id"]

    def __str__(self):
        return self.full_name

    @property
    def full_name(self) -> str:
        names, node = [], self
        while node is not None:
            names.append(node.name)
            node = node.parent
        return "".join(reversed(names))


class Unit(models.Model):
    """A budget unit (预算单位) such as a district 区委政法委."""

    name = models.CharField("单位全称", max_length=100, unique=True)
    short_name = models.CharField("简称", max_length=30, blank=True)
    region = models.ForeignKey(Region, verbose_name="所在地区", on_delete=models.PROTECT, related_name="units")
    supervisor = models.CharField("主管部门", max_length=100, blank=True)
    # The unit that supervises this one (issue 14): its 主管部门审核人 check this unit's submissions
    # first (初审) in rounds that ask for it, and see a roll-up of its units.
    supervisor_unit = models.ForeignKey(
        "self", verbose_name="主管部门（单位）", null=True, blank=True, on_delete=models.PROTECT,
        related_name="supervised_units", help_text="评价批次要求主管部门初审时，本单位的提交先送该单位的主管部门审核人",
    )
    # The 部门代码 of a disclosure's 索引号 (organisation code or the bureau's own numbering).
    code = models.CharField("部门代码", max_length=30, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "预算单位"
        ordering = ["id"]
        indexes = [models.Index(supervisor_label(), F("name"), name="unit_register_order_idx")]

    def __str__(self):
        return self.name


class Membership(models.Model):
    """A person's role in a unit. Officers fill in and submit their unit's assessments."""

    class Role(models.TextChoices):
        OFFICER = "officer", "填报人"
        # 主管部门审核人 (issue 14): checks the submissions of the units this unit supervises.
        SUPERVISOR = "supervisor", "主管部门审核人"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="用户", on_delete=models.CASCADE, related_name="memberships")
    unit = models.ForeignKey(Unit, verbose_name="单位", on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField("角色", max_length=20, choices=Role.choices, default=Role.OFFICER)
    phone = models.CharField("联系电话", max_length=30, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "单位人员"
        constraints = [models.UniqueConstraint(fields=["user", "unit", "role"], name="membership_unique")]

    def __str__(self):
        return f"{self.user} · {self.unit} · {self.get_role_display()}"
