"""The edit page's tables come from the cache while nothing they show has changed (issue 17,
part 5; ADR 0024): rendered once, never stale, whatever path changed the data."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from assessments import pagecache, readmodel, rowforms
from assessments.builtin_templates import BUILTIN
from assessments.forms import EntryForm, IndicatorForm
from assessments.models import Assessment, FundingRow, Goal, Indicator
from assessments.services import create_assessment
from assessments.views import entry as entry_views

from .helpers import without_countdown
from .test_access_matrix import VALID_ROWS, valid_assessment

# The fragments, not the whole pages kept around them (ADR 0025, test_whole_pages.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rendered_pages")]


def page(client, assessment, **query):
    response = client.get(reverse("assessments:edit", args=[assessment.pk]), query)
    assert response.status_code == 200
    # The CSRF token differs on every page, and the session's countdown with the clock; nothing else may.
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", without_countdown(response.content))


@pytest.fixture
def built(monkeypatch):
    """How many times the view built the entry form."""
    count = {"n": 0}

    class Counting(EntryForm):
        def __init__(self, *args, **kwargs):
            count["n"] += 1
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(entry_views, "EntryForm", Counting)
    return count


@pytest.fixture
def filled(alice, unit_a, round_2020):
    return valid_assessment(unit_a, round_2020, "缓存测试项目", user=alice)


def test_reopening_serves_the_same_tables_without_building_the_form(alice_client, filled, built):
    first = page(alice_client, filled)
    assert built["n"] == 1
    again = page(alice_client, filled)
    assert built["n"] == 1
    assert again == first
    assert 'name="indicators-0-name"' in again and "缓存测试项目" in again


def test_a_change_made_outside_the_form_shows_at_once(alice_client, filled, built):
    page(alice_client, filled)
    # No save, no version bump, no signal: a bulk update, as an import or a script would do it.
    first = Indicator.objects.filter(assessment=filled).order_by("position", "id").first()
    Indicator.objects.filter(pk=first.pk).update(name="改过的三级指标名称")
    Goal.objects.filter(assessment=filled).update(target="改过的年度目标")
    html = page(alice_client, filled)
    assert built["n"] == 2
    assert "改过的三级指标名称" in html
    assert "改过的年度目标</textarea>" in html


def test_added_empty_rows_are_their_own_page(alice_client, filled):
    rows = page(alice_client, filled).count("formset-row indicator-row")
    more = page(alice_client, filled, add_indicators=3).count("formset-row indicator-row")
    assert more == rows + 3
    assert page(alice_client, filled).count("formset-row indicator-row") == rows


def _another_process():
    """What a process that has not rendered the page finds: only the shared cache."""
    if pagecache.local() is not None:
        pagecache.local().clear()


def test_an_unreadable_cache_entry_is_rendered_again(alice_client, filled, built, monkeypatch):
    good = page(alice_client, filled)
    real_get, real_get_many = pagecache.cache.get, pagecache.cache.get_many

    def get(key, default=None, version=None):
        return b"not a packed page" if key.startswith("fragment:") else real_get(key, default, version)

    def get_many(keys, version=None):  # what `pagecache.prefetching` reads in one round trip
        return {key: b"not a packed page" if key.startswith("fragment:") else value
                for key, value in real_get_many(keys, version).items()}

    monkeypatch.setattr(pagecache.cache, "get", get)
    monkeypatch.setattr(pagecache.cache, "get_many", get_many)
    _another_process()
    assert page(alice_client, filled) == good
    assert built["n"] == 2


def test_the_digest_reads_every_fetched_row_without_a_query(filled, django_assert_num_queries):
    from assessments import readmodel
    from assessments.models import Assessment

    a = readmodel.with_content(Assessment.objects).get(pk=filled.pk)
    with django_assert_num_queries(0):
        values = pagecache.instance_values(a)
    names = [part[0] for part in values[2:]]
    assert {"funding_rows", "goals", "indicators", "report_sections", "round", "template_version", "unit"} <= set(names)
    indicators = dict(part for part in values[2:])["indicators"]
    assert len(indicators) == Indicator.objects.filter(assessment=filled).count()


@pytest.mark.parametrize("layout", [spec.code for spec in BUILTIN])
def test_rows_from_the_cache_are_the_rows_the_form_renders(alice, unit_a, round_2020, layout):
    """Every built-in 表样: the page with its indicator rows rendered one by one (and then read from
    the cache) is the page the whole form renders."""
    a = create_assessment(unit=unit_a, round=round_2020, layout=layout, project_name="逐行缓存", user=alice)
    Indicator.objects.bulk_create(
        Indicator(assessment=a, position=n, level1=l1, level2=l2, name=nm, target=t, actual=ac, weight=w)
        for n, (l1, l2, nm, t, ac, w) in enumerate(VALID_ROWS, start=1)
    )
    Indicator.objects.filter(assessment=a, position=2).update(approved_target="≥5次", reason="<偏差>&说明")
    a = readmodel.with_content(Assessment.objects).get(pk=a.pk)
    view = readmodel.build(a)
    whole = entry_views._tables_html(EntryForm(a, extra_indicators=2), view, attempted=False, row_comments={})
    for _ in range(2):  # rendered row by row, then every row from the cache
        entry = EntryForm(a, extra_indicators=2)
        rows = entry_views._cached_indicator_rows(a, view, extra_rows=2, row_comments={})
        assert entry_views._tables_html(entry, view, attempted=False, row_comments={}, indicator_rows=rows) == whole


def test_after_one_row_changed_only_that_row_is_built_again(alice_client, filled, monkeypatch):
    built = []
    real_init = IndicatorForm.__init__

    def counting(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        built.append(self.prefix)

    monkeypatch.setattr(IndicatorForm, "__init__", counting)
    first = page(alice_client, filled)
    assert sorted(built) == ["indicators-0", "indicators-1", "indicators-2", "indicators-__prefix__"]
    built.clear()
    second = Indicator.objects.filter(assessment=filled).order_by("position", "id")[1]
    Indicator.objects.filter(pk=second.pk).update(reason="只改了这一行的偏差原因")
    html = page(alice_client, filled)
    # The rest of the tables, the empty row's template too, from the cache; the changed row is
    # written from the prototype of its shape the first page made, kept in the process (no form).
    assert built == []
    assert "只改了这一行的偏差原因</textarea>" in html and html != first
    cache.clear()  # the same page rendered whole
    rowforms.KITS.clear()
    assert page(alice_client, filled) == html
    assert sorted(built) == ["indicators-0", "indicators-1", "indicators-2", "indicators-__prefix__"]


def test_the_detail_page_shows_a_change_made_elsewhere_at_once(alice_client, filled, renders):
    url = reverse("assessments:detail", args=[filled.pk])
    rendered = renders(pagecache)
    first = alice_client.get(url).content.decode()
    assert alice_client.get(url).content.decode().count("缓存测试项目") == first.count("缓存测试项目")
    assert rendered == ["includes/paper_form.html"]  # the second view read it from the cache
    row = Indicator.objects.filter(assessment=filled).order_by("position", "id").first()
    Indicator.objects.filter(pk=row.pk).update(name="详情页上改过的指标")
    html = alice_client.get(url).content.decode()
    assert rendered == ["includes/paper_form.html"] * 2
    assert "详情页上改过的指标" in html and "详情页上改过的指标" not in first


def test_the_review_page_shows_the_version_it_is_built_from(alice, filled, reviewer, client):
    """The 复核 page's paper form is kept under the digest of the submitted snapshot it shows."""
    from assessments import workflow
    from assessments.models import Snapshot

    workflow.perform(alice, filled, "submit", "")
    client.force_login(reviewer)
    url = reverse("assessments:review", args=[filled.pk])
    first = client.get(url).content.decode().split('<div class="paper-form', 1)[1]
    snapshot = Snapshot.objects.get(assessment=filled)
    name = snapshot.data["indicators"][0]["name"]
    assert name in first
    data = snapshot.data
    data["indicators"][0]["name"] = "快照里的另一个名称"
    Snapshot.objects.filter(pk=snapshot.pk).update(data=data)
    paper = client.get(url).content.decode().split('<div class="paper-form', 1)[1]
    assert "快照里的另一个名称" in paper and name not in paper


