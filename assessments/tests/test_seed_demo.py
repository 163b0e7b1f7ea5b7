"""``manage.py seed_demo``: the five seed documents, loaded faithfully, idempotently, safely."""

import datetime
import re
from decimal import Decimal as D
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError

from assessments import demo, readmodel, scoring
from assessments.models import (
    Assessment,
    FundingRow,
    Goal,
    Indicator,
    Membership,
    ProjectExpense,
    Region,
    ReportSection,
    Round,
    Snapshot,
    StructureRow,
    Transition,
    Unit,
)

LUKOU = "中共株洲市渌口区委政法委员会"
NANYUE = "中共衡阳市南岳区委政法委员会"
LUSONG = "中共株洲市芦淞区委政法委员会"
WANGCHENG = "中共长沙市望城区委政法委员会"
YUELU = "中共长沙市岳麓区委员会政法委员会"

SEEDS_DIR = Path(__file__).resolve().parents[3] / "shared" / "seeds"


@pytest.fixture
def debug_on(settings):
    settings.DEBUG = True


def seed(*args) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def seeded(db, debug_on, media, django_capture_on_commit_callbacks):
    # The approvals' export jobs run after commit, as they do outside tests.
    with django_capture_on_commit_callbacks(execute=True):
        return seed()


def department(unit_name, year) -> Assessment:
    return Assessment.objects.get(unit__name=unit_name, round__year=year, kind=Assessment.Kind.DEPARTMENT)


def project(name) -> Assessment:
    return Assessment.objects.get(unit__name=NANYUE, round__year=2022, kind=Assessment.Kind.PROJECT, project_name=name)


def funding(a):
    return {r.source: (r.initial_budget, r.budget, r.actual, r.reason) for r in a.funding_rows.all()}


def structure(a):
    return {r.item: (r.budget, r.actual) for r in a.structure_rows.all()}


def expenses(a):
    return [(p.name, p.budget, p.actual, p.confidential) for p in a.project_expenses.order_by("position")]


def sections(a):
    return {s.key: (s.title, s.body) for s in a.report_sections.all()}


def filled_keys(a):
    return {key for key, (_title, body) in sections(a).items() if body}


MODELS = (
    Region, Unit, Round, Membership, Assessment, FundingRow, StructureRow, Goal, Indicator,
    ProjectExpense, ReportSection, Transition, Snapshot,
)


def counts():
    result = {model.__name__: model.objects.count() for model in MODELS}
    User = get_user_model()
    result["User"] = User.objects.count()
    result["UserPermission"] = User.user_permissions.through.objects.count()
    result["UserGroup"] = User.groups.through.objects.count()
    return result


# --- Running it -------------------------------------------------------------------------------


def test_runs_and_prints_a_chinese_summary(seeded):
    assert "演示数据已就绪" in seeded
    assert "新建 7 份" in seeded
    assert "自评 99.67 分（优）" in seeded
    expected = {
        "Region": 9, "Unit": 6, "Round": 4, "User": 10, "Membership": 6, "Assessment": 7,
        "Indicator": 13 + 8 + 7, "ProjectExpense": 6 + 4 + 5, "ReportSection": 7 * 11,
        "Transition": 11, "Snapshot": 3, "UserPermission": 0, "UserGroup": 4,
    }
    actual = counts()
    assert {key: actual[key] for key in expected} == expected


def test_second_run_changes_nothing(seeded):
    before = counts()
    ids = sorted(Assessment.objects.values_list("id", "version", "state", "updated_at"))
    hashes = dict(get_user_model().objects.values_list("username", "password"))

    output = seed()

    assert counts() == before
    assert sorted(Assessment.objects.values_list("id", "version", "state", "updated_at")) == ids
    assert dict(get_user_model().objects.values_list("username", "password")) == hashes
    assert "新建 0 份，保留已有 7 份" in output


