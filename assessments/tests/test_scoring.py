"""Scoring rules (SCORING.md): worked examples from the seeds with exact values, and edge cases.

Plain functions, no database: `scoring` has no Django import.
"""

from decimal import Decimal as D

import pytest

from assessments import scoring
from assessments.scoring import (
    EQ,
    FLAG_NOT_ACHIEVED,
    FLAG_OVER_ACHIEVEMENT,
    GE,
    GT,
    KIND_QUALITATIVE,
    KIND_QUANTITATIVE,
    LE,
    LT,
    OUTCOME_ACHIEVED,
    OUTCOME_FAILED,
    OUTCOME_PARTIAL,
    FundingInput,
    IndicatorInput,
    ParsedValue,
    RuleSet,
    assess,
    check_weights,
    fmt,
    fmt_weight,
    grade_for,
    parse_value,
    quantize,
    score_funding,
    score_indicator,
    spread_weights,
)

# --- Seed data --------------------------------------------------------------------------------

OUTPUT, BENEFIT, SATISFACTION, COST = "产出指标", "效益指标", "满意度指标", "成本指标"


def seed_004_rows() -> list[IndicatorInput]:
    """岳麓 2020 部门整体支出绩效自评表: 13 rows, all achieved, weights summing to 90."""

    def achieved(level1, level2, name, target, actual, weight, outcome=OUTCOME_ACHIEVED):
        return IndicatorInput(level1, level2, name, target, actual, D(weight), outcome=outcome)

    return [
        achieved(OUTPUT, "数量指标", "指标1：坚持源头治理，防范风险，组织实施风险评估项目数量",
                 "对涉及群众重大利益的项目全部组织实施风险评估",
                 "全年对涉及群众重大利益的19个项目全部组织实施风险评估，确定准予实施的18个，暂缓实施的1个。", 5),
        achieved(OUTPUT, "数量指标", "指标2：积极动员，参与疫情防控工作人员数量",
                 "以最高的政治站位和使命担当来开展疫情防控工作",
                 "派出37名政法单位班子成员下沉到社区协助疫情防控，20名企业联络员协助指导企业复工复产。", 5),
        achieved(OUTPUT, "数量指标", "指标3：防控网络安全风险，打击网络犯罪数量",
                 "严厉打击群众反映强烈的网络贩枪、网络传销等新型网络犯罪",
                 "一年来，公安机关共破获电信网络诈骗案件270起，共刑事拘留涉电诈犯罪嫌疑人102人。", 5),
        achieved(OUTPUT, "质量指标", "指标1：扫黑除恶专项斗争取得新的成效",
                 "深入开展“线索清仓”、“案件清结”等六大行动", "今年新增打击侦破涉恶集团9个。", 5),
        achieved(OUTPUT, "质量指标", "指标2：加大宣传教育力度，提高学生风险防范意识和遵法守法观念",
                 "降低校园刑事案件发案率", "今年全区校园刑事案件发案166起，同比去年435起下降了61.8%。", 5),
        achieved(OUTPUT, "质量指标", "指标3：发挥统筹协调、督查督办职能，促进企业健康发展",
                 "督办涉企事项，办结率达100%", "交办督办涉企事项，办结率达100%。", 5),
        achieved(OUTPUT, "时效指标", "指标1：区政法各项工作任务年度完成情况",
                 "各项工作任务年底前基本完成", "单位各项业务工作的顺利开展，基本在规定的时间内完成", 10),
        achieved(OUTPUT, "成本指标", "指标1：精简机关运行经费，严格按预算执行",
                 "以预算控制支出", "精简费用，尤其2020年“三公”经费支出合计0.00万元", 5),
        # The one quantitative row: bare "100%" against "100%", no outcome entered.
        achieved(OUTPUT, "成本指标", "指标2：有效合理使用各类专项资金，无超出规定用途的支出",
                 "100%", "100%", 5, outcome=None),
        achieved(BENEFIT, "经济效益指标", "指标1：维护好企业的合法权益，激发企业投资经营的积极性",
                 "排查化解经济领域的矛盾纠纷，激发市场主体活力", "共调解涉企业案件14起，调解成功11件。", 10),
        achieved(BENEFIT, "社会效益指标", "指标1：促进社会和谐发展，维护社会治安持续稳定的社会局面",
                 "防控社会稳定风险，及时处置，化解矛盾", "稳控重点人员426人，处置群体性事件93起。", 10),
        achieved(BENEFIT, "可持续影响指标", "指标1：抓紧抓严作风建设，推动清正廉洁风气的可持续影响",
                 "提高党员干部的遵规守纪的政治自觉和行动自觉", "每月组织机关干部集中学习。", 10),
        # 满意 is inferred as achieved: no outcome entered.
        achieved(SATISFACTION, "服务对象满意度指标", "指标1：群众对全区政法工作满意度", "满意", "满意", 10, outcome=None),
    ]


