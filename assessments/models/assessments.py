from django.conf import settings
from django.db import models
from django.db.models import F, Q

from .rounds import Round
from .units import Unit

# 万元 to four decimals (one yuan), kept at the precision typed (see tablespec / columns.money_text).
MONEY = {"max_digits": 18, "decimal_places": 4, "null": True, "blank": True}
SCORE = {"max_digits": 6, "decimal_places": 2, "null": True, "blank": True}
# Handed in and not yet decided: what the 待办 lists, read through its own index (below).
WAITING_STATES = ("submitted", "forwarded", "in_review")


class Assessment(models.Model):
    """One 绩效自评: a project table (项目支出) or a unit's department-wide table (部门整体支出),
    with its narrative report."""

    class Kind(models.TextChoices):
        PROJECT = "project", "项目支出"
        DEPARTMENT = "department", "部门整体支出"

    class State(models.TextChoices):
        DRAFT = "draft", "草稿"
        SUBMITTED = "submitted", "已提交"
        # 初审 passed: forwarded by the 主管部门 to the finance bureau's 复核 (issue 14).
        FORWARDED = "forwarded", "已转报"
        IN_REVIEW = "in_review", "审核中"
        RETURNED = "returned", "退回修改"
        APPROVED = "approved", "审核通过"
        PUBLISHED = "published", "已公开"

    unit = models.ForeignKey(Unit, verbose_name="预算单位", on_delete=models.PROTECT, related_name="assessments")
    round = models.ForeignKey(Round, verbose_name="评价批次", on_delete=models.PROTECT, related_name="assessments")
    kind = models.CharField("类型", max_length=20, choices=Kind.choices)
    # The exact 表样 version the assessment was created with: it renders, scores and exports by it.
    template_version = models.ForeignKey(
        "TemplateVersion", verbose_name="表样", on_delete=models.PROTECT, related_name="assessments"
    )
    state = models.CharField("状态", max_length=20, choices=State.choices, default=State.DRAFT, db_index=True)

    # 项目支出绩效自评表 header
    project_name = models.CharField("项目名称", max_length=200, blank=True)
    project_leader = models.CharField("项目负责人", max_length=50, blank=True)
    leader_phone = models.CharField("联系电话", max_length=30, blank=True)
    leader_phone_is_office = models.BooleanField(
        "办公电话（可公开）", default=False, help_text="勾选表示该号码为办公电话，公开时不作遮挡"
    )
    supervisor_name = models.CharField("主管部门", max_length=100, blank=True)
    implementer = models.CharField("实施单位", max_length=100, blank=True)
    confidential = models.BooleanField("涉密项目", default=False, help_text="涉密项目照常审核，但不公开、不导出")

    # 部门整体支出绩效自评表 header
    duties = models.TextField("部门职责", blank=True)
    staff_quota = models.PositiveIntegerField("人员编制", null=True, blank=True)
    staff_actual = models.PositiveIntegerField("实有人数", null=True, blank=True)
    # Header fields a template adds (报表编号, 财务负责人 …): {key: text}.
    extra = models.JSONField("其他表头栏目", default=dict, blank=True)

    # Cached from scoring on every save so that lists and dashboards can sort and filter on them.
    self_total = models.DecimalField("自评总分", max_digits=6, decimal_places=2, null=True, blank=True)
    self_grade = models.CharField("自评等级", max_length=4, blank=True)
    review_total = models.DecimalField("复核总分", max_digits=6, decimal_places=2, null=True, blank=True)
    review_grade = models.CharField("复核等级", max_length=4, blank=True)
    # Risk flag codes wrapped in commas (",all_full,rate_out,") so one LIKE finds a flag on any database.
    # flags.encode(codes): ",code,code,"; every code at once must fit (test_flags_fit_the_field).
    risk_flags = models.CharField("风险提示", max_length=400, blank=True)
    risk_flag_count = models.PositiveSmallIntegerField("风险提示数", default=0)

    version = models.PositiveIntegerField("版本", default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="创建人", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)
    submitted_at = models.DateTimeField("提交时间", null=True, blank=True)
    published_at = models.DateTimeField("公开时间", null=True, blank=True)

    # 政府信息公开 metadata the bureau decides (issue 16); the 索引号 is the publication's.
    class Disclosure(models.TextChoices):
        ACTIVE = "active", "主动公开"
        ON_REQUEST = "on_request", "依申请公开"
        WITHHELD = "withheld", "不予公开"

    class Publisher(models.TextChoices):
        UNIT = "unit", "预算单位"
        BUREAU = "bureau", "财政局"

    disclosure = models.CharField("公开属性", max_length=12, choices=Disclosure.choices, default=Disclosure.ACTIVE)
    disclosure_reason = models.CharField("不主动公开的理由", max_length=500, blank=True)
    publisher = models.CharField("发布机构", max_length=10, choices=Publisher.choices, default=Publisher.UNIT)
    document_number = models.CharField("文号", max_length=100, blank=True)
    # 索引号: given by the first export, kept through every later version (`publishing`).
    index_number = models.CharField("索引号", max_length=100, null=True, blank=True, unique=True, editable=False)

    class Meta:
        verbose_name = verbose_name_plural = "绩效自评"
        ordering = ["-round__year", "kind", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "round"], condition=Q(kind="department"), name="one_department_assessment_per_round"
            ),
            models.UniqueConstraint(
                fields=["unit", "round", "project_name"], condition=Q(kind="project"), name="one_project_assessment_per_name"
            ),
            models.CheckConstraint(condition=~Q(kind="project", project_name=""), name="project_has_name"),
            models.CheckConstraint(condition=Q(self_total__gte=0) | Q(self_total__isnull=True), name="self_total_non_negative"),
        ]
        indexes = [
            # With the unit: an assigned reviewer's count per state is read from this index alone
            # (issue 17); a bureau-wide reviewer's from the narrower one below (a third faster).
            models.Index(fields=["round", "state", "unit"]),
            models.Index(fields=["round", "state"], name="assessment_round_state_idx"),
            models.Index(fields=["unit", "round"]),
            # The units without a 部门整体 self-assessment handed in (season.late_units): the round's
            # department rows read from the index alone (not 10,000 rows of every kind from the heap).
            models.Index(fields=["round", "state", "unit"], condition=Q(kind="department"),
                         name="assessment_department_idx"),
            models.Index(fields=["round", "submitted_at"]),
            # The 待办's oldest submissions still waiting first, across rounds (LIMIT 200): read in
            # index order over the waiting ones only (over all submissions, the approved ones of
            # earlier rounds came first: 10,000 rows read to find 200).
            models.Index(fields=["submitted_at", "id"], condition=Q(state__in=WAITING_STATES),
                         name="assessment_waiting_idx"),
            models.Index(fields=["round", "self_total"]),
            models.Index(fields=["round", "risk_flag_count"]),
            models.Index(fields=["state", "published_at"]),
            # The public list: newest first over published, non-涉密 reports (an index-only count).
            models.Index(
                F("published_at").desc(), F("id").desc(),
                condition=Q(state="published", confidential=False), name="assessment_public_idx",
            ),
        ]
        permissions = [("review_all", "可审核全部单位的绩效自评")]

    def __str__(self):
        return self.title

    # The columns `title` reads (with the unit's names, what a list row titles a report by): a list
    # fetching them alone (`only`) reads no deferred field.
    TITLE_FIELDS = ("kind", "project_name", "round__year", "unit__name", "unit__short_name")

    @property
    def title(self) -> str:
        return self.title_of(self.round.year, self.kind, self.project_name)

    @classmethod
    def title_of(cls, year: int, kind: str, project_name: str) -> str:
        """The title from its parts (lists that read plain values, not instances)."""
        if kind == cls.Kind.PROJECT:
            return f"{year}年度{project_name}绩效自评"
        return f"{year}年度部门整体支出绩效自评"

    @property
    def is_project(self) -> bool:
        return self.kind == self.Kind.PROJECT

    @property
    def table(self):
        """The assessment's 表样 declaration (`tablespec.TableSpec`)."""
        return self.template_version.table

    @property
    def layout(self) -> str:
        """The code of the assessment's 表样 ("project", "national", "department", …)."""
        return self.template_version.template.code