def _another(field, value):
    """A different value of the same kind for `field` (the test below changes each field it names)."""
    kind = field.get_internal_type()
    if kind in ("CharField", "TextField"):
        return (value or "") + "变"
    if kind == "DecimalField":
        return (value or Decimal("0")) + Decimal("1.23")
    if kind == "DateTimeField":
        return (value or timezone.now()) + timedelta(days=3)
    if kind == "BooleanField":
        return not value
    return (value or 0) + 7


@pytest.mark.parametrize("layout", [spec.code for spec in BUILTIN])
def test_the_sections_kept_without_the_fields_a_save_renews_never_show_them(alice, unit_a, round_2020, layout):
    """Every section but the indicators' is kept under the assessment without NOT_IN_SECTIONS (ADR
    0026): for every built-in 表样 those sections render the same whatever these fields hold."""
    a = create_assessment(unit=unit_a, round=round_2020, layout=layout, project_name="字段无关", user=alice)
    Indicator.objects.bulk_create(
        Indicator(assessment=a, position=n, level1=l1, level2=l2, name=nm, target=t, actual=ac, weight=w)
        for n, (l1, l2, nm, t, ac, w) in enumerate(VALID_ROWS, start=1)
    )
    a = readmodel.with_content(Assessment.objects).get(pk=a.pk)

    def sections():
        view = readmodel.build(a)
        return entry_views._tables_html(EntryForm(a), view, attempted=False, row_comments={},
                                        apart=("indicators",), indicator_rows=[])

    before = sections()
    assert before.count(entry_views.SPLICE) == 1 and 'id="funding"' in before and 'id="indicators"' not in before
    for name in entry_views.NOT_IN_SECTIONS:
        field = Assessment._meta.get_field(name)
        setattr(a, field.attname, _another(field, getattr(a, field.attname)))
    assert sections() == before