def test_existing_assessment_is_left_alone_unless_reset(seeded):
    a = department(LUKOU, 2022)
    a.staff_actual = 99
    a.save()

    seed()
    assert department(LUKOU, 2022).staff_actual == 99

    before = counts()
    old_ids = set(Assessment.objects.values_list("id", flat=True))
    output = seed("--reset")
    assert "新建 7 份" in output
    assert counts() == {**before, "Transition": before["Transition"] - 2}  # exports run after commit
    assert not old_ids & set(Assessment.objects.values_list("id", flat=True))
    assert department(LUKOU, 2022).staff_actual == 15
    yuelu = department(YUELU, 2020)
    assert yuelu.state == Assessment.State.APPROVED
    assert yuelu.snapshots.count() == 1


@pytest.mark.django_db
def test_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError) as error:
        seed()
    assert "--force" in str(error.value)
    assert "DEBUG" in str(error.value)
    assert "拒绝" in str(error.value)
    assert Region.objects.count() == 0
    assert Assessment.objects.count() == 0


@pytest.mark.django_db
def test_force_runs_without_debug(settings):
    settings.DEBUG = False
    seed("--force")
    assert Assessment.objects.count() == 7
    assert department(YUELU, 2020).self_total == D("99.67")


# --- Who and where ----------------------------------------------------------------------------


def test_regions_units_and_rounds(seeded):
    assert {u.name: u.region.full_name for u in Unit.objects.all()} == {
        LUKOU: "湖南省株洲市渌口区",
        NANYUE: "湖南省衡阳市南岳区",
        LUSONG: "湖南省株洲市芦淞区",
        WANGCHENG: "湖南省长沙市望城区",
        YUELU: "湖南省长沙市岳麓区",
        "中共长沙市委政法委员会": "湖南省长沙市",
    }
    # The 主管部门 of issue 14 supervises two units.
    head = Unit.objects.get(name="中共长沙市委政法委员会")
    assert sorted(head.supervised_units.values_list("name", flat=True)) == sorted([YUELU, WANGCHENG])
    province = Region.objects.get(name="湖南省")
    assert province.level == Region.Level.PROVINCE and province.parent is None
    assert sorted(r.name for r in province.children.all()) == sorted(["长沙市", "株洲市", "衡阳市"])
    assert Unit.objects.get(name=YUELU).supervisor == "中共长沙市岳麓区委员会"
    assert Unit.objects.get(name=NANYUE).short_name == "南岳区委政法委"

    rounds = {r.year: r for r in Round.objects.all()}
    assert sorted(rounds) == [2020, 2022, 2024, 2025]
    assert rounds[2025].title == "2025年度绩效自评"
    assert rounds[2025].deadline == datetime.date(2026, 12, 31)
    assert all(r.is_open for r in rounds.values())
    assert rounds[2020].title == "2020年度绩效自评"


def test_every_user_logs_in_with_the_demo_password(seeded):
    for spec in demo.USERS:
        user = authenticate(username=spec["username"], password="Demo-Pass-2024")
        assert user is not None, spec["username"]
        assert user.first_name == spec["first_name"]
    assert authenticate(username="yuelu", password="wrong") is None


def test_roles(seeded):
    officers = {m.user.username: m.unit.name for m in Membership.objects.filter(role="officer").select_related("user", "unit")}
    assert officers == {"lukou": LUKOU, "nanyue": NANYUE, "lusong": LUSONG, "wangcheng": WANGCHENG, "yuelu": YUELU}
    assert list(Membership.objects.filter(role="supervisor").values_list("user__username", "unit__name")) == [
        ("changsha", "中共长沙市委政法委员会")]

    User = get_user_model()
    reviewer = User.objects.get(username="caizheng")
    assert reviewer.has_perm("assessments.review_all")
    assert not reviewer.memberships.exists()
    assert not reviewer.is_staff and not reviewer.is_superuser
    assert list(reviewer.user_permissions.all()) == []
    assert list(reviewer.groups.values_list("name", flat=True)) == ["审核人（全部单位）"]

    # One account per administrator role (issue 18); no superuser.
    admins = {
        u.username: (list(u.groups.values_list("name", flat=True)), u.is_staff, u.is_superuser)
        for u in User.objects.filter(username__in=["portaladmin", "anquan", "shenji"])
    }
    assert admins == {
        "portaladmin": (["系统管理员"], True, False),
        "anquan": (["安全管理员"], True, False),
        "shenji": (["审计管理员"], False, False),
    }
    assert not User.objects.filter(is_superuser=True).exists()
    assert not User.objects.get(username="yuelu").has_perm("assessments.review_all")


