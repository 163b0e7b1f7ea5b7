"""The code's words (states, kinds, actions, a constant text) are written into the statements of the
reviewer's lists, and a page's LIMIT and OFFSET as numbers: with them as parameters PostgreSQL
never kept one plan for these prepared statements and planned their joins again on every request
(0.2–1 ms each: the 待办, 结果应用, the 登记簿 and the dashboard's units without a 部门整体 自评;
issue 17, thirteenth round)."""

import datetime

import pytest
from django.db import connection

from assessments import register, results, season, todo

pytestmark = pytest.mark.django_db

# What must not be a parameter of these statements.
WORDS = {"draft", "returned", "submitted", "forwarded", "in_review", "approved", "published", "active", "approve",
         "department", ""}


def sent(read) -> tuple[str, tuple]:
    """The one statement `read()` sends, as sent (placeholders and parameters, not as logged), once
    the reviewer's roles are read."""
    read()
    seen = []

    def spy(execute, sql, params, many, context):
        seen.append((sql, tuple(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        read()
    assert len(seen) == 1, seen
    return seen[0]


def test_the_reviewers_lists_write_the_codes_words_and_their_page_into_the_statement(reviewer, round_2020):
    today = datetime.date(2021, 1, 1)
    counted, listed = register._statements(round_2020.disclosure_days)
    cases = {
        "todo": (lambda: todo._DISCLOSURE_PENDING.all(reviewer),
                 ["\"state\" = 'approved'", "\"disclosure\" = 'active'", "\"action\" = 'approve'", "IN ('draft')"]),
        "results": (lambda: results._LISTED.all(reviewer, round_2020.pk, offset=0, limit=50),
                    ["IN ('approved', 'published')", "IN ('draft')", ", '')", " LIMIT 50 OFFSET 0"]),
        "register rows": (lambda: listed.all(reviewer, round_2020.pk, today, offset=100, limit=100),
                          ["IN ('approved', 'published')", " LIMIT 100 OFFSET 100"]),
        "register counts": (lambda: counted.all(reviewer, round_2020.pk, today), ["IN ('approved', 'published')"]),
        "late units": (lambda: season._UNITS_WITHOUT_DEPARTMENT.all(reviewer, round_2020.pk),
                       ["\"kind\" = 'department'", "IN ('draft', 'returned')"]),
    }
    for name, (read, written) in cases.items():
        sql, params = sent(read)
        for words in written:
            assert words in sql, (name, words, sql)
        if name.startswith("register"):  # its CASE's labels and states stay parameters; its WHERE not
            continue
        assert not {str(p) for p in params if isinstance(p, str)} & WORDS, (name, params)