SEED_004_FUNDING = FundingInput(budget=D("10949.23"), actual=D("10584.29"))


def seed_001_table1_rows() -> list[IndicatorInput]:
    """南岳 综治、平安建设经费 (no 分值 column)."""
    return [
        IndicatorInput(OUTPUT, "数量指标", "公众安全感民意调查", "≥10次", "10次"),
        IndicatorInput(OUTPUT, "数量指标", "“平安县市区”工作考评", "≥10次", "10次"),
        IndicatorInput(OUTPUT, "质量指标", "综治考评合格率", "=100%", "=100%"),
        IndicatorInput(OUTPUT, "时效指标", "考评完成及时率", "=100%", "=100%"),
        IndicatorInput(OUTPUT, "成本指标", "综治平安经费", "=36万元", "=30.64万元",
                       reason="本年减少了对各乡镇、社区的维稳、综治等工作的补助经费支出"),
        IndicatorInput(BENEFIT, "社会效益指标", "有助于维护社会秩序", "有所帮助", "有所帮助"),
        IndicatorInput(BENEFIT, "社会效益指标", "全区社会大局和谐稳定，人民群众安全感提升", "有所推升", "有所推升"),
        IndicatorInput(SATISFACTION, "服务对象满意度指标", "人民群众满意度", "≥95%", "=95%"),
    ]


def seed_001_table2_rows() -> list[IndicatorInput]:
    """南岳 四型平安小区以奖代拨经费 (actuals carry operators: "≥13个")."""
    return [
        IndicatorInput(OUTPUT, "数量指标", "五星级小区评选", "≥13个", "≥13个"),
        IndicatorInput(OUTPUT, "质量指标", "平安四型小区合格率", "≥98%", "=98%"),
        IndicatorInput(OUTPUT, "时效指标", "按计划约定时间完成", "=100%", "=100%"),
        IndicatorInput(OUTPUT, "成本指标", "四型平安小区\n以奖代拨经费", "=15万元", "=15万元"),
        IndicatorInput(BENEFIT, "社会效益指标", "有助于维护社会秩序", "有所帮助", "有所帮助"),
        IndicatorInput(BENEFIT, "社会效益指标", "全区社会大局和谐稳定，人民群众安全感提升", "有所推升", "有所推升"),
        IndicatorInput(SATISFACTION, "服务对象满意度指标", "人民群众满意度", "≥95%", "=95%"),
    ]


def quantitative(target, actual, weight=None, reason="", name="公众安全感民意调查", row_number=1):
    row = IndicatorInput(OUTPUT, "数量指标", name, target, actual, None if weight is None else D(weight), reason=reason)
    return score_indicator(row, row_number=row_number)


def qualitative(outcome, weight, score=None, reason="", actual="有所帮助", name="有助于维护社会秩序"):
    row = IndicatorInput(
        BENEFIT, "社会效益指标", name, "有助于维护社会秩序", actual,
        None if weight is None else D(weight), outcome=outcome,
        score=None if score is None else D(score), reason=reason,
    )
    return score_indicator(row)


def messages(result) -> list[str]:
    return [p.message for p in result.problems]


# --- Vocabulary -------------------------------------------------------------------------------


def test_taxonomy_matches_design():
    assert scoring.TAXONOMY == {
        "产出指标": ("数量指标", "质量指标", "时效指标", "成本指标"),
        "效益指标": ("经济效益指标", "社会效益指标", "生态效益指标", "可持续影响指标"),
        "满意度指标": ("服务对象满意度指标",),
        "成本指标": ("经济成本指标", "社会成本指标", "生态环境成本指标"),
    }
    assert list(scoring.TAXONOMY) == ["产出指标", "效益指标", "满意度指标", "成本指标"]


def test_default_rules():
    table = scoring.DEFAULT_TABLE
    assert scoring.DEFAULT_FUNDING_WEIGHT + sum(w for _, w, _ in table.level1_groups) == scoring.table_total_weight() == D("100")
    assert [(name, members) for name, _, members in table.level1_groups] == [
        (OUTPUT, (OUTPUT, "成本指标")), (BENEFIT, (BENEFIT,)), (SATISFACTION, (SATISFACTION,)),
    ]
    assert scoring.OPERATOR_SYMBOLS == {GE: "≥", GT: "＞", EQ: "＝", LT: "＜", LE: "≤"}
    for word in ("达成预期指标", "效果明显", "有所帮助", "有所推升", "满意", "符合相关规定"):
        assert word in scoring.ACHIEVED_WORDS