def test_an_old_demo_superuser_becomes_the_system_administrator(seeded):
    """Databases seeded before issue 18 had portaladmin as a superuser and caizheng with the
    permission itself: seeding again brings them to their roles."""
    User = get_user_model()
    User.objects.filter(username="portaladmin").update(is_superuser=True)
    caizheng = User.objects.get(username="caizheng")
    caizheng.groups.clear()
    caizheng.user_permissions.add(Permission.objects.get(codename="review_all"))
    seed()
    admin = User.objects.get(username="portaladmin")
    assert (admin.is_superuser, admin.is_staff, list(admin.groups.values_list("name", flat=True))) == (
        False, True, ["系统管理员"])
    assert list(caizheng.user_permissions.all()) == []
    assert list(caizheng.groups.values_list("name", flat=True)) == ["审核人（全部单位）"]


# --- Seed 004: 岳麓 2020, department, submitted ------------------------------------------------


def test_yuelu_2020_table(seeded):
    a = department(YUELU, 2020)
    assert (a.layout, a.template_version.number) == ("department", 1)
    assert a.state == Assessment.State.PUBLISHED
    assert a.self_total == D("99.67")
    assert a.self_grade == "优"
    assert a.staff_quota is None
    assert a.staff_actual == 21
    assert a.duties.startswith("贯彻落实中央和省、市委关于政法工作的路线、方针、政策")
    assert a.duties.endswith("办理区委和上级政法委员会交办的其他事项。")
    assert len(a.duties.split("\n")) == 9

    assert funding(a) == {
        "total": (None, D("10949.23"), D("10584.29"), ""),
        "fiscal": (None, D("10949.23"), D("10584.29"), ""),
        "other": (None, D("0.00"), D("0.00"), ""),
    }
    assert structure(a) == {
        "basic": (None, D("1379.15")),
        "personnel": (None, D("1210.08")),
        "operating": (None, D("169.07")),
        "project": (None, D("9205.14")),
    }
    [goal] = a.goals.all()
    assert goal.target.startswith("根据中央、省、市、区委要求，结合岳麓实际")
    assert goal.target.endswith("优质的服务环境。")  # the trailing ideographic space is gone
    assert goal.achieved.endswith("提供了安全稳定的社会环境和坚强有力的法治保障。")


def test_yuelu_2020_indicators_and_score(seeded):
    a = department(YUELU, 2020)
    rows = list(a.indicators.order_by("position"))
    assert len(rows) == 13
    assert [r.weight for r in rows] == [D(w) for w in (5, 5, 5, 5, 5, 5, 10, 5, 5, 10, 10, 10, 10)]
    assert [(r.level1, r.level2) for r in rows] == (
        [("产出指标", "数量指标")] * 3
        + [("产出指标", "质量指标")] * 3
        + [("产出指标", "时效指标")]
        + [("产出指标", "成本指标")] * 2
        + [("效益指标", "经济效益指标"), ("效益指标", "社会效益指标"), ("效益指标", "可持续影响指标")]
        + [("满意度指标", "服务对象满意度指标")]
    )
    assert rows[0].name == "指标1：坚持源头治理，防范风险，组织实施风险评估项目数量"
    assert rows[0].target == "对涉及群众重大利益的项目全部组织实施风险评估"
    assert rows[4].actual == "今年全区校园刑事案件发案166起，同比去年435起下降了61.8%。"
    assert (rows[8].name, rows[8].target, rows[8].actual) == (
        "指标2：有效合理使用各类专项资金，无超出规定用途的支出", "100%", "100%"
    )
    assert (rows[8].outcome, rows[8].score) == ("", None)  # quantitative: scored from the values
    assert (rows[12].name, rows[12].target, rows[12].actual) == ("指标1：群众对全区政法工作满意度", "满意", "满意")
    for r in rows[:8] + rows[9:]:
        assert (r.outcome, r.score) == ("achieved", r.weight)
    assert all(r.reason == "" for r in rows)

    view = readmodel.load(a.pk)
    assert view.result.problems == []
    assert view.result.funding.rate == D("96.67")
    assert view.result.funding.score == D("9.67")
    assert view.result.indicator_total == D("90.00")
    assert view.result.indicators[8].kind == scoring.KIND_QUANTITATIVE
    assert view.total == D("99.67") and view.grade == "优"


