"""Bar charts as PNG for the 汇总分析报告 (issue 15 §4, ADR 0020), drawn with Pillow.

`bar_chart(title, labels, values)` is a pure function of its arguments and the CJK font: the same
data gives the same PNG bytes (no timestamps or metadata are written). The image is small and fixed
in size (WIDTH × HEIGHT), so memory does not depend on the data. Bars share one scale: the largest
value fills the plot's height (PLOT_BOTTOM − PLOT_TOP pixels) and every bar's height is
round(value / largest × that height).

The font: settings.PORTAL_CJK_FONT (a path; "path#index" for a face of a .ttc) when set, else what
fontconfig matches for `sans-serif:lang=zh-cn` (fonts-noto-cjk, installed by scripts/setup_system.sh
and the Dockerfile), checked to cover Chinese: fc-match always answers with some font, and a
fallback without 汉字 would draw boxes.
"""

import functools
import io
import subprocess

from django.conf import settings
from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1200, 600
PLOT_LEFT, PLOT_RIGHT = 60, WIDTH - 40
PLOT_TOP, PLOT_BOTTOM = 110, HEIGHT - 90  # value labels above PLOT_TOP, category labels below PLOT_BOTTOM
BACKGROUND = (255, 255, 255)
INK = (33, 37, 41)
AXIS = (108, 117, 125)
BAR = (13, 110, 253)
TITLE_SIZE, TEXT_SIZE = 30, 22
SMALLER = (18, 15, 12)  # the sizes a text too wide for its place tries in turn (few sizes: few faces loaded)
FC_PATTERN = "sans-serif:lang=zh-cn"


class ChartFontError(RuntimeError):
    pass


@functools.cache
def font_location() -> tuple[str, int]:
    """(path, face index) of the CJK font; ChartFontError says what to install when there is none."""
    configured = getattr(settings, "PORTAL_CJK_FONT", "")
    if configured:
        path, _, index = configured.partition("#")
        return path, int(index or 0)
    try:
        found = subprocess.run(
            ["fc-match", "-f", "%{file}\t%{index}\t%{lang}", FC_PATTERN],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise ChartFontError(f"图表需要中文字体：fontconfig（fc-match）不可用（{exc}）；请安装 fontconfig 和 fonts-noto-cjk，"
                             "或设置 PORTAL_CJK_FONT 为字体文件路径") from exc
    path, index, langs = (found.split("\t") + ["", "", ""])[:3]
    if not path or "zh-cn" not in langs.split("|"):
        raise ChartFontError(f"图表需要中文字体：fontconfig 找不到支持中文的字体（fc-match 给出 {path or '无'}）；"
                             "请安装 fonts-noto-cjk（scripts/setup_system.sh），或设置 PORTAL_CJK_FONT 为字体文件路径")
    return path, int(index or 0)


@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont:
    path, index = font_location()
    try:
        return ImageFont.truetype(path, size, index=index)
    except OSError as exc:
        raise ChartFontError(f"图表需要中文字体：无法打开 {path}（{exc}）") from exc


def _fitting(draw: ImageDraw.ImageDraw, text: str, width: int, size: int) -> ImageFont.FreeTypeFont:
    """The first of size, then SMALLER, in which `text` fits `width` pixels (else the smallest)."""
    for candidate in (size, *SMALLER):
        if draw.textlength(text, font=_font(candidate)) <= width:
            break
    return _font(candidate)


def _lines(draw: ImageDraw.ImageDraw, text: str, width: int) -> list[str]:
    """A label too wide for its slot goes on two lines, broken after "至" when it has one, else in the middle."""
    if draw.textlength(text, font=_font(TEXT_SIZE)) <= width or len(text) < 2:
        return [text]
    cut = text.index("至") + 1 if "至" in text[:-1] else len(text) // 2
    return [text[:cut], text[cut:]]


def _number(value) -> str:
    return format(value, "f") if not isinstance(value, int) else str(value)


def bar_heights(values, height: int = PLOT_BOTTOM - PLOT_TOP) -> list[int]:
    """Pixel heights of the bars: the largest value fills `height`; all zero when nothing is above zero."""
    top = max((v for v in values), default=0)
    if top <= 0:
        return [0 for _ in values]
    return [max(0, round(float(v) / float(top) * height)) for v in values]


def bar_chart(title: str, labels, values) -> bytes:
    """A vertical bar chart as PNG bytes: one bar per label, its value written above it."""
    labels, values = list(labels), list(values)
    if len(labels) != len(values) or not labels:
        raise ValueError("bar_chart needs as many values as labels, at least one")
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((WIDTH // 2, 24), title, font=_fitting(draw, title, WIDTH - 40, TITLE_SIZE), fill=INK, anchor="mt")
    slot = (PLOT_RIGHT - PLOT_LEFT) / len(labels)
    bar_width = max(4, int(slot * 0.6))
    for n, (label, value, height) in enumerate(zip(labels, values, bar_heights(values), strict=True)):
        centre = int(PLOT_LEFT + slot * n + slot / 2)
        left = centre - bar_width // 2
        if height:
            draw.rectangle((left, PLOT_BOTTOM - height, left + bar_width - 1, PLOT_BOTTOM - 1), fill=BAR)
        text = _number(value)
        draw.text((centre, PLOT_BOTTOM - height - 8), text, font=_fitting(draw, text, int(slot) - 8, TEXT_SIZE),
                  fill=INK, anchor="mb")
        lines = _lines(draw, str(label), int(slot) - 20)
        widest = max(lines, key=lambda line: draw.textlength(line, font=_font(TEXT_SIZE)))
        draw.multiline_text((centre, PLOT_BOTTOM + 12), "\n".join(lines), font=_fitting(draw, widest, int(slot) - 20, TEXT_SIZE),
                            fill=INK, anchor="ma", align="center", spacing=4)
    draw.line((PLOT_LEFT, PLOT_BOTTOM, PLOT_RIGHT, PLOT_BOTTOM), fill=AXIS, width=1)  # the baseline, below the bars
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=6)
    return out.getvalue()
