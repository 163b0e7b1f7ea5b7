"""Includes that pages of both engines show are Jinja2 templates; a Django template places one with
`{% jinja %}` (ADR 0028): with its own context and the values given, escaped, and nothing at all
where the include has nothing to show."""

from django.core.paginator import Paginator
from django.template import Context, Template


def place(source, **context):
    return Template("{% load portal %}" + source).render(Context(context)).strip()


def test_page_numbers_with_values_given_escaped():
    page = Paginator(list(range(120)), 50).get_page(2)
    html = place('{% jinja "includes/page_numbers.html" page=p page_range=r query=q page_label="报告分页" %}',
                 p=page, r=[1, 2, 3], q="round=3&q=<b>")
    assert '<nav aria-label="报告分页" class="page-numbers">' in html
    assert 'href="?round=3&amp;q=&lt;b&gt;&amp;page=3" aria-label="第 3 页"' in html
    assert '<li class="page-item active" aria-current="page"><span class="page-link">2</span></li>' in html
    assert "第 2 / 3 页，共 120 条" in html


def test_an_include_without_what_it_shows_renders_nothing():
    """As Django's include did: no page (a missing or unresolved variable) is no navigation, not an error."""
    assert place('{% jinja "includes/page_numbers.html" %}') == ""
    assert place('{% jinja "includes/page_numbers.html" page=missing %}') == ""
    assert place('{% jinja "includes/page_numbers.html" page=one %}', one=Paginator([1], 50).get_page(1)) == ""


def test_round_select_marks_the_round_chosen():
    from types import SimpleNamespace

    rounds = [SimpleNamespace(pk=3, title="2025年度"), SimpleNamespace(pk=2, title="2024年度")]
    html = place('{% jinja "includes/round_select.html" %}', rounds=rounds, round=rounds[1])
    assert '<option value="3">2025年度</option><option value="2" selected>2024年度</option>' in html
    assert 'selected' not in place('{% jinja "includes/round_select.html" %}', rounds=rounds)