# --- parse_value ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "operator", "number", "unit"),
    [
        ("≥10次", GE, "10", "次"),
        ("10次", None, "10", "次"),
        ("=100%", EQ, "100", "%"),
        ("=36万元", EQ, "36", "万元"),
        ("=30.64万元", EQ, "30.64", "万元"),
        ("≥95%", GE, "95", "%"),
        ("=95%", EQ, "95", "%"),
        (">=21933人", GE, "21933", "人"),
        ("≤5300元/户", LE, "5300", "元/户"),
        ("≥100百分比", GE, "100", "%"),
        ("50", None, "50", ""),
        ("100%", None, "100", "%"),
        ("≥13个", GE, "13", "个"),
        ("＝36万元", EQ, "36", "万元"),
        ("＞＝12人", GE, "12", "人"),
        ("＜＝3天", LE, "3", "天"),
        ("≧95％", GE, "95", "%"),
        ("≦5起", LE, "5", "起"),
        ("＞0", GT, "0", ""),
        ("<8小时", LT, "8", "小时"),
        ("＜8小时", LT, "8", "小时"),
        ("１２次", None, "12", "次"),
        ("≥１２次", GE, "12", "次"),
        ("10,000人", None, "10000", "人"),
        ("≥1,234.5万元", GE, "1234.5", "万元"),
        ("  ≥ 95 %  ", GE, "95", "%"),
        ("0.5", None, "0.5", ""),
        ("95%以上", GE, "95", "%"),
        ("5天以内", LE, "5", "天"),
        ("不低于95%", GE, "95", "%"),
    ],
)
def test_parse_value(text, operator, number, unit):
    parsed = parse_value(text)
    assert parsed == ParsedValue(text=text.strip(), operator=operator, number=D(number), unit=unit)


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "   ",
        "有所帮助",
        "有所推升",
        "满意",
        "十次",
        "降低校园刑事案件发案率",
        "督办涉企事项，办结率达100%",
        "95%，效果明显",  # number then a sentence (Chinese comma)
        "10次。其余待办",
        "12月底前完成",
        "2020年底前",
        "10-20人",
        "100个以上的重点项目单位全部覆盖",  # tail longer than 8 characters
        "≥",
        "1000000000000000000000000000次",  # 28 digits: no real quantity; read as text, not a crash
        "1000000000000000元",
    ],
)
def test_parse_value_rejects_qualitative_text(text):
    assert parse_value(text) is None


def test_parsed_value_display():
    parsed = parse_value(">=21933人")
    assert parsed.canonical == "≥21933人"
    assert parsed.amount == "21933人"
    assert parse_value("=36万元").canonical == "＝36万元"
    assert parse_value("100%").canonical == "100%"


# --- Formatting -------------------------------------------------------------------------------


def test_quantize_rounds_half_up():
    assert quantize(D("9.665")) == D("9.67")
    assert quantize(D("9.675")) == D("9.68")
    assert quantize(D("4.8422")) == D("4.84")
    assert quantize(D("0.005")) == D("0.01")


def test_fmt():
    assert fmt(D("9.6667")) == "9.67"
    assert fmt(D("10")) == "10.00"
    assert fmt(D("-0.001")) == "0.00"
    assert fmt(None) == ""


def test_fmt_weight():
    assert fmt_weight(D("45")) == "45"
    assert fmt_weight(D("50.00")) == "50"
    assert fmt_weight(D("12.5")) == "12.5"
    assert fmt_weight(D("12.50")) == "12.5"
    assert fmt_weight(D("9.67")) == "9.67"
    assert fmt_weight(D("100")) == "100"
    assert fmt_weight(None) == ""


# --- 预算执行率 ---------------------------------------------------------------------------------


def test_funding_seed_004():
    result = score_funding(SEED_004_FUNDING)
    assert result.rate == D("96.67")
    assert result.weight == D("10")
    assert result.score == D("9.67")
    assert fmt(result.score) == "9.67"
    assert result.reason_required is False
    assert result.explanation == "执行率 = 10584.29 ÷ 10949.23 = 96.67%，得分 = 10 × 96.67% = 9.67"
    assert result.problems == []


