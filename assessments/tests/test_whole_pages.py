"""A logged-in user's page is served whole while nothing it is made of changed (issue 17, part 5;
ADR 0025): any write, by any path, renews the data generation; the user, the session's CSRF
secret, the address and the day are in the key; a page whose rendering left a trace is not kept."""

import re
import time

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments import audit, datachanges, generations, pagecache
from assessments.models import Assessment, AuditEvent, DataGeneration, Indicator, Membership
from assessments.security import sessions

from .conftest import PASSWORD
from .helpers import form_data, without_countdown
from .test_access_matrix import valid_assessment

pytestmark = pytest.mark.django_db


def rendered(response) -> bool:
    """Whether the view rendered a template for this response (a page served whole renders none)."""
    return bool(response.templates)


@pytest.fixture
def filled(alice, unit_a, round_2020):
    return valid_assessment(unit_a, round_2020, "整页缓存测试项目", user=alice)


@pytest.fixture
def warm(alice_client):
    """A client whose browser holds its CSRF cookie, as after the login page."""
    alice_client.get(reverse("assessments:todo"))
    assert alice_client.cookies.get("csrftoken")
    return alice_client


def detail(client, assessment):
    response = client.get(reverse("assessments:detail", args=[assessment.pk]))
    assert response.status_code == 200
    return response


@pytest.mark.parametrize("sql, write", [
    ('SELECT "assessments_assessment"."id" FROM "assessments_assessment"', False),
    ('(SELECT 1) UNION ALL (SELECT 2)', False),
    ('SELECT 1 FROM "assessments_unit" FOR UPDATE', False),
    ("WITH RECURSIVE r AS (SELECT 1) SELECT * FROM r", False),
    ('WITH moved AS (UPDATE "assessments_indicator" SET "weight" = 1 RETURNING 1) SELECT * FROM moved', True),
    ('INSERT INTO "assessments_indicator" ("name") VALUES (%s)', True),
    ('UPDATE "assessments_assessment" SET "version" = 2', True),
    ('DELETE FROM "assessments_goal" WHERE "id" = 1', True),
    ('INSERT OR REPLACE INTO "assessments_goal" VALUES (1)', True),
    ("TRUNCATE assessments_goal", True),
    ('UPDATE "django_session" SET "session_data" = %s', False),
    ('DELETE FROM "django_session" WHERE "expire_date" < %s', False),
    ('UPDATE "assessments_datageneration" SET "value" = 1', False),
    ('SAVEPOINT "s1_x1"', False),
    ('RELEASE SAVEPOINT "s1_x1"', False),
    ("SET CONSTRAINTS ALL IMMEDIATE", False),
    ('INSERT INTO "assessments_auditevent" ("action") VALUES (%s)', False),
    ('UPDATE "axes_accessattempt" SET "failures_since_start" = 1', False),
])
def test_which_statements_count_as_writes(sql, write):
    assert datachanges.is_write(sql) is write


@pytest.mark.parametrize("sql, effect", [
    ('INSERT INTO "assessments_auditevent" ("action") VALUES (%s)', datachanges.TRACE),
    ('UPDATE "assessments_auditchainlock" SET "seq" = 2', datachanges.TRACE),
    ('SELECT * FROM "assessments_auditevent" ORDER BY "at"', datachanges.PRIVATE_READ),
    ('SELECT * FROM "axes_accessattempt" WHERE "username" = %s', datachanges.PRIVATE_READ),
    ('SELECT * FROM "assessments_assessment"', datachanges.READ),
    ('UPDATE "django_session" SET "session_data" = %s', datachanges.IGNORED),
    ('UPDATE "assessments_goal" SET "target" = %s', datachanges.WRITE),
])
def test_the_audit_log_is_a_trace_not_a_change(sql, effect):
    assert datachanges.effect(sql) == effect


def test_a_page_opened_again_is_served_whole_and_the_same(warm, filled):
    first = detail(warm, filled)  # rendered and kept
    assert rendered(first)
    again = detail(warm, filled)
    assert not rendered(again)
    assert without_countdown(again.content) == without_countdown(first.content)
    assert "整页缓存测试项目" in again.content.decode()


