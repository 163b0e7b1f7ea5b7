"""Personal data in free text: find it and mask it (issue 12, finding 5). Plain Python, no Django.

What counts, as units type it in reasons, report sections and duties:

- 手机号码: 11 digits 1[3-9]…, optionally +86, grouped 3-4-4 by spaces or hyphens;
- 固定电话: area code 0xx/0xxx and a local number of 7-8 digits (with a hyphen, a space,
  brackets or nothing between them; an extension after 转 or -), or a bare local number
  right after 电话/座机/传真/联系方式/Tel/Fax;
- 身份证号码: 18 characters with a valid date of birth and check digit (GB 11643), or the old
  15 digits with a valid date;
- 电子邮箱: name@domain.tld;
- 银行卡号: 16-19 digits starting 3-6, optionally grouped by fours, passing the Luhn check.

Precision matters as much as recall: amounts (10949.23, 13500000000元), years, dates
(20200101, 2020-01-01), percentages and document numbers (财预〔2020〕10号) are not personal
data. A digit run counts only as a whole: not inside a longer run of digits or letters, not the
integer part of a decimal, not followed by a unit of amount. Full-width digits and letters
(as a Chinese input method types them) are recognised as well.

Masking keeps the first and last digits that identify nothing on their own (138****5678,
0731-****3456, 430***********123X, 6222 **** **** 0123, z***@example.com) and every separator,
so a reader still sees that a number was there.
"""

import re
from dataclasses import dataclass
from datetime import date

MOBILE, LANDLINE, ID_CARD, EMAIL, BANK_CARD = "mobile", "landline", "id_card", "email", "bank_card"
LABELS = {
    MOBILE: "手机号码",
    LANDLINE: "固定电话",
    ID_CARD: "身份证号码",
    EMAIL: "电子邮箱",
    BANK_CARD: "银行卡号",
}

# Full-width ASCII (U+FF01-U+FF5E) and the ideographic space, one character for one, so that
# positions in the normalised text are positions in the original.
_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}

_START = r"(?<![0-9A-Za-z])(?<![0-9][.,])"  # not inside a longer run, nor after "12." / "1,"
_END = r"(?![0-9A-Za-z])(?![.,][0-9])"  # nor before ".5" / ",000"
# A number followed by a unit of amount is an amount, however long.
_AMOUNT = re.compile(r"\s*(?:元|圆|万|亿|角|分钱|%|‰|美元)")
_CURRENCY = re.compile(r"(?:¥|￥|RMB|人民币)\s*$")

_PATTERNS = [
    (EMAIL, re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])")),
    (ID_CARD, re.compile(_START + r"[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]" + _END)),
    (ID_CARD, re.compile(_START + r"[1-9][0-9]{5}[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}" + _END)),
    (BANK_CARD, re.compile(_START + r"[3-6][0-9]{3}(?:[ -]?[0-9]{4}){3}(?:[ -]?[0-9]{1,3})?" + _END)),
    (MOBILE, re.compile(_START + r"(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}" + _END)),
    (LANDLINE, re.compile(
        _START + r"(?:\(0[1-9][0-9]{1,2}\)\s?|0(?:10|2[0-9])[ -]?(?=[2-9][0-9]{7})|0[3-9][0-9]{2}[ -]?)"
        r"[2-9][0-9]{6,7}(?:(?:转|-|ext\.?)[0-9]{1,6})?" + _END
    )),
    # A bare local number right after a word that says it is one.
    (LANDLINE, re.compile(
        r"(?:电话|座机|传真|联系方式|联系号码|Tel|TEL|tel|Fax|FAX|fax)[：:\s]*(?:号码)?[：:\s]*(?P<number>(?<![0-9])[2-9][0-9]{6,7}(?![0-9]))"
    )),
]