def test_funding_seed_001_table1_low_rate_needs_reason():
    result = score_funding(FundingInput(initial_budget=D("36"), actual=D("30.64")), scored=False)
    assert result.rate == D("85.11")
    assert result.weight is None
    assert result.score is None
    assert result.reason_required is True
    assert result.explanation == "执行率 = 30.64 ÷ 36 = 85.11%（未设分值，不计分）"
    assert [(p.section, p.row, p.field) for p in result.problems] == [("funding", None, "reason")]
    assert result.problems[0].message == "预算执行率为85.11%，低于90%，请填写产生差异的原因"


def test_funding_seed_001_table1_reason_given():
    funding = FundingInput(initial_budget=D("36"), actual=D("30.64"), reason="单位用其它资金弥补该项经费支出")
    result = score_funding(funding, scored=False)
    assert result.reason_required is True
    assert result.problems == []


def test_funding_seed_001_table2_over_100_percent():
    result = score_funding(FundingInput(initial_budget=D("15"), actual=D("22.7")))
    assert result.rate == D("151.33")
    assert result.score == D("10.00")
    assert result.reason_required is True
    assert result.explanation == "执行率 = 22.7 ÷ 15 = 151.33%，得分 = 10 × 100% = 10.00（执行率超过100%按100%计）"
    assert [p.message for p in result.problems] == ["预算执行率为151.33%，超过100%，请填写产生差异的原因"]
    reasoned = score_funding(FundingInput(initial_budget=D("15"), actual=D("22.7"), reason="按文件要求支出"))
    assert reasoned.problems == []


def test_funding_budget_preferred_over_initial_budget():
    result = score_funding(FundingInput(initial_budget=D("100"), budget=D("50"), actual=D("50")))
    assert result.rate == D("100.00")
    assert result.score == D("10.00")
    assert result.reason_required is False


def test_funding_rate_boundaries():
    at_threshold = score_funding(FundingInput(budget=D("100"), actual=D("90")))
    assert (at_threshold.rate, at_threshold.score, at_threshold.reason_required) == (D("90.00"), D("9.00"), False)
    below = score_funding(FundingInput(budget=D("100"), actual=D("89.99")))
    assert (below.rate, below.score, below.reason_required) == (D("89.99"), D("9.00"), True)


def test_funding_score_uses_unrounded_ratio():
    # 96.649% is shown as 96.65%, but the score is 10 × 0.96649 = 9.6649 -> 9.66 (no double rounding).
    result = score_funding(FundingInput(budget=D("100"), actual=D("96.649")))
    assert result.rate == D("96.65")
    assert result.score == D("9.66")


def test_funding_budget_zero():
    result = score_funding(FundingInput(budget=D("0"), actual=D("5")))
    assert result.rate is None
    assert result.score is None
    assert [(p.field, p.message) for p in result.problems] == [("budget", "全年预算数为0，无法计算执行率")]


def test_funding_budget_missing():
    result = score_funding(FundingInput(actual=D("5")))
    assert result.rate is None
    assert result.score is None
    assert [p.field for p in result.problems] == ["budget"]
    assert "缺失" in result.problems[0].message


def test_funding_actual_missing():
    result = score_funding(FundingInput(budget=D("100")))
    assert result.rate is None
    assert [(p.field, p.message) for p in result.problems] == [("actual", "请填写全年执行数（实际投入资金额）")]


# --- Quantitative indicators ------------------------------------------------------------------


def test_more_is_better_achieved():
    result = quantitative("≥10次", "10次", weight=5)
    assert result.kind == KIND_QUANTITATIVE
    assert result.score == D("5.00")
    assert result.achieved is True
    assert result.outcome == OUTCOME_ACHIEVED
    assert result.ratio == D("100.00")
    assert result.flags == []
    assert result.reason_required is False
    assert result.explanation == "≥10次，实际 10次：达成，得满分 5.00"
    assert result.problems == []


def test_more_is_better_not_achieved():
    result = quantitative("≥4754人", "4604人", weight=5)
    assert result.score == D("4.84")
    assert result.achieved is False
    assert result.outcome == OUTCOME_PARTIAL
    assert result.ratio == D("96.84")
    assert result.flags == [FLAG_NOT_ACHIEVED]
    assert result.reason_required is True
    assert result.explanation == "≥4754人，实际 4604人：未达成（完成 96.84%），得分 = 5 × 4604 ÷ 4754 = 4.84"
    assert [(p.section, p.row, p.field) for p in result.problems] == [("indicators", 1, "reason")]
    assert result.problems[0].message == (
        "第1行「公众安全感民意调查」：未达成指标值（≥4754人，实际 4604人），请填写偏差原因分析及改进措施"
    )
    assert quantitative("≥4754人", "4604人", weight=5, reason="疫情影响").problems == []