def test_a_page_that_renews_the_csrf_cookie_is_kept_and_one_that_sets_another_is_not(warm, filled, alice):
    url = reverse("assessments:evidence", args=[filled.pk])  # csrf_protect inside: renews the cookie
    assert rendered(warm.get(url))
    assert not rendered(warm.get(url))
    calls = {"n": 0}

    @pagecache.page
    def remembers(request):
        calls["n"] += 1
        response = HttpResponse("<p>页面</p>")
        response.set_cookie("seen", "1")
        return response

    remembers(_request(alice))
    remembers(_request(alice))
    assert calls["n"] == 2


@pytest.mark.parametrize("how", ["save", "queryset update", "raw SQL"])
def test_any_write_shows_on_the_next_page(warm, filled, how):
    detail(warm, filled)
    assert not rendered(detail(warm, filled))
    row = Indicator.objects.filter(assessment=filled).order_by("position", "id").first()
    if how == "save":
        row.name = "改过的三级指标"
        row.save()
    elif how == "queryset update":
        Indicator.objects.filter(pk=row.pk).update(name="改过的三级指标")
    else:
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {Indicator._meta.db_table} SET name = %s WHERE id = %s", ["改过的三级指标", row.pk])
    page = detail(warm, filled)
    assert rendered(page)
    assert "改过的三级指标" in page.content.decode()


def test_the_edit_page_after_a_save_shows_the_save(warm, filled):
    url = reverse("assessments:edit", args=[filled.pk])
    warm.get(url)
    assert not rendered(warm.get(url))
    Assessment.objects.filter(pk=filled.pk).update(project_name="保存后的项目名称")
    assert "保存后的项目名称" in warm.get(url).content.decode()


def test_a_revoked_role_is_refused_at_once(warm, filled, alice):
    detail(warm, filled)
    assert not rendered(detail(warm, filled))
    Membership.objects.filter(user=alice).delete()
    assert warm.get(reverse("assessments:detail", args=[filled.pk])).status_code in (403, 404)


def test_each_user_and_each_address_has_its_own_page(warm, filled, bob, reviewer):
    detail(warm, filled)
    other = Client()
    other.force_login(bob)
    other.get(reverse("assessments:todo"))
    assert other.get(reverse("assessments:detail", args=[filled.pk])).status_code in (403, 404)
    boss = Client()
    boss.force_login(reviewer)
    boss.get(reverse("assessments:todo"))
    page = boss.get(reverse("assessments:dashboard"))
    assert rendered(page)
    filtered = boss.get(reverse("assessments:dashboard"), {"state": "approved"})
    assert rendered(filtered)
    assert filtered.content != page.content


def test_a_new_session_gets_a_page_whose_forms_it_can_post(filled, alice):
    """The page's CSRF token is of the session's secret: a new login gets a new page."""
    first = Client(enforce_csrf_checks=True)
    first.login(username="alice", password=PASSWORD)
    url = reverse("assessments:edit", args=[filled.pk])
    first.get(url)
    first.get(url)  # kept
    second = Client(enforce_csrf_checks=True)
    second.login(username="alice", password=PASSWORD)
    second.get(reverse("assessments:todo"))
    page = second.get(url)
    assert rendered(page)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    served = second.get(url)
    assert not rendered(served)
    assert token in served.content.decode()
    response = second.post(reverse("assessments:withdraw", args=[filled.pk]), {"csrfmiddlewaretoken": token})
    assert response.status_code != 403


def test_a_message_is_shown_once_and_never_kept(warm, filled):
    url = reverse("assessments:edit", args=[filled.pk])
    data = form_data(warm.get(url))  # rendered: the first open of this page
    assert not rendered(warm.get(url))
    saved = warm.post(url, data)
    assert saved.status_code == 302
    shown = warm.get(saved.url)
    assert rendered(shown)
    assert "草稿已保存" in shown.content.decode()
    after = warm.get(saved.url)
    assert "草稿已保存" not in after.content.decode()
    assert not rendered(warm.get(saved.url))


def test_the_session_countdown_is_this_request_s(warm, filled):
    detail(warm, filled)
    detail(warm, filled)
    session = warm.session
    session[sessions.LOGIN_AT] = time.time() - (12 * 60 * 60 - 100)  # 100 s of the session's 12 hours left
    session.save()
    page = detail(warm, filled)
    assert not rendered(page)
    html = page.content.decode()
    left = int(re.search(r'data-session-expires-in="(\d+)"', html).group(1))
    assert 95 <= left <= 100
    assert 'data-session-kind="absolute"' in html