def test_yuelu_2020_was_submitted_by_its_officer_with_a_snapshot(seeded):
    a = department(YUELU, 2020)
    transition = a.transitions.order_by("id").first()
    assert (transition.action, transition.from_state, transition.to_state) == ("submit", "draft", "submitted")
    assert transition.actor.username == "yuelu"
    assert [(t.action, t.actor.username if t.actor else None) for t in a.transitions.order_by("id")] == [
        ("submit", "yuelu"), ("start_review", "caizheng"), ("approve", "caizheng"), ("publish", None)
    ]
    [snapshot] = a.snapshots.all()
    assert snapshot.number == 1
    assert snapshot.data["total_score"] == "99.67"
    assert snapshot.data["grade"] == "优"
    assert len(snapshot.data["indicators"]) == 13
    assert a.submitted_at is not None


def test_yuelu_2020_report(seeded):
    s = sections(department(YUELU, 2020))
    assert {key: title for key, (title, body) in s.items() if body} == {
        "basic_info": "部门（单位）概况",
        "general_budget": "部门（单位）整体支出管理及使用情况",
        "project_performance": "部门（单位）专项组织实施情况",
        "department_performance": "部门（单位）整体支出绩效情况",
        "problems": "存在的主要问题及原因分析",
        "improvements": "下一步改进措施和有关建议",
        "other": "其他需要说明的情况",
    }
    assert s["other"][1] == "无。"
    assert s["gov_fund"] == ("", "")
    assert s["basic_info"][1].startswith("（一）部门（单位）基本情况\n1、职能职责\n维护全区社会稳定")
    assert "区编办核定行政编17人" in s["basic_info"][1]
    assert s["general_budget"][1].startswith("（一）基本支出\n1、基本支出1379.15万元")
    assert s["project_performance"][1].startswith("（一）专项组织情况分析\n2020年3月，")
    assert s["department_performance"][1].endswith("并迅速将舆情风险点降到了最低。")
    assert "（六）抓好“四项建设”，确保政法队伍忠诚可靠" in s["department_performance"][1].split("\n")


# --- Seed 001: 南岳 2022, two projects (submitted) and the department report (draft) ----------


def test_nanyue_2022_projects_header_and_funding(seeded):
    zongzhi, sixing = project("综治、平安建设经费"), project("四型平安小区以奖代拨经费")
    assert zongzhi.state == Assessment.State.PUBLISHED
    assert sixing.state == Assessment.State.RETURNED
    for a in (zongzhi, sixing):
        assert (a.layout, a.template_version.number) == ("project", 1)
        assert a.snapshots.count() == 1
        assert a.transitions.first().actor.username == "nanyue"
        assert (a.project_leader, a.leader_phone, a.leader_phone_is_office) == ("刘雄", "13875709408", False)
        assert a.supervisor_name == ""
        assert a.implementer == "中共南岳区委政法委员会"
        assert not a.confidential
        assert a.self_total is None and a.self_grade == ""  # no 分值 column, no score
        assert filled_keys(a) == set()

    assert funding(zongzhi) == {
        "total": (D("36"), None, D("30.64"), "单位用其它资金弥补该项经费支出"),
        "fiscal": (D("36"), None, D("9.8"), "本年财政实拨支出金额"),
        "other": (None, None, D("10"), "财政返还市委政法委各项奖励经费支出"),
    }
    assert funding(sixing) == {
        "total": (D("15"), None, D("22.7"), "本年按文件要求对乡镇、社区的小区奖励经费支出"),
        "fiscal": (D("15"), None, D("15"), ""),
        "other": (None, None, D("7.7"), "财政返还市委政法委各项奖励经费支出"),
    }
    [goal] = zongzhi.goals.all()
    assert goal.target == "深化平安建设，维护国家安全和社会大局稳定；\n聚焦平安南岳建设，着力提升人民群众安全感。"
    assert goal.achieved == "深化平安建设，维护国家安全和社会大局稳定；聚焦平安南岳建设，着力提升人民群众安全感。"
    [goal] = sixing.goals.all()
    assert goal.target == goal.achieved == "严格星级小区评定数量及评定标准，保障全区社会大局和谐稳定，社会治安状况良好。"

    assert readmodel.load(zongzhi.pk).result.funding.rate == D("85.11")
    assert readmodel.load(sixing.pk).result.funding.rate == D("151.33")