def test_the_indicator_section_around_its_rows_depends_only_on_its_facts(alice_client, filled):
    """The indicators' section around its rows is kept under the 表样, the number of rows and two
    facts of the read model: rows with other values (the same number, weights still entered) give
    the same HTML around them, and the rows themselves show the change."""
    def around(assessment):
        a = readmodel.with_content(Assessment.objects).get(pk=assessment.pk)
        view = readmodel.build(a)
        html = entry_views._tables_html(EntryForm(a), view, attempted=False, row_comments={}, section="indicators",
                                        indicator_rows=[entry_views.SPLICE])
        return html, entry_views._indicator_facts(a, view)

    first, facts = around(filled)
    Indicator.objects.filter(assessment=filled).update(name="另一个名称", target="≥99次", actual="100次", reason="变了")
    second, same_facts = around(filled)
    assert same_facts == facts and second == first
    assert "另一个名称" in page(alice_client, filled)


def test_a_header_or_funding_change_made_elsewhere_shows_at_once(alice_client, filled):
    first = page(alice_client, filled)
    Assessment.objects.filter(pk=filled.pk).update(project_leader="张负责")
    FundingRow.objects.filter(assessment=filled, source="total").update(actual=Decimal("80"))
    html = page(alice_client, filled)
    assert 'value="张负责"' in html and 'value="张负责"' not in first
    assert "执行率 = 80 ÷ 100 = 80.00%" in html
    cache.clear()  # the same page rendered whole
    assert page(alice_client, filled) == html


def test_a_row_added_or_deleted_elsewhere_counts_in_the_form_at_once(alice_client, filled):
    """The number of rows is in the management form around them: a row added (or deleted) by an
    import or a script gives the page the form renders whole."""
    page(alice_client, filled)
    last = Indicator.objects.filter(assessment=filled).order_by("position", "id").last()
    Indicator.objects.create(assessment=filled, position=last.position + 1, level1=last.level1, level2=last.level2,
                             name="导入的新指标", target="≥1次", actual="1次", weight=Decimal("0"))
    added = page(alice_client, filled)
    rows = Indicator.objects.filter(assessment=filled).count()
    assert f'name="indicators-INITIAL_FORMS" value="{rows}"' in added and "导入的新指标" in added
    cache.clear()
    assert page(alice_client, filled) == added
    Indicator.objects.filter(assessment=filled, name="导入的新指标").delete()
    deleted = page(alice_client, filled)
    assert f'name="indicators-INITIAL_FORMS" value="{rows - 1}"' in deleted
    cache.clear()
    assert page(alice_client, filled) == deleted