def test_more_is_better_far_below_target_is_failed():
    result = quantitative("≥10次", "5次", weight=10, reason="r")
    assert result.score == D("5.00")
    assert result.outcome == OUTCOME_FAILED


def test_strictly_greater_scores_like_at_least():
    result = quantitative("＞10次", "10次", weight=5)
    assert result.score == D("5.00")
    assert result.achieved is True


def test_over_achievement_flagged_not_deducted():
    result = quantitative("≥2400份", "3200份", weight=12)
    assert result.score == D("12.00")
    assert result.achieved is True
    assert result.ratio == D("133.33")
    assert result.flags == [FLAG_OVER_ACHIEVEMENT]
    assert result.reason_required is True
    assert result.explanation == "≥2400份，实际 3200份：达成（完成 133.33%，超过130%，需说明原因），得满分 12.00"
    assert [p.field for p in result.problems] == ["reason"]
    assert "133.33%" in result.problems[0].message
    assert quantitative("≥2400份", "3200份", weight=12, reason="群众需求大").problems == []


def test_over_achievement_boundary():
    assert quantitative("≥100人", "130人", weight=5).flags == [FLAG_OVER_ACHIEVEMENT]
    assert quantitative("≥100人", "129.99人", weight=5).flags == []


def test_less_is_better_partial():
    result = quantitative("≤5300元/户", "5830元/户", weight=10, reason="物价上涨")
    assert result.score == D("9.00")
    assert result.achieved is False
    assert result.ratio == D("110.00")
    assert result.flags == [FLAG_NOT_ACHIEVED]
    assert result.explanation == (
        "≤5300元/户，实际 5830元/户：未达成（超出指标值 10.00%），得分 = 10 × (1 − (5830 − 5300) ÷ 5300) = 9.00"
    )
    assert result.problems == []


def test_less_is_better_achieved():
    result = quantitative("≤5300元/户", "5000元/户", weight=10)
    assert result.score == D("10.00")
    assert result.achieved is True
    assert result.flags == []  # over-achievement is only flagged on more-is-better rows


def test_less_is_better_twice_the_target_scores_zero():
    result = quantitative("≤5起", "10起", weight=10, reason="r")
    assert result.score == D("0.00")
    assert result.achieved is False
    assert result.outcome == OUTCOME_FAILED
    assert result.explanation == "≤5起，实际 10起：未达成（达到指标值的2倍及以上），得分 0.00"
    assert quantitative("≤5起", "12起", weight=10, reason="r").score == D("0.00")
    assert quantitative("＜5起", "9起", weight=10, reason="r").score == D("2.00")


def test_equals_zero_target():
    met = quantitative("=0起", "0起", weight=5)
    assert (met.score, met.achieved, met.problems) == (D("5.00"), True, [])
    assert met.ratio is None
    missed = quantitative("＝0起", "2起", weight=5)
    assert (missed.score, missed.achieved) == (D("0.00"), False)
    assert missed.explanation == "＝0起，实际 2起：未达成（指标值为0，实际大于0），得分 0.00"
    assert [p.field for p in missed.problems] == ["reason"]


def test_equals_positive_target_scores_like_at_least():
    result = quantitative("=36万元", "=30.64万元", weight=10, reason="减少补助")
    assert result.score == D("8.51")  # 10 × 30.64 ÷ 36
    assert result.ratio == D("85.11")
    assert quantitative("=100%", "=100%", weight=10).score == D("10.00")


def test_actual_with_operator_uses_its_number():
    result = quantitative("≥13个", "≥13个", weight=10)
    assert result.actual.number == D("13")
    assert result.score == D("10.00")


def test_unit_mismatch_is_a_problem():
    result = quantitative("≥10次", "10人", weight=5, row_number=3)
    assert result.score is None
    assert [(p.section, p.row, p.field) for p in result.problems] == [("indicators", 3, "actual")]
    assert result.problems[0].message == "第3行「公众安全感民意调查」：实际完成值单位“人”与指标值单位“次”不一致"


def test_unit_on_one_side_only_is_accepted():
    assert quantitative("100%", "100", weight=5).score == D("5.00")
    assert quantitative("≥10", "10次", weight=5).problems == []


def test_unparseable_actual_on_quantitative_target():
    result = quantitative("≥10次", "十次", weight=5, row_number=3)
    assert result.kind == KIND_QUANTITATIVE
    assert result.score is None
    assert [(p.row, p.field) for p in result.problems] == [(3, "actual")]
    message = result.problems[0].message
    assert message.startswith("第3行「公众安全感民意调查」：")
    assert "十次" in message