# Every pattern above needs one of these: an @, seven digits in a row, or a digit, a separator
# and four digits.
_CANDIDATE = re.compile(r"@|[0-9]{7}|[0-9][ )-]\s?[0-9]{4}")
# The same, read in the text as typed (either width): a text without one is not normalised at all
# (a long 自评报告 section costs more to normalise than to search; issue 17).
_TYPED_CANDIDATE = re.compile(r"[@＠]|[0-9０-９]{7}|[0-9０-９][ )\-\u3000）－]\s?[0-9０-９]{4}")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@dataclass(frozen=True)
class Match:
    kind: str
    start: int
    end: int
    text: str  # as typed
    masked: str

    @property
    def label(self) -> str:
        return LABELS[self.kind]


def _normalise(text: str) -> str:
    return text.translate(_WIDTH)


def _digits(text: str) -> str:
    return re.sub(r"[^0-9Xx]", "", text)


def _valid_date(year: int, month: int, day: int) -> bool:
    try:
        born = date(year, month, day)
    except ValueError:
        return False
    return date(1880, 1, 1) <= born <= date.today()


def valid_id(number: str) -> bool:
    """An 18-character 居民身份证号码 with a real date of birth and the right check digit, or a
    15-digit one (issued before 1999) with a real date of birth."""
    number = number.upper()
    if len(number) == 18:
        if not number[:17].isdigit():
            return False
        total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
        return _ID_CHECK[total % 11] == number[17] and _valid_date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    if len(number) == 15 and number.isdigit():
        return _valid_date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))
    return False


def luhn(number: str) -> bool:
    digits = [int(d) for d in number]
    total = 0
    for n, d in enumerate(reversed(digits)):
        if n % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _is_amount(normal: str, start: int, end: int) -> bool:
    return bool(_AMOUNT.match(normal, end)) or bool(_CURRENCY.search(normal[max(0, start - 6):start]))


def _keep_digits(original: str, normal: str, head: int, tail: int) -> str:
    """`original` with every digit but the first `head` and last `tail` replaced by '*';
    separators are kept as typed."""
    positions = [n for n, c in enumerate(normal) if c.isdigit() or c in "Xx"]
    hidden = set(positions[head:len(positions) - tail])
    return "".join("*" if n in hidden else c for n, c in enumerate(original))


def _mask(kind: str, original: str, normal: str) -> str:
    if kind == EMAIL:
        name, _, domain = original.partition("@")
        return f"{name[:1]}***@{domain}"
    if kind == MOBILE:
        prefix = len(_digits(normal)) - 11  # "86" typed before the number
        return _keep_digits(original, normal, prefix + 3, 4)
    if kind == LANDLINE:
        area = re.match(r"\(?(0(?:10|2[0-9]|[3-9][0-9]{2}))", normal)
        return _keep_digits(original, normal, len(area.group(1)) if area else 0, 4)
    if kind == ID_CARD:
        return _keep_digits(original, normal, 3, 4)
    return _keep_digits(original, normal, 4, 4)  # bank card


def find(text: str) -> list[Match]:
    """Every piece of personal data in `text`, in order, none overlapping."""
    if not text or not _TYPED_CANDIDATE.search(text):  # the common case: nothing that could be a match
        return []
    normal = _normalise(text)
    if not _CANDIDATE.search(normal):
        return []
    taken: list[tuple[int, int]] = []
    found: list[Match] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(normal):
            start, end = m.span("number") if "number" in pattern.groupindex else m.span()
            if any(start < e and s < end for s, e in taken):
                continue
            value = normal[start:end]
            if kind != EMAIL and _is_amount(normal, start, end):
                continue
            if kind == ID_CARD and not valid_id(_digits(value)):
                continue
            if kind == BANK_CARD and not luhn(_digits(value)):
                continue
            taken.append((start, end))
            original = text[start:end]
            found.append(Match(kind, start, end, original, _mask(kind, original, value)))
    return sorted(found, key=lambda m: m.start)


def mask(text: str) -> str:
    """`text` with every piece of personal data masked; anything else unchanged."""
    matches = find(text)
    if not matches:
        return text
    parts, last = [], 0
    for m in matches:
        parts += [text[last:m.start], m.masked]
        last = m.end
    parts.append(text[last:])
    return "".join(parts)