def test_the_report_checks_are_kept_under_what_they_read(db, settings, tmp_path, django_capture_on_commit_callbacks):
    """The report's checks compare it with the funding, structure and expense tables (ADR 0026):
    they are kept under `_around`, which an indicator change or a field of NOT_IN_SECTIONS leaves
    as it was, and the checks give the same warnings whatever those hold; a report change shows."""
    from io import StringIO

    from django.core.management import call_command

    from assessments import consistency
    from assessments.models import ReportSection

    settings.DEBUG = True
    settings.MEDIA_ROOT = tmp_path / "media"
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    pk = Assessment.objects.get(unit__short_name="渌口区委政法委").pk

    def loaded():
        a = readmodel.with_content(Assessment.objects).get(pk=pk)
        view = readmodel.build(a)
        return entry_views._around(a, view), [w.message for w in consistency.check(view)]

    around, warnings = loaded()
    assert len(warnings) == 1
    Indicator.objects.filter(assessment_id=pk).update(name="另一个指标", target="≥1次", actual="0次", weight=Decimal("1"))
    changes = {}
    a = Assessment.objects.get(pk=pk)
    for name in entry_views.NOT_IN_SECTIONS:
        field = Assessment._meta.get_field(name)
        changes[field.attname] = _another(field, getattr(a, field.attname))
    Assessment.objects.filter(pk=pk).update(**changes)
    assert loaded() == (around, warnings)
    section = ReportSection.objects.filter(assessment_id=pk).exclude(body="").order_by("id").first()
    ReportSection.objects.filter(pk=section.pk).update(body="")
    assert loaded()[0] != around


def test_an_indicator_change_does_not_run_the_report_checks_again(alice_client, filled, monkeypatch):
    runs = []
    real = entry_views.check_consistency
    monkeypatch.setattr(entry_views, "check_consistency", lambda view: runs.append(1) or real(view))
    page(alice_client, filled)
    row = Indicator.objects.filter(assessment=filled).order_by("position", "id").first()
    Indicator.objects.filter(pk=row.pk).update(reason="只改偏差原因")
    Assessment.objects.filter(pk=filled.pk).update(version=filled.version + 1)
    assert "只改偏差原因" in page(alice_client, filled)
    assert len(runs) == 1
    Goal.objects.filter(assessment=filled).update(target="改过的年度目标")  # a table the checks may read
    FundingRow.objects.filter(assessment=filled, source="total").update(actual=Decimal("90"))
    page(alice_client, filled)
    assert len(runs) == 2


def test_weights_entered_elsewhere_show_around_the_rows_at_once(alice_client, filled):
    """Whether any weight is entered is shown outside the rows: the 平均分配 button in the indicators'
    section, and the funding line's score (scored only with weights). Weights set by a bulk update
    show at once: the page equals the page rendered with an empty cache."""
    Indicator.objects.filter(assessment=filled).update(weight=None)
    unweighted = page(alice_client, filled)
    assert 'id="spread-weights"' in unweighted
    Indicator.objects.filter(assessment=filled).update(weight=Decimal("5"))
    weighted = page(alice_client, filled)
    assert 'id="spread-weights"' not in weighted
    cache.clear()
    assert page(alice_client, filled) == weighted


def test_more_rows_than_a_formset_holds_still_open(alice_client, filled):
    """An unbound formset holds at most `max_num` forms (Django's 1,000): the rows kept apart are
    counted as the formset counts them, so a form at that size with rows asked for still opens."""
    from assessments.forms import IndicatorFormSet

    last = Indicator.objects.filter(assessment=filled).order_by("position", "id").last()
    stored = Indicator.objects.filter(assessment=filled).count()
    more = IndicatorFormSet.max_num - stored + 1
    Indicator.objects.bulk_create(
        Indicator(assessment=filled, position=last.position + n, level1=last.level1, level2=last.level2,
                  name=f"第{n}条", target="≥1次", actual="1次") for n in range(1, more + 1))
    html = page(alice_client, filled, add_indicators=3)
    # Every stored row (beyond max_num, the formset adds no empty one) and the blank row's template.
    assert html.count('class="formset-row indicator-row"') == stored + more + 1