def _request(user, cookie="secret-of-the-session"):
    request = RequestFactory().get("/assessments/x/")
    request.user = user
    request.COOKIES["csrftoken"] = request.META["CSRF_COOKIE"] = cookie
    request.session = Client().session
    from django.contrib.messages.storage.session import SessionStorage

    request._messages = SessionStorage(request)
    return request


def test_a_page_whose_rendering_writes_is_rendered_every_time(alice):
    calls = {"n": 0}

    @pagecache.page
    def counting(request):
        calls["n"] += 1
        Membership.objects.filter(user=request.user).update(role=Membership.Role.OFFICER)
        return HttpResponse("<p>已记录</p>")

    for _ in range(3):
        assert counting(_request(alice)).status_code == 200
    assert calls["n"] == 3


def test_a_page_that_leaves_no_trace_is_kept_and_one_that_adds_a_message_is_not(alice):
    calls = {"quiet": 0, "noisy": 0}

    @pagecache.page
    def quiet(request):
        calls["quiet"] += 1
        return HttpResponse("<p>页面</p>")

    @pagecache.page
    def noisy(request):
        calls["noisy"] += 1
        from django.contrib import messages

        messages.info(request, "提示")
        return HttpResponse("<p>页面</p>")

    for _ in range(3):
        quiet(_request(alice))
        noisy(_request(alice))
    assert calls == {"quiet": 1, "noisy": 3}
    assert quiet(_request(alice, cookie="another")).content.decode() == "<p>页面</p>"
    assert calls["quiet"] == 2
    request = _request(alice)
    request.method = "POST"
    quiet(request)
    assert calls["quiet"] == 3
    assert not list(get_messages(_request(alice)))


def test_an_audited_read_is_audited_each_time_it_is_served_whole(reviewer, filled, client):
    """The 复核 page records every opening in the audit log, rendered or served whole."""
    Assessment.objects.filter(pk=filled.pk).update(state=Assessment.State.SUBMITTED)
    client.force_login(reviewer)
    client.get(reverse("assessments:todo"))
    url = reverse("assessments:review", args=[filled.pk])
    pages = [client.get(url) for _ in range(3)]
    assert [rendered(p) for p in pages] == [True, False, False]
    assert without_countdown(pages[2].content) == without_countdown(pages[1].content)
    opened = list(AuditEvent.objects.filter(action="review.open").order_by("seq", "id")
                  .values_list("actor_id", "unit_id", "object_id", "details"))
    assert opened == [(reviewer.pk, filled.unit_id, str(filled.pk), {"state": "submitted"})] * 3


def test_a_page_is_kept_only_when_its_hook_writes_again_every_event_its_rendering_wrote(alice):
    """`every_time` writes its own events again when the page is served whole; a rendering that
    also wrote another (a refusal, a second read) is rendered every time, so none is lost."""
    calls = {"n": 0}

    def hook(request):
        audit.record("view.read", actor=request.user)

    hook.audited = ("view.read",)

    @pagecache.page(every_time=hook)
    def as_declared(request):
        calls["n"] += 1
        hook(request)
        return HttpResponse("<p>读取</p>")

    @pagecache.page(every_time=hook)
    def and_another(request):
        calls["n"] += 1
        hook(request)
        audit.record("view.refused", actor=request.user)
        return HttpResponse("<p>读取</p>")

    @pagecache.page(every_time=hook)
    def twice(request):
        calls["n"] += 1
        hook(request)
        hook(request)
        return HttpResponse("<p>读取</p>")

    for _ in range(3):
        as_declared(_request(alice))
    assert calls["n"] == 1  # rendered once, then served whole
    assert AuditEvent.objects.filter(action="view.read").count() == 3
    for view in (and_another, twice):
        calls["n"] = 0
        for _ in range(2):
            view(_request(alice))
        assert calls["n"] == 2, view.__name__
    assert AuditEvent.objects.filter(action="view.refused").count() == 2


def test_a_page_that_reads_the_audit_log_is_never_kept(alice):
    calls = {"n": 0}

    @pagecache.page
    def recent(request):
        calls["n"] += 1
        return HttpResponse(f"<p>{AuditEvent.objects.count()}</p>")

    @pagecache.page
    def audited_without_hook(request):
        calls["n"] += 1
        audit.record("view.read", actor=request.user)
        return HttpResponse("<p>读取</p>")

    for _ in range(2):
        recent(_request(alice))
        audited_without_hook(_request(alice))
    assert calls["n"] == 4


