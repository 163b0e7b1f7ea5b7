"""复核 scoring without Django: `score_review`, `review_assessment` and the grade boundaries."""

from decimal import Decimal

import pytest

from assessments import scoring
from assessments.scoring import (
    FundingInput,
    IndicatorInput,
    ReviewInput,
    assess,
    grade_for,
    review_assessment,
    score_indicator,
    score_review,
)

from .helpers import SEED_004_INDICATORS

D = Decimal


def row(target, actual, weight, *, name="测试指标", level1="产出指标", level2="数量指标", outcome=None, score=None, reason=""):
    return IndicatorInput(
        level1=level1, level2=level2, name=name, target=target, actual=actual,
        weight=None if weight is None else D(weight), outcome=outcome,
        score=None if score is None else D(score), reason=reason,
    )


def review(r, rv, *, number=1):
    return score_review(r, score_indicator(r, row_number=number), rv, row_number=number)


def messages(result):
    return [p.message for p in result.problems]


# --- grade boundaries -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "grade"),
    [
        ("100.00", "优"), ("90.00", "优"), ("89.99", "良"), ("80.00", "良"), ("79.99", "中"),
        ("60.00", "中"), ("59.99", "差"), ("0.00", "差"),
    ],
)
def test_grade_boundaries(total, grade):
    assert grade_for(D(total)) == grade


def test_no_total_no_grade():
    assert grade_for(None) is None


def test_grade_thresholds_come_from_the_rule_set():
    strict = scoring.RuleSet(grade_thresholds=(("优", D("95")), ("良", D("85")), ("中", D("70"))))
    assert grade_for(D("94.99"), strict) == "良"
    assert grade_for(D("95.00"), strict) == "优"


# --- score_review: one row ---------------------------------------------------------------------


def test_blank_review_keeps_the_self_score():
    r = row("有所帮助", "有所帮助", "10", level1="效益指标", level2="社会效益指标")
    result = review(r, ReviewInput())
    assert (result.score, result.self_score, result.gap) == (D("10.00"), D("10.00"), D("0.00"))
    assert result.explanation == "沿用自评得分，复核得分 10.00"
    assert result.problems == []


def test_review_score_above_weight_is_refused():
    r = row("有所帮助", "有所帮助", "10", name="维护社会秩序", level1="效益指标", level2="社会效益指标")
    result = review(r, ReviewInput(score=D("12"), note="x"), number=10)
    assert result.score is None
    assert messages(result) == ["第10行「维护社会秩序」：复核得分 12.00 应在 0.00–10.00 之间"]
    assert result.problems[0].field == "review_score"
    assert result.explanation == "未计复核得分"


def test_negative_review_score_is_refused():
    r = row("≥10次", "10次", "5", name="培训")
    result = review(r, ReviewInput(score=D("-1"), note="x"))
    assert messages(result) == ["第1行「培训」：复核得分 -1.00 应在 0.00–5.00 之间"]


def test_review_score_on_row_without_weight_is_refused():
    r = row("≥10次", "10次", None, name="培训")
    result = review(r, ReviewInput(score=D("3")))
    assert result.score is None
    assert messages(result) == ["第1行「培训」：该行未设分值，不能填写复核得分"]


def test_review_score_equal_to_weight_is_allowed():
    r = row("≥10次", "10次", "5", name="培训")
    result = review(r, ReviewInput(score=D("5")))
    assert (result.score, result.gap, result.problems) == (D("5.00"), D("0.00"), [])
    assert result.explanation == "复核人填写，复核得分 5.00"


def test_qualitative_review_outside_reviewer_outcome_band_is_refused():
    # SCORING.md: 定性, 部分达成, w 10, score 8.5 -> rejected (band 6.00–7.99)
    r = row("有所帮助", "有所帮助", "10", name="维护社会秩序", level1="效益指标", level2="社会效益指标")
    result = review(r, ReviewInput(outcome="partial", score=D("8.5"), note="部分达成"), number=11)
    assert result.score is None
    assert messages(result) == ["第11行「维护社会秩序」：复核部分达成年度指标并具有一定效果，得分应在 6.00–7.99 之间（当前 8.50）"]


def test_qualitative_review_outside_self_outcome_band_is_refused():
    # No reviewer outcome: the officer's (达成, inferred from "有所帮助") band applies: 8.00–10.00.
    r = row("有所帮助", "有所帮助", "10", name="维护社会秩序", level1="效益指标", level2="社会效益指标")
    result = review(r, ReviewInput(score=D("7.99"), note="效果一般"))
    assert messages(result) == ["第1行「维护社会秩序」：复核达成年度指标，得分应在 8.00–10.00 之间（当前 7.99）"]