def indicator_rows(a):
    return [
        (r.level1, r.level2, r.name, r.target, r.actual, r.weight, r.reason)
        for r in a.indicators.order_by("position")
    ]


def test_nanyue_2022_project_indicators(seeded):
    social = ("效益指标", "社会效益指标")
    satisfaction = ("满意度指标", "服务对象满意度指标", "人民群众满意度", "≥95%", "=95%", None, "")
    assert indicator_rows(project("综治、平安建设经费")) == [
        ("产出指标", "数量指标", "公众安全感民意调查", "≥10次", "10次", None, ""),
        ("产出指标", "数量指标", "“平安县市区”工作考评", "≥10次", "10次", None, ""),
        ("产出指标", "质量指标", "综治考评合格率", "=100%", "=100%", None, ""),
        ("产出指标", "时效指标", "考评完成及时率", "=100%", "=100%", None, ""),
        ("产出指标", "成本指标", "综治平安经费", "=36万元", "=30.64万元", None,
         "本年减少了对各乡镇、社区的维稳、综治等工作的补助经费支出"),
        (*social, "有助于维护社会秩序", "有所帮助", "有所帮助", None, ""),
        (*social, "全区社会大局和谐稳定，人民群众安全感提升", "有所推升", "有所推升", None, ""),
        satisfaction,
    ]
    assert indicator_rows(project("四型平安小区以奖代拨经费")) == [
        ("产出指标", "数量指标", "五星级小区评选", "≥13个", "≥13个", None, ""),
        ("产出指标", "质量指标", "平安四型小区合格率", "≥98%", "=98%", None, ""),
        ("产出指标", "时效指标", "按计划约定时间完成", "=100%", "=100%", None, ""),
        ("产出指标", "成本指标", "四型平安小区以奖代拨经费", "=15万元", "=15万元", None, ""),
        (*social, "有助于维护社会秩序", "有所帮助", "有所帮助", None, ""),
        (*social, "全区社会大局和谐稳定，人民群众安全感提升", "有所推升", "有所推升", None, ""),
        satisfaction,
    ]


def test_nanyue_2022_project_scoring_reads_the_seed_as_the_rules_say(seeded):
    view = readmodel.load(project("综治、平安建设经费").pk)
    results = view.result.indicators
    assert view.result.problems == []
    assert [r.achieved for r in results] == [True, True, True, True, False, True, True, True]
    assert scoring.FLAG_NOT_ACHIEVED in results[4].flags  # =36万元 vs =30.64万元, reason given
    assert [r.outcome for r in results[5:7]] == ["achieved", "achieved"]  # inferred from 有所帮助 / 有所推升
    assert all(r.score is None for r in results)

    view = readmodel.load(project("四型平安小区以奖代拨经费").pk)
    assert view.result.problems == []
    assert all(r.achieved for r in view.result.indicators)


def test_nanyue_2022_department_report(seeded):
    a = department(NANYUE, 2022)
    assert a.state == Assessment.State.DRAFT
    assert (a.staff_quota, a.staff_actual) == (5, 12)
    assert a.duties.startswith("(一)贯彻习近平新时代中国特色社会主义思想")
    assert len(a.duties.split("\n")) == 11
    assert structure(a) == {
        "basic": (None, D("317.04")),
        "personnel": (None, D("287.8")),
        "operating": (None, D("29.24")),
        "project": (None, None),
    }
    assert all(values == (None, None, None, "") for values in funding(a).values())
    assert [(name, actual) for name, _budget, actual, _c in expenses(a)] == [
        ("综治、平安建设工作", D("30.64")),
        ("司法救助工作", D("9")),
        ("扫黑除恶专项工作", D("15.68")),
        ("四型小区以奖代拨工作", D("22.7")),
    ]
    assert all(budget is None and not confidential for _n, budget, _a, confidential in expenses(a))
    assert a.indicators.count() == 0
    assert filled_keys(a) == {"basic_info", "general_budget", "department_performance", "problems", "improvements"}
    s = sections(a)
    assert s["problems"][0] == "存在的问题及原因分析"
    assert s["improvements"][1].startswith("针对上述存在的问题，拟采取以下改进措施：\n强化预算管理")
    assert a.self_total is None