@pytest.mark.django_db(transaction=True)
def test_the_generation_is_renewed_when_the_write_commits_and_not_on_rollback(alice, unit_a, round_2020):
    before = generations.read(DataGeneration)
    with transaction.atomic():
        Permission.objects.filter(codename="review_all").update(name="审核全部")
        assert generations.read(DataGeneration) == before  # not before the commit
    after = generations.read(DataGeneration)
    assert after > before
    with transaction.atomic():
        Permission.objects.filter(codename="review_all").update(name="审核所有单位")
        transaction.set_rollback(True)
    assert generations.read(DataGeneration) == after
    # A write outside a transaction renews it at once; a session write does not.
    Membership.objects.filter(user=alice).update(role=Membership.Role.OFFICER)
    renewed = generations.read(DataGeneration)
    assert renewed > after
    client = Client()
    client.force_login(alice)
    assert generations.read(DataGeneration) > renewed  # last_login
    settled = generations.read(DataGeneration)
    session = client.session
    session["x"] = 1
    session.save()
    assert generations.read(DataGeneration) == settled


@pytest.mark.django_db(transaction=True)
def test_a_write_in_a_rolled_back_savepoint_still_leaves_the_outer_writes_announced(alice):
    before = generations.read(DataGeneration)
    with transaction.atomic():
        try:
            with transaction.atomic():
                Membership.objects.filter(user=alice).update(role=Membership.Role.OFFICER)
                raise RuntimeError
        except RuntimeError:
            pass
        Membership.objects.filter(user=alice).update(role=Membership.Role.OFFICER)
    assert generations.read(DataGeneration) > before


def test_the_generation_is_read_before_the_user_and_the_data(warm, filled):
    """A page is never older than the generation it is kept under (GenerationMiddleware)."""

    generations.renew(DataGeneration)
    with CaptureQueriesContext(connection) as queries:
        assert rendered(detail(warm, filled))
    sql = [q["sql"] for q in queries.captured_queries]
    first_generation = next(i for i, q in enumerate(sql) if "assessments_datageneration" in q)
    first_user = next(i for i, q in enumerate(sql) if '"auth_user"' in q)
    assert first_generation < first_user
    # The roles' generation is read in the same query, and not again.
    assert [i for i, q in enumerate(sql) if "generation" in q] == [first_generation]
    assert "assessments_authorizationgeneration" in sql[first_generation]


def test_a_page_rendered_costs_no_query_more_than_without_whole_pages(warm, filled, settings):
    url = reverse("assessments:edit", args=[filled.pk])
    warm.get(url)

    def count():
        generations.renew(DataGeneration)
        with CaptureQueriesContext(connection) as queries:
            assert rendered(warm.get(url))
        return len(queries.captured_queries)

    kept = count()
    settings.PORTAL_WHOLE_PAGES = False
    # One query fewer with them: the session's row is read in the generations' statement (portal.sessions).
    assert count() == kept + 1


def test_the_dashboard_is_kept_no_longer_than_its_charts(reviewer, client, monkeypatch):
    kept = []
    real_set = pagecache.cache.set

    def recording_set(key, value, timeout=None, **kwargs):
        if key.startswith("page:"):
            kept.append(timeout)
        return real_set(key, value, timeout, **kwargs)

    monkeypatch.setattr(pagecache.cache, "set", recording_set)
    client.force_login(reviewer)
    client.get(reverse("assessments:todo"))
    from assessments.models import Round

    Round.objects.create(year=2021, title="2021年度绩效自评")
    client.get(reverse("assessments:dashboard"))
    assert len(kept) == 1 and 0 < kept[0] <= 60


def test_a_page_seen_inside_a_rolled_back_savepoint_is_not_served_after_it(warm, filled):
    assert "整页缓存测试项目" in detail(warm, filled).content.decode()
    try:
        with transaction.atomic():
            Assessment.objects.filter(pk=filled.pk).update(project_name="回滚前的名称")
            assert "回滚前的名称" in detail(warm, filled).content.decode()
            assert "回滚前的名称" in detail(warm, filled).content.decode()  # kept
            raise RuntimeError
    except RuntimeError:
        pass
    page = detail(warm, filled).content.decode()
    assert "回滚前的名称" not in page and "整页缓存测试项目" in page


