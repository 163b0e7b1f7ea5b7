"""Issue 17, part 5: an assessment's rows read by statements compiled once per process
(`childrows`, `readmodel.with_content`) are what `prefetch_related` gives, left where it leaves
them, and what the relation still reads when asked anything else."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, prefetch_related_objects
from django.urls import reverse

from assessments import childrows, pagecache, readmodel
from assessments.models import Assessment, Goal, Indicator, ProjectExpense, Round

from .test_access_matrix import valid_assessment


@pytest.fixture
def two(alice, bob, unit_a, unit_b, round_2020):
    """Two assessments with rows in every table, values of every kind (JSON, Decimal, text)."""
    a = valid_assessment(unit_a, round_2020, "逐表读取甲", user=alice)
    b = valid_assessment(unit_b, round_2020, "逐表读取乙", user=bob)
    for n, x in enumerate((a, b)):
        Goal.objects.filter(assessment=x).delete()
        Goal.objects.bulk_create(Goal(assessment=x, position=p, target=f"目标{n}{p}", achieved="已完成") for p in (2, 1))
        ProjectExpense.objects.create(assessment=x, position=1, name=f"支出{n}", budget=Decimal("12.30"), actual=Decimal("1"))
        Indicator.objects.filter(assessment=x, position=2).update(extra={"own": "自有<列>", "n": 2}, score=Decimal("7.25"))
    return a, b


def _loaded(a):
    return [(relation.name, [pagecache.row_values(row) for row in getattr(a, relation.name).all()])
            for relation in readmodel.CONTENT]


def test_the_rows_are_what_prefetch_related_gives(two, django_assert_num_queries):
    a, _ = two
    with django_assert_num_queries(1 + len(readmodel.CONTENT)):
        loaded = readmodel.with_content(Assessment.objects).get(pk=a.pk)
    reference = Assessment.objects.get(pk=a.pk)
    prefetch_related_objects([reference], *(relation.prefetch() for relation in readmodel.CONTENT))
    with django_assert_num_queries(0):
        rows = _loaded(loaded)
        # Each row has its assessment (no query), the very instance loaded.
        assert all(row.assessment is loaded for relation in readmodel.CONTENT for row in getattr(loaded, relation.name).all())
    assert rows == _loaded(reference)
    indicators = dict(rows)["indicators"]
    assert [len(r) for r in indicators] == [len(Indicator._meta.concrete_fields)] * 3
    second = loaded.indicators.all()[1]
    assert second.extra == {"own": "自有<列>", "n": 2} and second.score == Decimal("7.25")
    assert [g.target for g in loaded.goals.all()] == ["目标01", "目标02"]  # in the relation's order
    assert type(loaded.project_expenses.all()[0].budget) is Decimal


def test_the_relation_still_reads_only_its_assessment_rows(two, django_assert_num_queries):
    a, b = two
    loaded = readmodel.with_content(Assessment.objects).get(pk=a.pk)
    with django_assert_num_queries(2):
        assert loaded.indicators.count() == 3  # counted from the rows read, as after prefetch_related
        assert {i.assessment_id for i in loaded.indicators.filter(weight__isnull=False)} == {a.pk}
        assert [g.position for g in loaded.goals.order_by("-position")] == [2, 1]
    assert Indicator.objects.filter(assessment=b).count() == 3  # the other assessment's rows were there


def test_several_assessments_are_read_as_prefetch_related_reads_them(two, django_assert_num_queries):
    a, b = two
    with django_assert_num_queries(1 + len(readmodel.CONTENT)):
        both = list(readmodel.with_content(Assessment.objects.filter(pk__in=[a.pk, b.pk]).order_by("pk")))
    with django_assert_num_queries(0):
        assert [[g.target for g in x.goals.all()] for x in both] == [["目标01", "目标02"], ["目标11", "目标12"]]
        assert [x.indicators.all()[0].assessment is x for x in both] == [True, True]


def test_each_statement_is_compiled_once(two, monkeypatch):
    a, b = two
    for relation in readmodel.CONTENT:
        relation._statements.clear()
    compiled = []
    real = childrows.Relation._compile

    def counting(self, using):
        compiled.append(self.name)
        return real(self, using)

    monkeypatch.setattr(childrows.Relation, "_compile", counting)
    for pk in (a.pk, b.pk, a.pk):
        readmodel.load(pk)
    assert sorted(compiled) == sorted(relation.name for relation in readmodel.CONTENT)
    assert readmodel.load(b.pk).assessment.project_name == "逐表读取乙"


def test_a_statement_of_another_shape_is_left_to_prefetch_related(two, django_assert_num_queries, monkeypatch):
    """A compiled query that is not a plain select with the parent's id as its one parameter (here,
    as if the model's manager added a filter of its own) is not kept: prefetch_related reads it."""
    a, _ = two
    relation = readmodel.CONTENT[-2]  # indicators
    relation._statements.clear()
    real = childrows.Relation._compile
    monkeypatch.setattr(childrows.Relation, "_compile", lambda self, using: None if self is relation else real(self, using))
    with django_assert_num_queries(1 + len(readmodel.CONTENT)):
        loaded = readmodel.with_content(Assessment.objects).get(pk=a.pk)
    with django_assert_num_queries(0):
        assert [i.position for i in loaded.indicators.all()] == [1, 2, 3]
    monkeypatch.undo()
    relation._statements.clear()
    assert relation.statement("default") is not None