def test_qualitative_review_inside_reviewer_outcome_band():
    r = row("有所帮助", "有所帮助", "10", level1="效益指标", level2="社会效益指标")
    result = review(r, ReviewInput(outcome="partial", score=D("7.99"), note="仅部分达成"))
    assert (result.score, result.gap, result.problems) == (D("7.99"), D("-2.01"), [])
    assert result.explanation == "复核人填写，复核得分 7.99（较自评 -2.01）"


def test_qualitative_review_outcome_by_label_is_accepted():
    r = row("有所帮助", "有所帮助", "10", level1="效益指标", level2="社会效益指标")
    result = review(r, ReviewInput(outcome="未达成年度指标且效果较差", score=D("5.99"), note="未达成"))
    assert (result.score, result.problems) == (D("5.99"), [])
    refused = review(r, ReviewInput(outcome="未达成年度指标且效果较差", score=D("6"), note="未达成"))
    assert messages(refused) == ["第1行「测试指标」：复核未达成年度指标且效果较差，得分应在 0.00–5.99 之间（当前 6.00）"]


def test_lower_review_score_needs_a_note():
    r = row("有所帮助", "有所帮助", "10", name="维护社会秩序", level1="效益指标", level2="社会效益指标")
    result = review(r, ReviewInput(score=D("8")), number=10)
    assert messages(result) == ["第10行「维护社会秩序」：复核得分 8.00 低于自评得分 10.00，请填写复核说明"]
    assert result.problems[0].field == "review_note"
    assert result.score == D("8.00")  # the score itself is fine; only the note is missing

    blank_note = review(r, ReviewInput(score=D("8"), note="  \n "), number=10)
    assert messages(blank_note) == messages(result)

    with_note = review(r, ReviewInput(score=D("8"), note="佐证材料不足"), number=10)
    assert (with_note.score, with_note.gap, with_note.problems) == (D("8.00"), D("-2.00"), [])
    assert with_note.explanation == "复核人填写，复核得分 8.00（较自评 -2.00）"


def test_higher_review_score_needs_no_note():
    r = row("有所帮助", "有所帮助", "10", level1="效益指标", level2="社会效益指标", outcome="partial", score="7", reason="部分未完成")
    result = review(r, ReviewInput(score=D("7.5")))
    assert (result.self_score, result.score, result.gap, result.problems) == (D("7.00"), D("7.50"), D("0.50"), [])
    assert result.explanation == "复核人填写，复核得分 7.50（较自评 +0.50）"


@pytest.mark.parametrize(
    ("target", "self_actual", "review_actual", "weight", "expected"),
    [
        ("≤5300元/户", "5300元/户", "5830元/户", "10", "9.00"),
        ("≥4754人", "4754人", "4604人", "5", "4.84"),
        ("100%", "100%", "90%", "5", "4.50"),
        ("≥2400份", "2400份", "3200份", "12", "12.00"),
    ],
)
def test_quantitative_review_actual_scores_by_the_same_formula(target, self_actual, review_actual, weight, expected):
    r = row(target, self_actual, weight)
    result = review(r, ReviewInput(actual=review_actual, note="抽查核实"))
    # Same number as the officer's scoring of that actual.
    assert result.score == D(expected) == score_indicator(row(target, review_actual, weight, reason="x")).score
    assert result.problems == []
    assert result.explanation.startswith(f"按复核完成值 {review_actual} 计算，复核得分 {expected}")


def test_quantitative_review_actual_lower_needs_note():
    r = row("100%", "100%", "5", name="专项资金合规使用率")
    result = review(r, ReviewInput(actual="90%"), number=9)
    assert result.score == D("4.50")
    assert messages(result) == ["第9行「专项资金合规使用率」：复核得分 4.50 低于自评得分 5.00，请填写复核说明"]


def test_explicit_review_score_wins_over_review_actual():
    r = row("100%", "100%", "5")
    result = review(r, ReviewInput(actual="90%", score=D("4"), note="抽查"))
    assert result.score == D("4.00")
    assert result.explanation == "复核人填写，复核得分 4.00（较自评 -1.00）"


def test_unreadable_review_actual_is_a_problem():
    r = row("≥4754人", "4754人", "5", name="培训人数")
    result = review(r, ReviewInput(actual="约四千人"))
    assert messages(result) == ["第1行「培训人数」：复核完成值“约四千人”无法识别为数值"]
    assert result.problems[0].field == "review_actual"