# --- Seeds 000, 002, 003: department drafts -----------------------------------------------------


def test_lukou_2022(seeded):
    a = department(LUKOU, 2022)
    assert a.state == Assessment.State.DRAFT
    assert (a.staff_quota, a.staff_actual) == (None, 15)
    assert len(a.duties.split("\n")) == 10
    assert structure(a) == {
        "basic": (D("285.44"), D("325.69")),
        "personnel": (None, None),
        "operating": (None, None),
        "project": (D("216"), D("466.13")),
    }
    assert expenses(a) == [
        ("维稳工作", None, D("161.82"), False),
        ("驻京维稳", None, D("70"), False),
        ("涉法涉诉", None, D("47.23"), False),
        ("扫黑除恶", None, D("38.91"), False),
        ("见义勇为", None, D("5"), False),
        ("平安建设", None, D("144.17"), False),
    ]
    assert all(values == (None, None, None, "") for values in funding(a).values())
    assert filled_keys(a) == {
        "basic_info", "general_budget", "department_performance", "problems", "improvements", "application"
    }
    s = sections(a)
    assert s["basic_info"][0] == "预算单位基本情况"
    assert s["general_budget"][1].startswith("（一）基本支出情况\n2022年预算安排基本支出285.44万元")
    assert s["application"][1].split("\n")[0] == "（一）绩效自评结果拟应用"


def test_lusong_2024(seeded):
    a = department(LUSONG, 2024)
    assert a.state == Assessment.State.DRAFT
    assert (a.staff_quota, a.staff_actual) == (10, None)
    assert structure(a) == {
        "basic": (None, D("236.60")),
        "personnel": (None, D("196.66")),
        "operating": (None, D("39.94")),
        "project": (None, D("140.72")),
    }
    assert funding(a) == {
        "total": (None, None, D("377.32"), ""),
        "fiscal": (D("379.04"), None, None, ""),
        "other": (None, None, None, ""),
    }
    assert expenses(a) == [
        ("雪亮工程建设专项项目", D("67"), D("56.18"), False),
        ("司法救助专项项目", None, D("43.36"), False),
        ("综治项目", None, D("12.20"), False),
        ("维稳专项项目（平安建设）", D("30"), D("21.58"), False),
        ("反邪项目", None, D("7.4"), True),
    ]
    assert a.project_expenses.get(name="反邪项目").note == "项目为涉密项目，不作公开评价。"
    s = sections(a)
    for key in ("gov_fund", "state_capital", "social_insurance"):
        assert s[key][1] == "无"
    assert s["department_performance"][0] == "资金使用及绩效情况（包含单位管理的公共专项）"
    assert "（二）项目支出绩效情况" in s["department_performance"][1].split("\n")
    assert s["application"][0] == "部门整体支出绩效自评结果拟应用和公开情况"
    assert "[bookmark" not in s["department_performance"][1]


def test_wangcheng_2020(seeded):
    a = department(WANGCHENG, 2020)
    assert a.state == Assessment.State.DRAFT
    assert (a.staff_quota, a.staff_actual) == (20, 22)
    assert a.duties.startswith("(1) 贯彻执行党的路线、方针、政策")
    assert len(a.duties.split("\n")) == 12
    assert structure(a) == {
        "basic": (D("637.88"), D("699.13")),
        "personnel": (None, None),
        "operating": (None, D("33.81")),
        "project": (D("1154"), D("455.41")),
    }
    assert expenses(a) == []
    s = sections(a)
    assert filled_keys(a) == {"basic_info", "general_budget", "department_performance", "improvements", "other"}
    assert s["other"] == ("其他需要说明的情况", "无")
    assert "推进“平安乡村”建设" in s["department_performance"][1]  # page break inside the word joined


# --- Faithfulness -------------------------------------------------------------------------------


