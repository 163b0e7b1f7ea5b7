"""``manage.py seed_demo``: load the demo data (the five seed documents) into the portal.

Idempotent: reference data (regions, units, rounds, users, memberships) is created or updated
by natural key; a demo assessment that already exists (same unit + round + kind [+ project
name]) is left exactly as it is, so work done in the demo is not lost. ``--reset`` deletes the
demo assessments and creates them afresh. Refuses to run with DEBUG off unless ``--force``.

Assessments are made the way the portal makes them: ``services.create_assessment`` for the
empty form, the rows filled in through the ORM, ``services.refresh_scores`` for the cached
score, and ``workflow.perform(officer, a, "submit")`` for those the seeds show as handed in.
"""

import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from assessments import demo, readmodel, reviewing, roles, scoring, season, services, workflow
from assessments.models import (
    Assessment,
    Indicator,
    Membership,
    ProjectExpense,
    Region,
    Round,
    TableTemplate,
    TargetSet,
    Task,
    TemplateAssignment,
    Unit,
)

REFUSE_MESSAGE = (
    "当前未开启调试模式（DEBUG），为防止演示数据进入正式环境，已拒绝加载；确需加载请加 --force。 / "
    "Refusing to load demo data while DEBUG is off; pass --force to load it anyway."
)


# The group of each demo role (officers are members of their unit instead).
ROLE_GROUPS = {
    "reviewer": roles.REVIEWER_ALL,
    "system_admin": roles.SYSTEM_ADMIN,
    "security_admin": roles.SECURITY_ADMIN,
    "audit_admin": roles.AUDIT_ADMIN,
}


def money(value) -> Decimal | None:
    return None if value is None else Decimal(value)