def test_review_actual_with_other_unit_is_not_silently_ignored():
    # The reviewer typed a 复核完成值 that cannot be compared with the target (元 vs 元/户).
    # It must not be dropped without a word while the self score is kept.
    r = row("≤5300元/户", "5300元/户", "10", name="户均成本")
    result = review(r, ReviewInput(actual="5830元", note="抽查"))
    assert [p.field for p in result.problems] == ["review_actual"]
    assert "单位" in result.problems[0].message


def test_review_actual_on_qualitative_row_does_not_change_the_score():
    r = row("有所帮助", "有所帮助", "10", level1="效益指标", level2="社会效益指标")
    result = review(r, ReviewInput(actual="帮助不大"))
    assert (result.score, result.problems) == (D("10.00"), [])


# --- review_assessment: totals --------------------------------------------------------------


def seed_004():
    rows = [
        IndicatorInput(level1=l1, level2=l2, name=name, target=target, actual=actual, weight=D(w),
                       outcome="achieved" if scoring.parse_value(target) is None else None)
        for l1, l2, name, target, actual, w in SEED_004_INDICATORS
    ]
    return assess(FundingInput(budget=D("10949.23"), actual=D("10584.29")), rows), rows


def test_seed_004_two_rows_lowered_by_two_gives_95_67():
    result, rows = seed_004()
    assert (result.total, result.grade) == (D("99.67"), "优")
    reviews = [ReviewInput() for _ in rows]
    reviews[9] = ReviewInput(score=D("8.00"), note="调解成功率未达预期")
    reviews[10] = ReviewInput(score=D("8.00"), note="稳控台账不完整")

    totals = review_assessment(result, rows, reviews)

    assert totals.total == D("95.67")
    assert totals.grade == "优"
    assert totals.gap == D("-4.00")
    assert totals.problems == []
    assert [r.score for r in totals.rows] == (
        [D("5.00")] * 6 + [D("10.00"), D("5.00"), D("5.00"), D("8.00"), D("8.00"), D("10.00"), D("10.00")]
    )
    assert [r.gap for r in totals.rows][9:11] == [D("-2.00"), D("-2.00")]


def test_review_totals_collect_every_row_problem():
    result, rows = seed_004()
    reviews = [ReviewInput() for _ in rows]
    reviews[0] = ReviewInput(score=D("6"))
    reviews[9] = ReviewInput(score=D("8"))
    totals = review_assessment(result, rows, reviews)
    assert [p.message for p in totals.problems] == [
        "第1行「指标1：坚持源头治理，防范风险，组织实施风险评估项目数量」：复核得分 6.00 应在 0.00–5.00 之间",
        "第10行「指标1：维护好企业的合法权益」：复核得分 8.00 低于自评得分 10.00，请填写复核说明",
    ]
    # The refused row has no review score, so there is no review total (nothing partial is
    # given as a total); the row without a note still has its score.
    assert totals.rows[0].score is None
    assert totals.rows[9].score == D("8.00")
    assert totals.total is None
    assert totals.grade is None


def simple_form():
    rows = [
        row("≥10次", "10次", "50", name="培训次数"),
        row("有所帮助", "有所帮助", "30", name="维护社会秩序", level1="效益指标", level2="社会效益指标"),
        row("≥95%", "96%", "10", name="群众满意度", level1="满意度指标", level2="服务对象满意度指标"),
    ]
    return assess(FundingInput(budget=D("100"), actual=D("100")), rows), rows


@pytest.mark.parametrize(("score", "total", "grade"), [("19.99", "89.99", "良"), ("20.00", "90.00", "优")])
def test_review_total_grade_boundary(score, total, grade):
    result, rows = simple_form()
    assert result.total == D("100.00")
    reviews = [ReviewInput(), ReviewInput(outcome="partial", score=D(score), note="效果不明显"), ReviewInput()]

    totals = review_assessment(result, rows, reviews)

    assert totals.problems == []
    assert (totals.total, totals.grade) == (D(total), grade)
    assert totals.gap == D(total) - D("100")


def test_review_total_without_weights_is_none():
    rows = [row("≥10次", "10次", None)]
    result = assess(FundingInput(initial_budget=D("36"), actual=D("30.64"), reason="节约"), rows)
    totals = review_assessment(result, rows, [ReviewInput()])
    assert (totals.total, totals.grade, totals.gap) == (None, None, None)