def test_an_assessment_by_its_id_is_what_with_content_reads(two, django_assert_num_queries):
    """`readmodel.load_content`: the assessment with everything it refers to, by a statement compiled
    once, then its rows: what `with_content(...).get(pk=…)` gives, in as many queries."""
    a, b = two
    reference = readmodel.with_content(Assessment.objects).get(pk=a.pk)
    with django_assert_num_queries(1 + len(readmodel.CONTENT)):
        loaded = readmodel.load_content(a.pk)
    with django_assert_num_queries(0):
        assert pagecache.instance_values(loaded) == pagecache.instance_values(reference)
        assert loaded.unit.region.name == reference.unit.region.name and loaded.round.rule_set == reference.round.rule_set
        assert loaded.template_version.template.code == "project" and loaded._state.fields_cache["task"] is None
        assert _loaded(loaded) == _loaded(reference)
    assert readmodel.load_content(b.pk).project_name == "逐表读取乙"
    missing = Assessment.objects.order_by("-pk").first().pk + 1
    with pytest.raises(Assessment.DoesNotExist):
        readmodel.load_content(missing)
    with pytest.raises(Assessment.DoesNotExist):
        readmodel.load(missing)


def test_an_officer_reads_only_the_assessments_of_the_units(two, client, alice):
    a, b = two
    client.force_login(alice)
    assert client.get(reverse("assessments:edit", args=[a.pk])).status_code == 200
    assert client.get(reverse("assessments:edit", args=[b.pk])).status_code == 404  # bob's unit
    assert client.get(reverse("assessments:detail", args=[b.pk + 1000])).status_code == 404


def test_the_account_of_a_request_is_read_by_a_statement_compiled_once(alice, bob, django_assert_num_queries):
    from django.contrib.auth import get_user_model

    from assessments.security.backends import LockoutBackend

    backend = LockoutBackend()
    with django_assert_num_queries(1):
        user = backend.get_user(alice.pk)
    assert pagecache.row_values(user) == pagecache.row_values(get_user_model().objects.get(pk=alice.pk))
    assert backend.get_user(str(bob.pk)).username == "bob"  # as a session keeps it
    get_user_model().objects.filter(pk=bob.pk).update(is_active=False)
    assert backend.get_user(bob.pk) is None  # an inactive account is no one's session
    assert backend.get_user(get_user_model().objects.order_by("-pk").first().pk + 1) is None


# --- Statement: any queryset of a fixed shape, compiled once --------------------------------------

def _as_read(rows):
    """Model instances as values, with what select_related and annotations set on them."""
    out = []
    for row in rows:
        if not hasattr(row, "_meta"):
            out.append(row)
            continue
        related = {name: pagecache.row_values(obj) if obj is not None else None
                   for name, obj in sorted(row._state.fields_cache.items())}
        extra = {k: v for k, v in vars(row).items() if k.startswith("n_")}
        out.append((pagecache.row_values(row), related, extra))
    return out