def test_quantitative_without_weight_is_not_scored():
    result = quantitative("≥10次", "10次")
    assert result.score is None
    assert result.achieved is True
    assert result.explanation == "≥10次，实际 10次：达成，未设分值，不计分"


def test_bare_target_is_read_as_equals():
    result = quantitative("50", "40", weight=10, reason="r")
    assert result.score == D("8.00")
    assert quantitative("50", "60", weight=10).score == D("10.00")


# --- Qualitative indicators -------------------------------------------------------------------


def test_qualitative_inferred_achieved_scores_full_weight():
    result = qualitative(None, 10, actual="满意")
    assert result.kind == KIND_QUALITATIVE
    assert result.outcome == OUTCOME_ACHIEVED
    assert result.achieved is True
    assert result.score == D("10.00")
    assert result.explanation == "定性指标：达成年度指标（按实际完成值“满意”认定），得满分 10.00"
    assert result.problems == []


@pytest.mark.parametrize("word", ["达成预期指标", "效果明显", "有所帮助", "有所推升", "满意", "符合相关规定"])
def test_achieved_words_are_inferred(word):
    assert qualitative(None, 5, actual=word).score == D("5.00")


def test_qualitative_partial_score_outside_band_rejected():
    result = qualitative(OUTCOME_PARTIAL, 10, score="8.5", reason="部分工作推迟")
    assert result.score is None
    assert [(p.row, p.field) for p in result.problems] == [(1, "score")]
    assert "得分应在 6.00–7.99 之间" in result.problems[0].message


def test_qualitative_partial_score_inside_band():
    result = qualitative(OUTCOME_PARTIAL, 10, score="7.99", reason="部分工作推迟")
    assert result.score == D("7.99")
    assert result.achieved is False
    assert result.flags == [FLAG_NOT_ACHIEVED]
    assert result.reason_required is True
    assert result.problems == []
    assert qualitative(OUTCOME_PARTIAL, 10, score="6", reason="r").score == D("6.00")


def test_qualitative_achieved_band():
    low = qualitative(OUTCOME_ACHIEVED, 10, score="7")
    assert low.score is None
    assert "得分应在 8.00–10.00 之间" in low.problems[0].message
    assert qualitative(OUTCOME_ACHIEVED, 10, score="8").score == D("8.00")


def test_qualitative_failed_band():
    assert qualitative(OUTCOME_FAILED, 10, score="5.99", reason="r").score == D("5.99")
    high = qualitative(OUTCOME_FAILED, 10, score="6", reason="r")
    assert "得分应在 0.00–5.99 之间" in high.problems[0].message


def test_band_text_for_odd_weights():
    assert scoring.band_text(OUTCOME_PARTIAL, D("5")) == "得分应在 3.00–3.99 之间"
    # 0.8 × 3.33 = 2.664: the largest 2-decimal score below it is 2.66.
    assert scoring.band_text(OUTCOME_PARTIAL, D("3.33")) == "得分应在 2.00–2.66 之间"


def test_qualitative_score_above_weight_rejected():
    result = qualitative(OUTCOME_ACHIEVED, 10, score="12")
    assert result.score is None
    assert [p.field for p in result.problems] == ["score"]
    assert "超过分值 10" in result.problems[0].message


def test_qualitative_partial_needs_score_and_reason():
    result = qualitative(OUTCOME_PARTIAL, 10)
    assert result.score is None
    assert sorted(p.field for p in result.problems) == ["reason", "score"]


def test_qualitative_outcome_missing():
    result = qualitative(None, 10, actual="基本按计划推进")
    assert result.outcome is None
    assert result.score is None
    assert [p.field for p in result.problems] == ["outcome"]


def test_qualitative_outcome_label_accepted():
    assert qualitative("达成年度指标", 10).outcome == OUTCOME_ACHIEVED


def test_qualitative_without_weight_not_scored():
    result = qualitative(None, None)
    assert result.outcome == OUTCOME_ACHIEVED
    assert result.score is None
    assert result.problems == []


def test_missing_fields_and_negative_weight():
    result = score_indicator(IndicatorInput(OUTPUT, "数量指标", "", "≥10次", "", D("-1")), row_number=2)
    assert [(p.row, p.field) for p in result.problems] == [(2, "name"), (2, "actual"), (2, "weight")]
    assert result.score is None
    no_target = score_indicator(IndicatorInput(OUTPUT, "数量指标", "x", "", "10次", D("5")))
    assert [p.field for p in no_target.problems] == ["target"]
    assert no_target.score is None


