"""Region selects list full names read as plain values (RegionQuerySet.full_names), and validate as
model choices: the spot-check form, the 填报任务 page and the 表样 assignment form; the 表样 a
region is prescribed are read in one query (issue 17: cheaper pages)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments.followup_forms import SpotCheckForm
from assessments.models import Region
from assessments.views.tables import AssignForm

pytestmark = pytest.mark.django_db


@pytest.fixture
def regions(region):
    city = region.parent
    other = Region.objects.create(name="株洲市", level=Region.Level.CITY, parent=city.parent)
    return {"岳麓区": region, "长沙市": city, "湖南省": city.parent, "株洲市": other,
            "天元区": Region.objects.create(name="天元区", level=Region.Level.DISTRICT, parent=other)}


def test_full_names_follow_the_queryset_and_reach_ancestors_outside_it(regions):
    districts = Region.objects.filter(level=Region.Level.DISTRICT).order_by("-id")
    with CaptureQueriesContext(connection) as queries:
        names = districts.full_names()
    assert names == [(regions["天元区"].pk, "湖南省株洲市天元区"), (regions["岳麓区"].pk, "湖南省长沙市岳麓区")]
    assert names == [(r.pk, r.full_name) for r in districts]
    assert len(queries) == 3  # the districts, then their cities, then the province
    assert Region.objects.order_by("id").full_names() == [(r.pk, r.full_name) for r in Region.objects.order_by("id")]
    assert Region.objects.none().full_names() == []


def test_spot_check_form_lists_full_names_and_keeps_the_choice_when_refused(regions):
    form = SpotCheckForm({"title": "抽查", "method": "simple", "regions": [str(regions["株洲市"].pk)]})
    assert not form.is_valid() and "count" in form.errors
    html = str(form["regions"])
    assert f'<option value="{regions["株洲市"].pk}" selected>湖南省株洲市</option>' in html
    assert f'<option value="{regions["岳麓区"].pk}">湖南省长沙市岳麓区</option>' in html
    assert html.count("<option") == 5
    valid = SpotCheckForm({"title": "抽查", "method": "simple", "count": "2", "regions": [str(regions["湖南省"].pk)]})
    assert valid.is_valid() and list(valid.cleaned_data["regions"]) == [regions["湖南省"]]
    unknown = SpotCheckForm({"title": "抽查", "method": "simple", "count": "2", "regions": ["999999"]})
    assert not unknown.is_valid() and "regions" in unknown.errors


def test_template_assignment_offers_every_region_after_all_regions(regions):
    html = str(AssignForm()["region"])
    assert html.index('<option value="" selected>全部地区</option>') < html.index(">湖南省<")
    assert f'<option value="{regions["天元区"].pk}">湖南省株洲市天元区</option>' in html
    bound = AssignForm({"round": "", "region": str(regions["长沙市"].pk)})
    bound.is_valid()
    assert bound.cleaned_data["region"] == regions["长沙市"]


def test_season_page_lists_regions_by_full_name(client, regions, round_2020, reviewer):
    client.force_login(reviewer)
    page = client.get(reverse("assessments:season") + f"?round={round_2020.pk}").content.decode()
    assert f'<option value="{regions["天元区"].pk}">湖南省株洲市天元区</option>' in page
    assert f'<option value="{regions["湖南省"].pk}">湖南省</option>' in page


def test_the_nearest_assigned_region_prescribes_each_kind_in_one_query(regions, round_2020, unit_a):
    """offered_templates reads the round's assignments of both kinds at once; for each kind the
    nearest region's template wins, then the one for every region, else every active template."""
    from assessments import table_templates
    from assessments.models import TableTemplate, TemplateAssignment, Unit

    t = {code: TableTemplate.objects.get(code=code) for code in ("department", "national-department", "national")}
    TemplateAssignment.objects.create(round=round_2020, kind="department", region=regions["湖南省"], template=t["department"])
    TemplateAssignment.objects.create(round=round_2020, kind="department", region=regions["长沙市"],
                                      template=t["national-department"])
    TemplateAssignment.objects.create(round=round_2020, kind="project", region=None, template=t["national"])
    unit_z = Unit.objects.create(name="株洲市天元区财政局", region=regions["天元区"])
    units = {u.pk: u for u in Unit.objects.filter(pk__in=[unit_a.pk, unit_z.pk]).select_related("region__parent__parent")}
    with CaptureQueriesContext(connection) as queries:
        near = table_templates.offered_templates(round_2020, units[unit_a.pk])
    assert len(queries) == 2
    assert (near["department"], near["project"]) == ([t["national-department"]], [t["national"]])
    far = table_templates.offered_templates(round_2020, units[unit_z.pk])
    assert (far["department"], far["project"]) == ([t["department"]], [t["national"]])
    assert table_templates.assigned_template(round_2020, "department", regions["天元区"]) == t["department"]
    assert table_templates.assigned_template(round_2020, "project", regions["岳麓区"]) == t["national"]
    TemplateAssignment.objects.filter(kind="project").delete()
    active = list(TableTemplate.objects.filter(active=True, kind="project").order_by("id"))
    assert table_templates.offered_templates(round_2020, units[unit_z.pk])["project"] == active and len(active) > 1


def test_a_select_reads_its_options_once_per_form(regions, round_2020):
    """ChoiceOfModel: rendering a select asks for its first option and then lists them all; Django
    reads the queryset for each. Read once per form, and again when the form sets a new queryset."""
    from assessments.forms import CreateForm
    from assessments.models import Round, Unit

    later = Round.objects.create(year=2021, title="2021年度绩效自评")
    units = Unit.objects.filter(pk__in=[Unit.objects.create(name=f"单位{i}", region=regions["岳麓区"]).pk for i in (1, 2)])
    form = CreateForm(units=units, templates=[])
    with CaptureQueriesContext(connection) as queries:
        html = str(form["round"]) + str(form["unit"])
    assert len(queries) == 2  # one per select
    assert f'<option value="{round_2020.pk}">{round_2020}</option>' in html and f'<option value="{later.pk}">' in html
    assert len(form.fields["round"].choices) == 2
    form.fields["unit"].queryset = units.filter(name="单位2")
    assert [label for _, label in form.fields["unit"].choices] == ["单位2"]
    bound = CreateForm({"unit": str(units[0].pk), "round": "999999"}, units=units, templates=[])
    assert not bound.is_valid() and "round" in bound.errors and "unit" not in bound.errors