DEADLINE = datetime.date(2021, 3, 31)
STATEMENT_SHAPES = {
    "models with select_related": (
        lambda unit, year: Indicator.objects.filter(assessment__unit_id=unit, assessment__round__year=year)
        .exclude(level1="无此一级").filter(assessment__round__is_open=True)  # constants beside the values
        .select_related("assessment__unit", "assessment__round").order_by("assessment_id", "position"), (int, int)),
    "an annotation": (
        lambda unit: Assessment.objects.filter(unit_id=unit).annotate(n_rows=Count("indicators")).order_by("pk"), (int,)),
    "values_list": (
        lambda title: Goal.objects.filter(target=title).values_list("assessment_id", "position", "target").order_by("pk"),
        (str,)),
    "values": (lambda ids: Assessment.objects.filter(unit_id__in=ids).values("pk", "unit__name").order_by("pk"),
               (childrows.Ids,)),
    "a date": (lambda day, unit: Assessment.objects.filter(round__deadline__lt=day, unit_id=unit).values_list("pk", flat=True)
               .order_by("pk"), (datetime.date, int)),
}


@pytest.mark.parametrize("shape", STATEMENT_SHAPES)
def test_a_statement_gives_what_the_orm_gives_for_every_value(two, shape, monkeypatch, django_assert_num_queries):
    from django.db.models.sql.compiler import SQLCompiler

    a, b = two
    Round.objects.filter(pk=a.round_id).update(deadline=DEADLINE)
    make, kinds = STATEMENT_SHAPES[shape]
    statement = childrows.Statement(make, *kinds)
    arguments = {
        "models with select_related": [(a.unit_id, a.round.year), (b.unit_id, a.round.year), (a.unit_id, 1999)],
        "an annotation": [(a.unit_id,), (b.unit_id,), (0,)],
        "values_list": [("目标01",), ("目标12",), ("目标01' OR 1=1 --",)],
        "values": [((a.unit_id,),), ((a.unit_id, b.unit_id),), ((b.unit_id, a.unit_id),), ((b.unit_id,),)],
        "a date": [(DEADLINE + datetime.timedelta(days=1), a.unit_id), (DEADLINE, a.unit_id),
                   (DEADLINE + datetime.timedelta(days=1), b.unit_id)],
    }[shape]
    expected = [_as_read(make(*values)) for values in arguments]
    assert sum(map(len, expected)) > 0
    compiled = []
    original = SQLCompiler.as_sql
    monkeypatch.setattr(SQLCompiler, "as_sql", lambda self, *args, **kwargs: compiled.append(1) or original(self, *args, **kwargs))
    for values, rows in zip(arguments, expected, strict=True):
        with django_assert_num_queries(1):
            assert _as_read(statement.all(*values)) == rows
    again = len(compiled)
    for values, rows in zip(arguments, expected, strict=True):
        assert _as_read(statement.all(*values)) == rows
    assert len(compiled) == again  # compiled once (per number of ids): never again
    # Compiled twice (with two sets of stand-ins, compared) per number of ids.
    assert again == 2 * (2 if shape == "values" else 1)


def test_a_statement_with_prefetched_rows_reads_them_as_the_orm_does(two, django_assert_num_queries):
    a, _ = two
    statement = childrows.Statement(lambda pk: Assessment.objects.filter(pk=pk).prefetch_related("goals"), int)
    statement.all(a.pk)
    with django_assert_num_queries(2):
        (found,) = statement.all(a.pk)
    reference = Assessment.objects.filter(pk=a.pk).prefetch_related("goals").get()
    with django_assert_num_queries(0):
        assert [g.target for g in found.goals.all()] == [g.target for g in reference.goals.all()] == ["目标01", "目标02"]


@pytest.mark.parametrize(("make", "kinds", "values"), [
    # A value changed on its way into the statement (a LIKE pattern): the ORM's own query.
    (lambda text: Goal.objects.filter(target__contains=text).values_list("target", flat=True).order_by("pk"), (str,), ("目标0",)),
    # A value that shapes the query in Python, not as a parameter.
    (lambda n: Goal.objects.order_by("pk").values_list("target", flat=True)[:2] if n else Goal.objects.none(), (int,), (1,)),
    # No ids, and more ids than are compiled for.
    (lambda ids: Goal.objects.filter(assessment_id__in=ids).values_list("target", flat=True).order_by("pk"), (childrows.Ids,),
     ((),)),
    (lambda ids: Goal.objects.filter(assessment_id__in=ids).values_list("target", flat=True).order_by("pk"), (childrows.Ids,),
     (tuple(range(1, childrows.Statement.MAX_IDS + 2)),)),
])
def test_a_statement_of_another_shape_is_left_to_the_orm(two, make, kinds, values):
    statement = childrows.Statement(make, *kinds)
    assert statement.all(*values) == list(make(*values))
    assert all(found is None for found in statement._compiled.values())
    assert statement.all(*values) == list(make(*values))