class Command(BaseCommand):
    help = "加载演示数据（五份真实自评材料）/ Load the demo data (the five seed documents)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset",
            action="store_true",
            help="删除并重新创建演示自评 / delete and recreate the demo assessments",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="在未开启 DEBUG 时也加载 / load even when DEBUG is off",
        )

    def handle(self, *args, reset=False, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(REFUSE_MESSAGE)
        with transaction.atomic():
            loader = Loader(reset=reset)
            loader.run()
        self.print_summary(loader)

    def print_summary(self, loader: "Loader") -> None:
        out = self.stdout
        out.write(self.style.SUCCESS("演示数据已就绪。"))
        out.write(
            f"  行政区划 {len(loader.regions)} 个，预算单位 {len(loader.units)} 个，"
            f"评价批次 {len(loader.rounds)} 个，用户 {len(loader.users)} 个"
            f"（新建 {loader.users_created} 个）。"
        )
        out.write(
            f"  演示自评 {len(demo.ASSESSMENTS)} 份：新建 {len(loader.created)} 份，"
            f"保留已有 {len(loader.kept)} 份" + ("（--reset：已删除后重建）" if loader.reset else "") + "。"
        )
        for assessment in loader.created:
            assessment.refresh_from_db(fields=["state"])  # exports publish after the load commits
            score = f"，自评 {assessment.self_total} 分（{assessment.self_grade}）" if assessment.self_total is not None else ""
            out.write(
                f"    · {assessment.unit.short_name or assessment.unit.name} {assessment.title}："
                f"{assessment.get_state_display()}{score}"
            )
        names = "、".join(user["username"] for user in demo.USERS)
        out.write(f"  登录用户：{names}；密码均为 {demo.PASSWORD}")


class Loader:
    def __init__(self, *, reset: bool):
        self.reset = reset
        self.regions: dict[str, Region] = {}
        self.units: dict[str, Unit] = {}
        self.rounds: dict[int, Round] = {}
        self.users: dict[str, object] = {}
        self.users_created = 0
        self.created: list[Assessment] = []
        self.kept: list[Assessment] = []

    def run(self) -> None:
        self.load_regions()
        self.load_units()
        self.load_rounds()
        self.load_users()
        for spec in demo.ASSESSMENTS:
            self.load_assessment(spec)
        self.load_season()

    def load_season(self) -> None:
        """The open round's approved targets and tasks (issue 14), each created once."""
        spec = demo.SEASON
        round_ = self.rounds[spec["year"]]
        Round.objects.filter(pk=round_.pk).update(supervisor_review=spec["supervisor_review"])
        TemplateAssignment.objects.get_or_create(
            round=round_, kind="project", region=None,
            defaults={"template": TableTemplate.objects.get(code=spec["project_template"])},
        )
        for target in spec["targets"]:
            unit = self.units[target["unit"]]
            if season.target_set_for(unit=unit, round_=round_, kind="project", project_name=target["project_name"]):
                continue
            season.load_target_set(round_=round_, source=TargetSet.Source.ADMIN, user=self.users["caizheng"], sheet=season.TargetSheet(
                unit, target["project_name"], goals=target["goals"],
                rows=[season.TargetRow(l1, l2, name, value, Decimal(w)) for l1, l2, name, value, w in target["rows"]],
            ))
        today = datetime.date.today()
        for unit_name, project, start, due in spec["tasks"]:
            unit = self.units[unit_name]
            kind = Assessment.Kind.PROJECT if project else Assessment.Kind.DEPARTMENT
            if Task.objects.filter(round=round_, unit=unit, kind=kind, project_name=project).exists():
                continue
            season.issue_tasks(
                round_=round_, user=self.users["caizheng"],
                specs=[season.TaskSpec(unit, kind, project, season.target_set_for(unit=unit, round_=round_, kind=kind,
                                                                                  project_name=project))],
                starts_on=today + datetime.timedelta(days=start), due_on=today + datetime.timedelta(days=due),
                warn_days=spec["warn_days"],
            )

    # --- Reference data ---------------------------------------------------------------------

    def load_regions(self) -> None:
        for name, level, parent_name in demo.REGIONS:
            parent = self.regions[parent_name] if parent_name else None
            region, _ = Region.objects.update_or_create(parent=parent, name=name, defaults={"level": level})
            self.regions[name] = region

    def load_units(self) -> None:
        for spec in demo.UNITS:
            unit, _ = Unit.objects.update_or_create(
                name=spec["name"],
                defaults={
                    "short_name": spec["short_name"],
                    "region": self.regions[spec["region"]],
                    "supervisor": spec["supervisor"],
                },
            )
            self.units[unit.name] = unit
        for spec in demo.UNITS:
            for name in spec.get("supervises", []):
                Unit.objects.filter(name=name).update(supervisor_unit=self.units[spec["name"]])

    def load_rounds(self) -> None:
        for spec in demo.ROUNDS:
            round_, _ = Round.objects.update_or_create(
                year=spec["year"],
                defaults={
                    "title": spec["title"],
                    "deadline": datetime.date.fromisoformat(spec["deadline"]),
                    "is_open": spec["is_open"],
                },
            )
            self.rounds[round_.year] = round_

    def load_users(self) -> None:
        """One account per role (issue 18). A demo account from before, e.g. `portaladmin` as a
        superuser, is brought to its role: no superuser, exactly the role's group."""
        User = get_user_model()
        review_all = Permission.objects.get(content_type__app_label="assessments", codename="review_all")
        roles.sync_groups()
        groups = {group.name: group for group in Group.objects.filter(name__in=ROLE_GROUPS.values())}
        for spec in demo.USERS:
            user, created = User.objects.get_or_create(username=spec["username"])
            self.users_created += created
            group = groups.get(ROLE_GROUPS.get(spec["role"], ""))
            user.first_name = spec["first_name"]
            user.is_active = True
            user.is_superuser = False
            user.is_staff = group is not None and group.name in roles.STAFF_ROLES
            if created or not user.check_password(demo.PASSWORD):
                user.set_password(demo.PASSWORD)
            user.save()
            user.user_permissions.remove(review_all)  # bureau-wide review is the group's (seeds before issue 18)
            user.groups.set([group] if group is not None else [])
            if spec["role"] in ("officer", "supervisor"):
                Membership.objects.get_or_create(
                    user=user, unit=self.units[spec["unit"]], role=spec["role"]
                )
            self.users[user.username] = user

    # --- Assessments ------------------------------------------------------------------------

    def load_assessment(self, spec: dict) -> None:
        unit, round_ = self.units[spec["unit"]], self.rounds[spec["year"]]
        existing = Assessment.objects.filter(unit=unit, round=round_, kind=spec["kind"])
        if spec["kind"] == Assessment.Kind.PROJECT:
            existing = existing.filter(project_name=spec["project_name"])
        current = existing.first()
        if current is not None and not self.reset:
            self.kept.append(current)
            return
        if current is not None:
            delete_assessment(current)

        officer = self.users[spec["officer"]]
        assessment = services.create_assessment(
            unit=unit,
            round=round_,
            kind=spec["kind"],
            layout=spec["layout"],
            project_name=spec.get("project_name", ""),
            user=officer,
        )
        fill(assessment, spec)
        services.refresh_scores(assessment)
        check_expected(assessment, spec)
        if spec["submit"]:
            submit(officer, assessment)
        if spec.get("review"):
            review(self.users[spec["review"]["reviewer"]], assessment, spec["review"])
        self.created.append(assessment)


def delete_assessment(assessment: Assessment) -> None:
    """Delete a demo assessment; its rows, history, snapshots and reviews go with it."""
    assessment.delete()


def fill(assessment: Assessment, spec: dict) -> None:
    """Put the seed's content into the empty rows `create_assessment` made."""
    for field, value in spec["header"].items():
        setattr(assessment, field, value)
    assessment.save()

    rows = {row.source: row for row in assessment.funding_rows.all()}
    for data in spec["funding"]:
        row = rows.get(data["source"])
        if row is None:
            raise CommandError(f"{assessment}: layout {assessment.layout} has no funding row {data['source']}")
        row.initial_budget = money(data.get("initial_budget"))
        row.budget = money(data.get("budget"))
        row.actual = money(data.get("actual"))
        row.reason = data.get("reason", "")
        row.save()

    items = {row.item: row for row in assessment.structure_rows.all()}
    for data in spec["structure"]:
        row = items[data["item"]]
        row.budget = money(data.get("budget"))
        row.actual = money(data.get("actual"))
        row.save(update_fields=["budget", "actual"])
    if spec["structure"] and not items:
        raise CommandError(f"{assessment}: layout {assessment.layout} has no 资金结构")

    goals = spec["goals"]
    if goals:
        first = assessment.goals.order_by("position", "id").first()
        first.target, first.achieved = goals[0]["target"], goals[0]["achieved"]
        first.save(update_fields=["target", "achieved"])
        for position, goal in enumerate(goals[1:], start=2):
            assessment.goals.create(position=position, target=goal["target"], achieved=goal["achieved"])

    Indicator.objects.bulk_create(
        Indicator(
            assessment=assessment,
            position=position,
            level1=row["level1"],
            level2=row["level2"],
            name=row["name"],
            target=row["target"],
            actual=row["actual"],
            weight=money(row.get("weight")),
            outcome=row.get("outcome") or "",
            score=money(row.get("score")),
            reason=row.get("reason", ""),
        )
        for position, row in enumerate(spec["indicators"], start=1)
    )

    ProjectExpense.objects.bulk_create(
        ProjectExpense(
            assessment=assessment,
            position=position,
            name=row["name"],
            budget=money(row.get("budget")),
            actual=money(row.get("actual")),
            note=row.get("note", ""),
            confidential=row.get("confidential", False),
        )
        for position, row in enumerate(spec["project_expenses"], start=1)
    )

    sections = {section.key: section for section in assessment.report_sections.all()}
    for key, data in spec["sections"].items():
        section = sections[key]
        section.title, section.body = data["title"], data["body"]
        section.save(update_fields=["title", "body"])


def check_expected(assessment: Assessment, spec: dict) -> None:
    """The computed score must be the one the paper form states (seed 004: 99.67, 优)."""
    expected = spec.get("expected")
    if not expected:
        return
    total = money(expected["total"])
    if assessment.self_total != total or assessment.self_grade != expected["grade"]:
        raise CommandError(
            f"{assessment.unit.name} {assessment.title}：计算得分 {assessment.self_total}（{assessment.self_grade}），"
            f"与原表 {total}（{expected['grade']}）不符 / computed score differs from the seed."
        )


def submit(officer, assessment: Assessment) -> None:
    try:
        workflow.perform(officer, assessment, "submit")
    except workflow.SubmissionInvalid as error:
        lines = "\n".join(f"  - {problem.message}" for problem in error.problems)
        raise CommandError(f"{assessment.unit.name} {assessment.title} 提交未通过校验：\n{lines}") from error


def review(reviewer, assessment: Assessment, spec: dict) -> None:
    """Start the review and decide it as the seed spec says, through the real workflow."""
    workflow.perform(reviewer, assessment, "start_review")
    pending = reviewing.pending(assessment)
    keys = [str(k) for k in assessment.indicators.order_by("position", "id").values_list("key", flat=True)]
    inputs = {keys[n]: scoring.ReviewInput(note=note) for n, note in spec.get("rows", {}).items()}
    view = reviewing.build(readmodel.load(assessment.pk), pending, inputs)
    reviewing.save(pending, inputs, view.totals)
    workflow.perform(reviewer, assessment, spec["decision"], spec["comment"])