# --- Weights ----------------------------------------------------------------------------------


def weighted(level1, *weights):
    return [IndicatorInput(level1, "", f"{level1}{i}", "满意", "满意", D(w)) for i, w in enumerate(weights, 1)]


def test_check_weights_seed_004_ok():
    assert check_weights(seed_004_rows()) == []


def test_check_weights_without_weights():
    assert check_weights(seed_001_table1_rows()) == []


def test_check_weights_total_95():
    rows = weighted(OUTPUT, 20, 25) + weighted(BENEFIT, 30) + weighted(SATISFACTION, 10)
    problems = check_weights(rows)
    assert [p.message for p in problems] == [
        "产出指标分值合计 45，应为 50",
        "分值合计 95（预算执行率 10 + 绩效指标 85），应为 100",
    ]
    assert all(p.section == "weights" for p in problems)


def test_check_weights_cost_level1_counts_with_output():
    rows = weighted(OUTPUT, 20, 20) + weighted(COST, 10) + weighted(BENEFIT, 30) + weighted(SATISFACTION, 10)
    assert check_weights(rows) == []
    short = weighted(OUTPUT, 20, 20) + weighted(COST, 5) + weighted(BENEFIT, 30) + weighted(SATISFACTION, 10)
    assert [p.message for p in check_weights(short)][0] == "产出指标（含成本指标）分值合计 45，应为 50"


def test_check_weights_row_without_weight():
    rows = weighted(OUTPUT, 50) + [IndicatorInput(BENEFIT, "", "x", "满意", "满意")] + weighted(SATISFACTION, 10)
    problems = check_weights(rows)
    assert (problems[0].row, problems[0].field) == (2, "weight")
    assert problems[0].message.startswith("第2行未填分值")


def test_spread_weights_seed_001():
    rows = seed_001_table1_rows()
    weights = spread_weights(rows)
    assert weights == [D("10")] * 5 + [D("15")] * 2 + [D("10")]
    assert sum(weights) == D("90")
    assert sum(w for w, r in zip(weights, rows, strict=True) if r.level1 == OUTPUT) == D("50")


def test_spread_weights_remainder_on_last_row():
    rows = weighted(OUTPUT, 0, 0, 0) + weighted(COST, 0) + weighted("其他指标", 0) + weighted(BENEFIT, 0, 0, 0)
    weights = spread_weights(rows)
    assert weights == [D("12.50")] * 4 + [None] + [D("10.00")] * 3
    three = spread_weights(weighted(OUTPUT, 0, 0, 0))
    assert three == [D("16.67"), D("16.67"), D("16.66")]
    assert sum(three) == D("50")


# --- Grade ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "grade"),
    [("100", "优"), ("90.00", "优"), ("89.99", "良"), ("80", "良"), ("79.99", "中"), ("60", "中"), ("59.99", "差"), ("0", "差")],
)
def test_grade_boundaries(total, grade):
    assert grade_for(D(total)) == grade


def test_grade_none():
    assert grade_for(None) is None


# --- Whole form -------------------------------------------------------------------------------


def test_assess_seed_004():
    result = assess(SEED_004_FUNDING, seed_004_rows())
    assert result.scored is True
    assert result.funding.score == D("9.67")
    assert [r.score for r in result.indicators] == [D(w) for w in "5 5 5 5 5 5 10 5 5 10 10 10 10".split()]
    assert result.indicator_total == D("90.00")
    assert result.total == D("99.67")
    assert fmt(result.total) == "99.67"
    assert result.grade == "优"
    assert result.weight_total == D("100")
    assert result.problems == []
    assert result.ok is True
    assert result.indicators[8].kind == KIND_QUANTITATIVE
    assert result.indicators[8].explanation == "100%，实际 100%：达成，得满分 5.00"
    assert result.indicators[12].outcome == OUTCOME_ACHIEVED