def test_a_reviewer_opens_by_id_exactly_what_reviewer_assessments_lists(two, alice, unit_a, unit_b):
    """get_reviewer_assessment reads the submission by a statement compiled once and checks it after:
    the same submissions as the filtered query, the same 404 for the others (drafts, units not
    reviewed, the reviewer's own unit, an officer, an id that does not exist)."""
    from django.http import Http404

    from assessments import permissions
    from assessments.models import Membership

    from .test_access_matrix import make_reviewer

    a, b = two
    Assessment.objects.filter(pk=a.pk).update(state=Assessment.State.SUBMITTED)  # b stays a draft
    c = valid_assessment(unit_b, a.round, "逐表读取丙")
    Assessment.objects.filter(pk=c.pk).update(state=Assessment.State.APPROVED)
    bureau = make_reviewer("quanbu", bureau_wide=True)
    own = make_reviewer("benwei", bureau_wide=True)
    Membership.objects.create(user=own, unit=unit_a, role=Membership.Role.OFFICER)
    assigned = make_reviewer("zhipai", unit_b)
    outcomes = {}
    for user in (bureau, own, assigned, alice):
        for pk in (a.pk, b.pk, c.pk, 999_999):
            listed = permissions.reviewer_assessments(user).filter(pk=pk).exists()
            try:
                opened = permissions.get_reviewer_assessment(user, pk).pk == pk
            except Http404:
                opened = False
            assert opened == listed, (user.username, pk)
            outcomes[(user.username, pk)] = opened
    assert {k for k, v in outcomes.items() if v} == {("quanbu", a.pk), ("quanbu", c.pk), ("benwei", c.pk), ("zhipai", c.pk)}


def test_a_statement_with_many_ids_and_another_value_puts_each_in_its_place(two):
    a, b = two
    make = lambda ids, unit: Goal.objects.filter(assessment_id__in=ids, assessment__unit_id=unit).order_by("pk")  # noqa: E731
    statement = childrows.Statement(make, childrows.Ids, int)
    ids = list(range(900_000, 900_000 + childrows.Statement.MAX_IDS))
    ids[9], ids[-1] = a.pk, b.pk  # the last one's stand-in would meet the next value's if too close
    for unit in (a.unit_id, b.unit_id):
        rows = statement.all(ids, unit)
        assert rows == list(make(ids, unit)) and len(rows) == 2
    (found,) = statement._compiled.values()  # compiled, not left to the ORM: each value in its own place
    assert sorted(slot[:2] for slot in found[3] if slot[0] is not None) == [(0, i) for i in range(len(ids))] + [(1, 0)]


def test_a_reviewers_statement_reads_what_reviewed_unit_filter_reads_for_every_kind_of_reviewer(two, unit_a, unit_b):
    """permissions.ForReviewer: one statement per way the units are limited (all, all but the
    reviewer's own, the assigned ones, none), each giving the rows of the filtered query."""
    from assessments import permissions
    from assessments.models import Membership

    from .test_access_matrix import make_reviewer

    a, _ = two
    Round.objects.filter(pk=a.round_id).update(deadline=DEADLINE)
    bureau = make_reviewer("quanbu", bureau_wide=True)
    own = make_reviewer("benwei", bureau_wide=True)
    Membership.objects.create(user=own, unit=unit_a, role=Membership.Role.OFFICER)
    assigned = make_reviewer("zhipai", unit_b)
    nobody = make_reviewer("wu")
    statement = permissions.ForReviewer(
        lambda units, day: Goal.objects.filter(units("assessment__unit_id"), assessment__round__deadline__lt=day)
        .order_by("pk").values_list("target", flat=True), datetime.date)
    seen = {}
    for user in (bureau, own, assigned, nobody) * 2:
        for day in (DEADLINE, DEADLINE + datetime.timedelta(days=1)):
            expected = list(Goal.objects.filter(permissions.reviewed_unit_filter(user, "assessment__unit_id"),
                                                assessment__round__deadline__lt=day).order_by("pk").values_list("target", flat=True))
            assert statement.all(user, day) == expected
            seen[(user.username, day)] = expected
    after = DEADLINE + datetime.timedelta(days=1)
    assert (seen[("quanbu", after)], seen[("benwei", after)], seen[("zhipai", after)], seen[("wu", after)]) == (
        ["目标02", "目标01", "目标12", "目标11"], ["目标12", "目标11"], ["目标12", "目标11"], [])
    assert seen[("quanbu", DEADLINE)] == []


