"""The 汇总分析报告's bar charts (assessments/exports/charts_png.py): PNG, deterministic, bars to scale."""

import io

import pytest
from PIL import Image

from assessments.exports import charts_png
from assessments.exports.charts_png import BAR, HEIGHT, PLOT_BOTTOM, PLOT_TOP, WIDTH, bar_chart


def bar_columns(image):
    """{x: number of bar-coloured pixels in column x} for the columns that have any."""
    pixels = image.load()
    columns = {}
    for x in range(WIDTH):
        n = sum(1 for y in range(HEIGHT) if pixels[x, y] == BAR)
        if n:
            columns[x] = n
    return columns


def test_same_data_same_bytes_and_a_png_of_the_stated_size():
    first = bar_chart("评价等级分布（份数）", ["优", "良", "中", "差", "未评定"], [3, 6, 5, 2, 0])
    assert first == bar_chart("评价等级分布（份数）", ["优", "良", "中", "差", "未评定"], [3, 6, 5, 2, 0])
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(first))
    assert (image.format, image.size, image.mode) == ("PNG", (WIDTH, HEIGHT), "RGB") == ("PNG", (1200, 600), "RGB")
    assert first != bar_chart("评价等级分布（份数）", ["优", "良", "中", "差", "未评定"], [3, 6, 5, 3, 0])


def test_a_bars_height_is_proportional_to_its_value():
    image = Image.open(io.BytesIO(bar_chart("两根柱", ["甲", "乙"], [10, 5])))
    columns = bar_columns(image)
    heights = sorted(set(columns.values()), reverse=True)
    plot = PLOT_BOTTOM - PLOT_TOP
    assert heights == [plot, plot // 2] == [400, 200]
    # Two bars of equal width, the taller one on the left; each rises from the baseline.
    left = [x for x, n in columns.items() if n == plot]
    right = [x for x, n in columns.items() if n == plot // 2]
    assert len(left) == len(right) == 330 and (min(left), min(right)) == (170, 720)
    pixels = image.load()
    assert pixels[left[0], PLOT_BOTTOM - 1] == BAR and pixels[left[0], PLOT_BOTTOM - plot] == BAR
    assert pixels[left[0], PLOT_BOTTOM - plot - 1] != BAR
    assert pixels[right[0], PLOT_BOTTOM - plot // 2] == BAR and pixels[right[0], PLOT_BOTTOM - plot // 2 - 1] != BAR
    assert charts_png.bar_heights([10, 5, 0, 1]) == [400, 200, 0, 40]


def test_long_labels_go_on_two_lines():
    from PIL import ImageDraw

    draw = ImageDraw.Draw(Image.new("RGB", (10, 10)))
    assert charts_png._lines(draw, "90%（含）至100%（含）", 163) == ["90%（含）至", "100%（含）"]
    assert charts_png._lines(draw, "低于60%", 163) == ["低于60%"]


def test_all_zero_draws_no_bars():
    assert bar_columns(Image.open(io.BytesIO(bar_chart("无数据", ["优", "良"], [0, 0])))) == {}


def test_mismatched_input_is_refused():
    with pytest.raises(ValueError):
        bar_chart("t", ["甲"], [1, 2])


def test_no_cjk_font_is_a_clear_error(settings, monkeypatch):
    """fc-match answers with a fallback without 汉字 (DejaVu): refused with what to install."""

    class Done:
        stdout = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf\t0\ten|fr|de"

    monkeypatch.setattr(charts_png.subprocess, "run", lambda *a, **k: Done())
    settings.PORTAL_CJK_FONT = ""
    charts_png.font_location.cache_clear()
    charts_png._font.cache_clear()
    try:
        with pytest.raises(charts_png.ChartFontError, match="fonts-noto-cjk"):
            bar_chart("t", ["甲"], [1])
    finally:
        charts_png.font_location.cache_clear()
        charts_png._font.cache_clear()


def test_the_font_can_be_set(settings):
    path, index = charts_png.font_location()
    charts_png.font_location.cache_clear()
    charts_png._font.cache_clear()
    try:
        settings.PORTAL_CJK_FONT = f"{path}#{index}"
        assert charts_png.font_location() == (path, index)
        settings.PORTAL_CJK_FONT = "/nonexistent/font.ttc"
        charts_png.font_location.cache_clear()
        charts_png._font.cache_clear()
        with pytest.raises(charts_png.ChartFontError, match="/nonexistent/font.ttc"):
            bar_chart("t", ["甲"], [1])
    finally:
        charts_png.font_location.cache_clear()
        charts_png._font.cache_clear()