def test_the_new_form_is_kept_under_what_it_offers(alice_client, unit_a, round_2020, monkeypatch):
    """新建: the unbound form (crispy's rendering) is kept under the units, the open rounds, the
    offered 表样 and the initial choices; a change to any shows at once; a refused form is rendered."""
    from assessments.models import Round

    url = reverse("assessments:create")

    def same(content):  # without the countdown and the CSRF tokens, which differ at each rendering
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", without_countdown(content))

    first = alice_client.get(url).content
    rendered = []
    real = entry_views.render_to_string
    monkeypatch.setattr(entry_views, "render_to_string", lambda name, *a, **k: rendered.append(name) or real(name, *a, **k))
    again = alice_client.get(url).content
    assert rendered == [] and same(again) == same(first)
    Round.objects.filter(pk=round_2020.pk).update(title="2020年度绩效自评（更正）")
    later = Round.objects.create(year=2021, title="2021年度绩效自评")
    changed = alice_client.get(url, {"layout": "project"}).content
    assert rendered == ["assessments/entry/create_form.html"]
    shown = changed.decode()
    assert ">2020年度绩效自评（更正）</option>" in shown and f'<option value="{later.pk}">2021年度绩效自评</option>' in shown
    cache.clear()
    assert same(alice_client.get(url, {"layout": "project"}).content) == same(changed)
    refused = alice_client.post(url, {"unit": unit_a.pk, "round": round_2020.pk, "layout": "project", "project_name": ""})
    assert refused.status_code == 200 and "项目支出自评须填写项目名称。" in refused.content.decode()


def test_the_edit_page_reads_what_it_may_take_from_the_cache_in_one_round_trip(alice_client, filled, monkeypatch):
    """Opened again after another write anywhere (a new data generation, ADR 0025), the edit page
    takes its tables, its report checks and its personal-data notes from the cache: one round trip
    for all of them (`pagecache.prefetching`), none one by one."""
    from assessments import generations
    from assessments.models import DataGeneration

    first = page(alice_client, filled)
    generations.renew(DataGeneration)
    reads, inside = [], []
    real_get, real_get_many = pagecache.cache.get, pagecache.cache.get_many

    def get(key, *args, **kwargs):
        if not inside:  # a local-memory cache's get_many reads key by key: that is still one read here
            reads.append(("get", key))
        return real_get(key, *args, **kwargs)

    def get_many(keys, *args, **kwargs):
        reads.append(("get_many", tuple(keys)))
        inside.append(1)
        try:
            return real_get_many(keys, *args, **kwargs)
        finally:
            inside.pop()

    monkeypatch.setattr(pagecache.cache, "get", get)
    monkeypatch.setattr(pagecache.cache, "get_many", get_many)
    _another_process()
    assert page(alice_client, filled) == first
    fragments = [read for read in reads if read[0] == "get" and read[1].startswith(("fragment:", "value:"))]
    assert fragments == []
    many = [keys for kind, keys in reads if kind == "get_many"]
    assert len(many) == 1 and len(many[0]) == 5
    assert sum(key.startswith("fragment:entry-") for key in many[0]) == 3


def test_a_fragment_this_process_holds_is_not_asked_of_the_shared_cache(monkeypatch):
    """A fragment is kept under a digest of what it shows: this process's copy (where the shared cache
    is another server's) is never stale and saves the round trip; clearing the shared cache clears the
    copy; a large fragment is not copied (issue 17)."""
    from django.core.cache import caches

    if pagecache.local() is None:
        pytest.skip("a copy in each process is kept where the shared cache is Redis (the PostgreSQL run)")
    rendered, asked = [], []
    real_get_many = pagecache.cache.get_many

    def get_many(keys, *args, **kwargs):
        asked.append(tuple(keys))
        return real_get_many(keys, *args, **kwargs)

    monkeypatch.setattr(pagecache.cache, "get_many", get_many)

    def render(text):
        rendered.append(text)
        return text

    assert pagecache.fragment("test", ("甲",), lambda: render("<p>甲</p>")) == "<p>甲</p>"
    assert (rendered, len(asked)) == (["<p>甲</p>"], 1)
    assert pagecache.fragment("test", ("甲",), lambda: render("<p>again</p>")) == "<p>甲</p>"
    assert (rendered, len(asked)) == (["<p>甲</p>"], 1)  # from this process's copy
    caches[pagecache.LOCAL].clear()
    assert pagecache.fragment("test", ("甲",), lambda: render("<p>again</p>")) == "<p>甲</p>"
    assert (rendered, len(asked)) == (["<p>甲</p>"], 2)  # from the shared cache, copied here again
    pagecache.cache.clear()
    assert pagecache.fragment("test", ("甲",), lambda: render("<p>乙</p>")) == "<p>乙</p>"  # nothing left anywhere
    import secrets

    big = secrets.token_hex(pagecache.LOCAL_MAX)
    pagecache.fragment("test", ("大",), lambda: big)
    assert caches[pagecache.LOCAL].get(pagecache.fragment_key("test", ("大",))) is None