def all_texts(a):
    texts = [a.duties, a.project_name, a.implementer]
    texts += [r.reason for r in a.funding_rows.all()]
    texts += [t for g in a.goals.all() for t in (g.target, g.achieved)]
    texts += [t for r in a.indicators.all() for t in (r.name, r.target, r.actual, r.reason)]
    texts += [t for p in a.project_expenses.all() for t in (p.name, p.note)]
    texts += [t for s in a.report_sections.all() for t in (s.title, s.body)]
    return [t for t in texts if t]


def test_no_word_artefacts_left(seeded):
    for a in Assessment.objects.all():
        for text in all_texts(a):
            assert "[bookmark" not in text
            assert "\u3000" not in text
            assert text == text.strip()
            assert "\n\n" not in text
            assert all(line == line.strip() for line in text.split("\n"))


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", re.sub(r"\[bookmark: [^\]]*\]", "", text))


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="shared/seeds not beside the repository")
def test_every_loaded_text_is_in_its_seed():
    """Every paragraph of every loaded text occurs in its seed document (whitespace aside)."""
    for spec in demo.ASSESSMENTS:
        [path] = SEEDS_DIR.glob(spec["source"])
        seed_text = _squash(path.read_text(encoding="utf-8"))
        texts = [spec.get("project_name", ""), *spec["header"].values()]
        texts += [row.get("reason", "") for row in spec["funding"]]
        texts += [t for g in spec["goals"] for t in (g["target"], g["achieved"])]
        texts += [t for r in spec["indicators"] for t in (r["name"], r["target"], r["actual"], r["reason"])]
        texts += [t for p in spec["project_expenses"] for t in (p["name"], p["note"])]
        texts += [t for s in spec["sections"].values() for t in (s["title"], s["body"])]
        for text in texts:
            if not isinstance(text, str):
                continue
            for paragraph in text.split("\n"):
                assert _squash(paragraph) in seed_text, (spec["source"], paragraph[:60])


def test_demo_data_has_one_entry_per_natural_key():
    keys = [(a["unit"], a["year"], a["kind"], a.get("project_name", "")) for a in demo.ASSESSMENTS]
    assert len(keys) == len(set(keys)) == 7
    # Every unit has an assessment, except the 主管部门 of issue 14 (it checks, it does not fill in).
    assert {a["unit"] for a in demo.ASSESSMENTS} == {u["name"] for u in demo.UNITS if not u.get("supervises")}
    assert {a["year"] for a in demo.ASSESSMENTS} == {2020, 2022, 2024}


def test_sixing_is_returned_by_the_reviewer_with_comments(seeded):
    sixing = project("四型平安小区以奖代拨经费")
    assert [(t.action, t.actor.username) for t in sixing.transitions.order_by("id")] == [
        ("submit", "nanyue"), ("start_review", "caizheng"), ("return", "caizheng")
    ]
    review = sixing.reviews.get()
    assert review.decision == "returned"
    assert review.comment.startswith("实际投入资金额超出年初预算51.33%")
    first = sixing.indicators.order_by("position").first()
    assert review.rows.get(indicator_key=first.key).note == "实际完成值“≥13个”与指标值相同，请填写实际评选的五星级小区个数。"


def test_the_open_round_has_approved_targets_and_tasks(seeded):
    """Issue 14: 南岳's 综治、平安建设经费 has approved targets; six tasks, 渌口's late."""
    from assessments import season
    from assessments.models import TargetSet, Task

    (target_set,) = TargetSet.objects.filter(round__year=2025)
    assert (target_set.unit.short_name, target_set.project_name, target_set.indicators.count()) == (
        "南岳区委政法委", "综治、平安建设经费", 5)
    tasks = season.annotate(list(Task.objects.filter(round__year=2025).select_related("unit", "assessment")))
    assert sorted((t.unit.short_name, t.title, t.status) for t in tasks) == sorted([
        ("南岳区委政法委", "综治、平安建设经费", "not_started"),
        ("南岳区委政法委", "部门整体支出", "not_started"),
        ("岳麓区委政法委", "部门整体支出", "not_started"),
        ("望城区委政法委", "部门整体支出", "not_started"),
        ("芦淞区委政法委", "部门整体支出", "not_started"),
        ("渌口区委政法委", "部门整体支出", "overdue"),
    ])
    assert next(t for t in tasks if t.project_name).target_set_id == target_set.pk
