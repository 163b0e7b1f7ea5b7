"""从Excel粘贴 (issue 17) in Chromium: 13 rows pasted from a TSV clipboard fill the indicator table
and the live 一级 sums; a bad cell is named on save with every row kept; fixed, saved and reloaded,
all 13 rows are there as pasted."""

import pytest
from playwright.sync_api import expect

from .axe import violations
from .test_accessibility import log_in

pytestmark = pytest.mark.django_db(transaction=True)

# level1, level2, name, target, actual, weight, reason — as in the officer's workbook.
ROWS = [
    ("产出指标", "数量指标", "培训次数", "≥10次", "12次", "5", ""),
    ("产出指标", "数量指标", "培训人数", "≥100人", "120人", "5", ""),
    ("产出指标", "数量指标", "宣传活动", "≥6次", "6次", "5", ""),
    ("产出指标", "质量指标", "培训合格率", "≥90%", "95%", "10", ""),
    ("产出指标", "质量指标", "档案完整率", "=100%", "100%", "5", ""),
    ("产出指标", "时效指标", "按期完成率", "=100%", "100%", "10", ""),
    ("产出指标", "成本指标", "培训经费", "≤36万元", "30.64万元", "5", "集中采购节约经费"),
    ("效益指标", "社会效益指标", "群众安全感", "有所提升", "有所提升", "10", ""),
    ("效益指标", "社会效益指标", "矛盾纠纷化解率", "≥95%", "96%", "5", ""),
    ("效益指标", "可持续影响指标", "长效机制", "建立", "已建立", "10", ""),
    ("效益指标", "可持续影响指标", "队伍建设", "有所加强", "有所加强", "5", "多行说明：\n第二行"),
    ("满意度指标", "服务对象满意度指标", "群众满意度", "≥95%", "96%", "5", ""),
    ("满意度指标", "服务对象满意度指标", "学员满意度", "≥90%", "92%", "5", ""),
]
BAD = 3  # 培训合格率: its 分值 typed as letters


def tsv(rows):
    """The clipboard text Excel writes: 一级/二级 blank under the same (merged cells), quoted
    cells where they hold a line break."""
    lines, above = [], ("", "")
    for n, (l1, l2, *rest) in enumerate(rows):
        cells = ["" if l1 == above[0] else l1, "" if (l1, l2) == above else l2, *rest[:3],
                 "abc" if n == BAD else rest[3], "", rest[4]]
        above = (l1, l2)
        lines.append("\t".join(f'"{c}"' if "\n" in c else c for c in cells))
    return "\r\n".join(lines) + "\r\n"


PASTE = """([name, text]) => {
  const cell = document.querySelector(`[name="${name}"]`);
  cell.focus();
  const data = new DataTransfer();
  data.setData("text/plain", text);
  return cell.dispatchEvent(new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true}));
}"""
VALUES = """() => Array.from(document.querySelectorAll("tr.indicator-row")).map((row) =>
  ["level1", "level2", "name", "target", "actual", "weight", "reason"].map(
    (f) => row.querySelector(`[name$="-${f}"]`).value))"""


def test_paste_thirteen_rows_fix_the_bad_cell_save_and_reload(live_server, page, project, alice):
    log_in(page, live_server, alice)
    page.goto(f"{live_server.url}/assessments/{project.pk}/edit/")

    # One cell (Excel ends it with a line break) is an ordinary paste, left to the browser.
    assert page.evaluate(PASTE, ["indicators-0-name", "培训次数\r\n"]) is True
    assert page.evaluate(PASTE, ["indicators-0-name", tsv(ROWS)]) is False
    status = page.locator("#paste-status")
    expect(status.locator("div").first).to_have_text("已粘贴 13 行，请核对后保存草稿。")
    expect(status.locator("li")).to_have_text(["粘贴的第4行“分值”为“abc”：无法识别为数字。已按原文填入，请在表中更正。"])
    # The live 一级 sums follow the pasted weights (the 10 of the bad cell is missing from 产出).
    expect(page.locator("#live-level1-sums")).to_have_text("产出指标 35 / 50效益指标 30 / 30满意度指标 10 / 10")
    expected = [[*r[:5], "abc" if n == BAD else f"{r[5]}.00", r[6]] for n, r in enumerate(ROWS)]
    assert page.evaluate(VALUES) == expected

    # Each save is a form POST the browser navigates with: waited for as such (a loaded CI machine
    # once took longer than an assertion's five seconds to answer it).
    with page.expect_navigation():
        page.locator(".scorebar button[value=save]").click()
    expect(page.locator("#form-errors li")).to_have_text(["绩效指标第4行「分值」：请输入数字，例如 5 或 4.84。"])
    bad = page.locator(f'[name="indicators-{BAD}-weight"]')
    expect(bad).to_have_attribute("aria-invalid", "true")
    expect(bad).to_have_value("abc")
    assert page.evaluate(VALUES) == expected  # every row kept as typed

    bad.fill("10")
    with page.expect_navigation():
        page.locator(".scorebar button[value=save]").click()
    expect(page.locator(".alert-success").first).to_contain_text("草稿已保存。")
    page.reload()
    assert page.evaluate(VALUES) == [[*r[:5], f"{r[5]}.00", r[6]] for r in ROWS]
    expect(page.locator("#live-level1-sums")).to_have_text("产出指标 45 / 50效益指标 30 / 30满意度指标 10 / 10")

    # The box (keyboard and screen-reader users): labelled, fills the same way; the page stays axe-clean.
    page.get_by_role("button", name="从Excel粘贴指标").click()
    box = page.get_by_label("从Excel粘贴指标：", exact=False)
    box.fill("满意度指标\t服务对象满意度指标\t家长满意度\t≥90%\t91%\t\t\t")
    page.get_by_role("button", name="填入指标表").click()
    expect(status.locator("div").first).to_have_text("已粘贴 1 行，请核对后保存草稿。")
    expect(page.locator("tr.indicator-row")).to_have_count(14)
    expect(box).to_be_hidden()
    assert page.evaluate(VALUES)[13] == ["满意度指标", "服务对象满意度指标", "家长满意度", "≥90%", "91%", "", ""]
    page.get_by_role("button", name="从Excel粘贴指标").click()
    assert violations(page) == []