@pytest.mark.parametrize("kinds_and_make", ["model", "values"])
def test_a_statement_reads_a_window_of_its_rows_as_the_orm_slices_them(two, kinds_and_make, django_assert_num_queries):
    """`all(offset=, limit=)`: the ORM's slice `[offset:offset + limit]`, the LIMIT and OFFSET written
    as numbers after the statement compiled once (not compiled again per page; as parameters,
    PostgreSQL planned the statement again on every execution); `Paged` is a Paginator's object
    list of such windows, counted as told."""
    from django.core.paginator import Paginator

    a, b = two
    if kinds_and_make == "model":
        make = lambda unit: Goal.objects.filter(assessment__unit_id=unit).select_related("assessment").order_by("-pk")  # noqa: E731
    else:
        make = lambda unit: Goal.objects.exclude(assessment__unit_id=unit).order_by("pk").values_list("target", "pk")  # noqa: E731
    statement = childrows.Statement(make, int)
    for unit in (a.unit_id, b.unit_id):
        everything = list(make(unit))
        assert len(everything) == 2
        for offset, limit in ((0, 1), (1, 1), (0, 5), (1, 5), (2, 1), (7, 3), (0, 0)):
            assert statement.all(unit, offset=offset, limit=limit) == everything[offset:offset + limit]
    (found,) = statement._compiled.values()
    assert found is not None  # one statement for every window
    sent = []

    def spy(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    with django_assert_num_queries(1), connection.execute_wrapper(spy):
        (row,) = statement.all(a.unit_id, offset=1, limit=1)
    assert sent[0].endswith(" LIMIT 1 OFFSET 1"), sent  # as the statement is sent, not as logged
    with pytest.raises(ValueError):
        statement.all(a.unit_id, offset=-1, limit=1)
    if kinds_and_make == "model":
        with django_assert_num_queries(0):
            assert row.assessment.pk == row.assessment_id  # select_related kept
    with pytest.raises(ValueError):
        statement.all(a.unit_id, offset=1)
    paged = childrows.Paged(statement.all, a.unit_id, count=lambda: 2)
    pages = Paginator(paged, 1)
    assert (pages.count, pages.num_pages) == (2, 2)
    assert [list(pages.page(n).object_list) for n in (1, 2)] == [[x] for x in make(a.unit_id)]
    assert paged[1] == list(make(a.unit_id))[1]
    with pytest.raises(IndexError):
        paged[5]


def test_a_sliced_or_locking_statement_is_windowed_by_the_orm(two):
    a, _ = two
    statement = childrows.Statement(lambda unit: Goal.objects.filter(assessment__unit_id=unit).order_by("pk")[:1], int)
    # Already sliced: the window is the ORM's slice of the slice.
    assert statement.all(a.unit_id, offset=0, limit=5) == list(Goal.objects.filter(assessment__unit_id=a.unit_id).order_by("pk")[:1])


def test_a_statement_of_uuids_reads_the_rows_the_orm_reads_whatever_their_number(two):
    """`Uuids` (lineages, say): given as UUIDs or their text, beside an int, compiled once per number
    of UUIDs; on SQLite they reach the statement as hex digits, on PostgreSQL as UUIDs."""
    import uuid

    a, b = two
    make = lambda unit, lineages: (Indicator.objects.filter(assessment__unit_id=unit, lineage__in=lineages)  # noqa: E731
                                   .order_by("pk").values_list("lineage", "name"))
    statement = childrows.Statement(make, int, childrows.Uuids)
    lineages = list(Indicator.objects.filter(assessment=a).order_by("pk").values_list("lineage", flat=True))
    assert len(lineages) >= 3
    others = [uuid.uuid4() for _ in range(3)]
    for chosen in (lineages[:1], lineages[:3], [str(x) for x in lineages[1:3]] + others, others):
        for unit in (a.unit_id, b.unit_id):
            rows = statement.all(unit, chosen)
            assert rows == list(make(unit, chosen))
            assert len(rows) == (sum(1 for x in chosen if uuid.UUID(str(x)) in lineages) if unit == a.unit_id else 0)
    assert sorted(lengths[1] for (_, lengths) in statement._compiled) == [1, 3, 5]
    assert all(found is not None for found in statement._compiled.values())


def test_a_count_is_a_one_row_statement(two):
    """`childrows.counting`: the number of rows as a statement (`[n]`, `[]` or `[0]` where there is
    none), the same for every value, compiled once."""
    a, b = two
    statement = childrows.Statement(lambda unit: childrows.counting(Goal.objects.filter(assessment__unit_id=unit)), int)
    for unit in (a.unit_id, b.unit_id, 999_999):
        assert sum(statement.all(unit)) == Goal.objects.filter(assessment__unit_id=unit).count()
    assert sum(statement.all(a.unit_id)) == 2
    (found,) = statement._compiled.values()
    assert found is not None


def test_an_assessment_and_its_rows_are_sent_together_on_postgresql(two, monkeypatch, django_assert_num_queries):
    """`childrows.read_with`: the assessment and its six tables of rows, each statement counted as
    any is, are what `with_content` reads; on PostgreSQL they are sent in one pipeline (one round
    trip, issue 17); a missing assessment is None, its empty tables read nothing into it. And
    `attach_all`, the tables of an assessment read already, alike."""

    a, _ = two
    reference = readmodel.with_content(Assessment.objects).get(pk=a.pk)
    pipelines = []
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        real = type(connection.connection).pipeline

        def pipeline(self, *args, **kwargs):
            pipelines.append(self)
            return real(self, *args, **kwargs)

        monkeypatch.setattr(type(connection.connection), "pipeline", pipeline)
    with django_assert_num_queries(1 + len(readmodel.CONTENT)):
        loaded = childrows.read_with(readmodel._BY_PK, a.pk, readmodel.CONTENT)
    assert len(pipelines) == (1 if connection.vendor == "postgresql" else 0)
    with django_assert_num_queries(0):
        assert pagecache.instance_values(loaded) == pagecache.instance_values(reference)
        assert _loaded(loaded) == _loaded(reference)
        assert all(row.assessment is loaded for row in loaded.indicators.all())
    missing = Assessment.objects.order_by("-pk").first().pk + 1
    assert childrows.read_with(readmodel._BY_PK, missing, readmodel.CONTENT) is None
    # `attach_all`: the six tables of an assessment read already, sent together alike.
    bare = readmodel._BY_PK.get(a.pk)
    pipelines.clear()
    with django_assert_num_queries(len(readmodel.CONTENT)):
        childrows.attach_all(bare, readmodel.CONTENT)
    assert len(pipelines) == (1 if connection.vendor == "postgresql" else 0)
    with django_assert_num_queries(0):
        assert _loaded(bare) == _loaded(reference)
        assert all(row.assessment is bare for row in bare.indicators.all())


def test_the_converters_of_a_statement_are_worked_out_once(two, monkeypatch):
    """What each column's value goes through on its way from the database (30–70 µs for a statement
    of 30 columns) is worked out once per statement and connection (issue 17); the rows are the
    ORM's still, the second time as the first."""
    from django.db.models.sql.compiler import SQLCompiler

    a, _ = two
    statement = childrows.Statement(lambda pk: Indicator.objects.filter(assessment_id=pk).select_related("assessment")
                                    .order_by("position"), int)
    worked_out = []
    real = SQLCompiler.get_converters

    def counting(self, expressions):
        worked_out.append(len(expressions))
        return real(self, expressions)

    monkeypatch.setattr(SQLCompiler, "get_converters", counting)
    first = [pagecache.row_values(i) for i in statement.all(a.pk)]
    after_first = len(worked_out)
    again = [pagecache.row_values(i) for i in statement.all(a.pk)]
    assert after_first >= 1 and len(worked_out) == after_first and again == first
    assert first == [pagecache.row_values(i) for i in Indicator.objects.filter(assessment=a).order_by("position")]
    for _ in range(2):
        readmodel.load_content(a.pk)
    before = len(worked_out)
    readmodel.load_content(a.pk)
    assert len(worked_out) == before