class FundingRow(models.Model):
    """资金情况: one source row of the funding table (合计 / 财政拨款 / 上年结转 / 其他资金, or the rows
    the assessment's 表样 declares)."""

    TOTAL = "total"

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="funding_rows")
    source = models.CharField("资金来源", max_length=30)
    initial_budget = models.DecimalField("年初预算数", **MONEY)
    budget = models.DecimalField("全年预算数", **MONEY)
    actual = models.DecimalField("全年执行数", **MONEY)
    reason = models.TextField("产生差异的原因", blank=True)
    # The unit's 得分 of a row that carries 分值 (None: the rule-computed score stands).
    score = models.DecimalField("得分", **SCORE)
    extra = models.JSONField("其他栏目", default=dict, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "资金情况"
        ordering = ["assessment", "id"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "source"], name="funding_source_once"),
            models.CheckConstraint(
                condition=(Q(initial_budget__gte=0) | Q(initial_budget__isnull=True))
                & (Q(budget__gte=0) | Q(budget__isnull=True))
                & (Q(actual__gte=0) | Q(actual__isnull=True)),
                name="funding_amounts_non_negative",
            ),
        ]

    def __str__(self):
        return self.source


class StructureRow(models.Model):
    """资金结构 of a department assessment: 基本支出 (人员 / 公用) and 项目支出."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="structure_rows")
    item = models.CharField("支出结构", max_length=30)
    budget = models.DecimalField("预算数", **MONEY)
    actual = models.DecimalField("执行数", **MONEY)

    class Meta:
        verbose_name = verbose_name_plural = "资金结构"
        ordering = ["assessment", "id"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "item"], name="structure_item_once"),
            models.CheckConstraint(
                condition=(Q(budget__gte=0) | Q(budget__isnull=True)) & (Q(actual__gte=0) | Q(actual__isnull=True)),
                name="structure_amounts_non_negative",
            ),
        ]

    def __str__(self):
        return self.item


class Goal(models.Model):
    """年度总体目标: what was set at the start of the year and what was achieved."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="goals")
    position = models.PositiveIntegerField("序号", default=0)
    target = models.TextField("年度目标", blank=True)
    achieved = models.TextField("全年完成情况", blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "年度总体目标"
        ordering = ["assessment", "position", "id"]

    def __str__(self):
        return self.target[:30]


class ProjectExpense(models.Model):
    """One project in the department report's per-project breakdown of 项目支出."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="project_expenses")
    position = models.PositiveIntegerField("序号", default=0)
    name = models.CharField("项目名称", max_length=200)
    budget = models.DecimalField("年初预算", **MONEY)
    actual = models.DecimalField("实际支出", **MONEY)
    note = models.TextField("说明", blank=True)
    confidential = models.BooleanField("涉密项目", default=False)

    class Meta:
        verbose_name = verbose_name_plural = "项目支出明细"
        ordering = ["assessment", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(budget__gte=0) | Q(budget__isnull=True)) & (Q(actual__gte=0) | Q(actual__isnull=True)),
                name="project_expense_non_negative",
            ),
        ]

    def __str__(self):
        return self.name


class ReportSection(models.Model):
    """A narrative text of the assessment: a block under the table (评价结论 …) or a numbered
    section of the 自评报告, as its 表样 declares them (keyed by the declaration's key)."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="report_sections")
    key = models.CharField("章节", max_length=30)
    title = models.CharField("标题", max_length=100, blank=True)
    body = models.TextField("内容", blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "自评报告章节"
        ordering = ["assessment", "id"]
        constraints = [models.UniqueConstraint(fields=["assessment", "key"], name="report_section_once")]

    def __str__(self):
        return self.title or self.key