@pytest.mark.django_db(transaction=True)
def test_a_failing_commit_callback_does_not_drop_the_renewal(alice):
    before = generations.read(DataGeneration)

    def failing():
        raise RuntimeError("broker down")

    with pytest.raises(RuntimeError):
        with transaction.atomic():
            transaction.on_commit(failing)  # registered before the write, not robust
            Membership.objects.filter(user=alice).update(role=Membership.Role.OFFICER)
    assert generations.read(DataGeneration) > before


def test_a_change_deep_inside_the_session_is_a_trace(alice):
    calls = {"n": 0}

    @pagecache.page
    def remembers(request):
        calls["n"] += 1
        request.session["filters"]["state"] = "submitted"  # in place: the session is not marked modified
        return HttpResponse("<p>页面</p>")

    for _ in range(2):
        request = _request(alice)
        request.session["filters"] = {"state": ""}
        remembers(request)
    assert calls["n"] == 2


def test_a_new_csrf_secret_made_by_this_request_is_not_served_an_old_page(alice):
    calls = {"n": 0}

    @pagecache.page
    def quiet(request):
        calls["n"] += 1
        return HttpResponse("<p>页面</p>")

    quiet(_request(alice))
    quiet(_request(alice))
    assert calls["n"] == 1
    request = _request(alice)
    request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True  # the cookie was unreadable: a new secret
    quiet(request)
    assert calls["n"] == 2


def test_a_changed_setting_shows_on_the_next_page(warm, filled, settings):
    url = reverse("assessments:evidence", args=[filled.pk])
    warm.get(url)
    assert not rendered(warm.get(url))
    settings.EVIDENCE_MAX_FILES = 7
    assert rendered(warm.get(url))


def test_the_settings_digest_sees_a_plain_value_beside_an_object(settings):
    """A setting holding an object (here a list with a class instance) is still digested by its
    plain values: changing one of them gives another digest; the same settings give the same."""

    class Hook:
        pass

    settings.PORTAL_TEST_MIXED = [{"limit": 5, "hook": Hook()}, "文本"]
    first = pagecache.settings_digest()
    settings.PORTAL_TEST_MIXED = [{"limit": 5, "hook": Hook()}, "文本"]
    assert pagecache.settings_digest() == first  # another instance, same plain values
    settings.PORTAL_TEST_MIXED = [{"limit": 6, "hook": Hook()}, "文本"]
    assert pagecache.settings_digest() != first


def test_generations_are_read_in_one_statement_and_made_on_a_new_database():
    """read_many writes its statement itself (not through the ORM): each value is the one of its
    table, in the order asked, and a table without its row gets one, as a new database has none."""
    from assessments.models import AuthorizationGeneration, PublicGeneration

    DataGeneration.objects.update_or_create(pk=1, defaults={"value": 111})
    AuthorizationGeneration.objects.update_or_create(pk=1, defaults={"value": 222})
    PublicGeneration.objects.all().delete()
    with CaptureQueriesContext(connection) as queries:
        assert generations.read_many(AuthorizationGeneration, DataGeneration) == [222, 111]
    assert len(queries) == 1
    before = time.time_ns()
    made = generations.read(PublicGeneration)
    assert made >= before and PublicGeneration.objects.get(pk=1).value == made
    assert generations.read_many(DataGeneration, PublicGeneration, AuthorizationGeneration) == [111, made, 222]
    before = time.time_ns()
    generations.renew(DataGeneration)
    # A nanosecond stamp, whole: bound by the server as a 32-bit integer it was cut (ADR 0030).
    assert generations.read(DataGeneration) >= before > max(111, made)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_a_statement_run_again_on_a_connection_is_prepared_by_the_server():
    """ADR 0030: PostgreSQL plans a statement the connection has run five times once, not each time."""
    def prepared():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                           ['%FROM "assessments_assessment" WHERE "assessments_assessment"."project_name" = $%'])
            return cursor.fetchone()[0]

    assert prepared() == 0
    for n in range(6):
        assert not Assessment.objects.filter(project_name=f"没有这个项目{n}").exists()
    assert prepared() == 1