def test_assess_seed_001_table1_without_weights():
    rows = seed_001_table1_rows()
    funding = FundingInput(initial_budget=D("36"), actual=D("30.64"), reason="单位用其它资金弥补该项经费支出")
    result = assess(funding, rows)
    assert result.scored is False
    assert result.funding.rate == D("85.11")
    assert result.funding.score is None
    assert result.indicator_total is None
    assert result.total is None
    assert result.grade is None
    assert result.weight_total is None
    assert all(r.score is None for r in result.indicators)
    assert result.problems == []
    parsed = [(r.target, r.actual) for r in result.indicators]
    assert [(t.operator, t.number, t.unit) for t, _ in parsed[:5] + parsed[7:]] == [
        (GE, D("10"), "次"), (GE, D("10"), "次"), (EQ, D("100"), "%"), (EQ, D("100"), "%"),
        (EQ, D("36"), "万元"), (GE, D("95"), "%"),
    ]
    assert [(a.operator, a.number, a.unit) for _, a in parsed[:5] + parsed[7:]] == [
        (None, D("10"), "次"), (None, D("10"), "次"), (EQ, D("100"), "%"), (EQ, D("100"), "%"),
        (EQ, D("30.64"), "万元"), (EQ, D("95"), "%"),
    ]
    assert [r.kind for r in result.indicators[5:7]] == [KIND_QUALITATIVE] * 2
    assert [r.outcome for r in result.indicators] == [OUTCOME_ACHIEVED] * 4 + [OUTCOME_PARTIAL] + [OUTCOME_ACHIEVED] * 3


def test_assess_seed_001_table1_cost_row_needs_its_reason():
    rows = seed_001_table1_rows()
    rows[4].reason = ""
    result = assess(FundingInput(initial_budget=D("36"), actual=D("30.64")), rows)
    assert [(p.section, p.row, p.field) for p in result.problems] == [
        ("funding", None, "reason"),
        ("indicators", 5, "reason"),
    ]
    assert result.problems[1].message.startswith("第5行「综治平安经费」：")


def test_assess_seed_001_table2_with_spread_weights():
    rows = seed_001_table2_rows()
    for row, weight in zip(rows, spread_weights(rows), strict=True):
        row.weight = weight
    funding = FundingInput(initial_budget=D("15"), actual=D("22.7"), reason="本年按文件要求对乡镇、社区的小区奖励经费支出")
    result = assess(funding, rows)
    assert result.problems == []
    assert result.funding.score == D("10.00")
    assert result.indicator_total == D("90.00")
    assert result.total == D("100.00")
    assert result.grade == "优"


def test_assess_reports_weight_total():
    rows = seed_004_rows()
    rows[0].weight = D("0")  # 产出 45, total 95
    rows[0].score = None
    result = assess(SEED_004_FUNDING, rows)
    assert result.weight_total == D("95")
    assert result.ok is False
    weight_messages = [p.message for p in result.problems if p.section == "weights"]
    assert any("95" in m and "100" in m for m in weight_messages)
    assert "产出指标分值合计 45，应为 50" in weight_messages


def test_assess_problem_order_funding_indicators_weights():
    rows = [IndicatorInput(OUTPUT, "数量指标", "a", "≥10次", "十次", D("40"))]
    result = assess(FundingInput(budget=D("0"), actual=D("1")), rows)
    assert [p.section for p in result.problems] == ["funding", "indicators", "weights", "weights"]
    assert result.total is None
    assert result.grade is None


def test_custom_rule_set():
    # Thresholds belong to the round (RuleSet), weights to the table template (TableRules).
    rules = RuleSet(
        name="某省规则",
        over_achievement_ratio=D("1.20"),
        low_rate_threshold=D("0.95"),
        grade_thresholds=(("优", D("95")), ("良", D("85")), ("中", D("60"))),
    )
    table = scoring.TableRules(
        level1_groups=((OUTPUT, D("40"), (OUTPUT,)), (BENEFIT, D("30"), (BENEFIT,)), (SATISFACTION, D("10"), (SATISFACTION,))),
    )
    funding = score_funding(FundingInput(budget=D("100"), actual=D("94"), weight=D("20")), rules)
    assert (funding.score, funding.reason_required) == (D("18.80"), True)
    assert funding.problems[0].message == "预算执行率为94.00%，低于95%，请填写产生差异的原因"
    row = IndicatorInput(OUTPUT, "数量指标", "x", "≥100人", "120人", D("40"))
    assert score_indicator(row, rules).flags == [FLAG_OVER_ACHIEVEMENT]
    assert spread_weights(weighted(OUTPUT, 0, 0), table) == [D("20.00"), D("20.00")]
    rows = weighted(OUTPUT, 20, 20) + weighted(BENEFIT, 30) + weighted(SATISFACTION, 10)
    assert check_weights(rows, table, D("20")) == []
    rows = weighted(OUTPUT, 20, 25) + weighted(BENEFIT, 30) + weighted(SATISFACTION, 10)
    assert [p.message for p in check_weights(rows, table, D("20"))] == [
        "产出指标分值合计 45，应为 40", "分值合计 105（预算执行率 20 + 绩效指标 85），应为 100",
    ]
    assert grade_for(D("94.99"), rules) == "良"
