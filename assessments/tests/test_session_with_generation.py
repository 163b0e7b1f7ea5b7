"""A logged-in page reads its session's row in the same statement as the data generation
(`pagecache.GenerationMiddleware`, `portal.sessions`; issue 17, part 5): one round trip, and a
session is valid exactly when Django's own database sessions would say so."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assessments import generations
from assessments.models import DataGeneration

pytestmark = pytest.mark.django_db


def _get(client, url):
    generations.renew(DataGeneration)  # a page rendered, not served whole
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return response, [q["sql"] for q in queries.captured_queries]


def test_the_session_is_read_with_the_generation(alice_client):
    response, queries = _get(alice_client, reverse("assessments:list"))
    assert response.status_code == 200 and response.context["user"].username == "alice"
    session_reads = [sql for sql in queries if '"django_session"' in sql]
    assert len(session_reads) == 1
    assert "assessments_datageneration" in session_reads[0]  # the same statement
    assert queries.index(session_reads[0]) == 0  # before the user, its roles or any data


@pytest.mark.parametrize("gone", ["expired", "deleted"])
def test_a_session_expired_or_deleted_elsewhere_is_logged_out(alice_client, gone):
    url = reverse("assessments:list")
    assert _get(alice_client, url)[0].status_code == 200
    key = alice_client.session.session_key
    if gone == "expired":
        Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    else:
        Session.objects.filter(session_key=key).delete()  # e.g. logged out in another tab
    response, _ = _get(alice_client, url)
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_an_unknown_session_key_is_logged_out_and_gets_a_new_session(client, alice):
    client.cookies["sessionid"] = "x" * 32  # never issued
    response, _ = _get(client, reverse("assessments:list"))
    assert response.status_code == 302 and reverse("login") in response["Location"]
    assert not Session.objects.filter(session_key="x" * 32).exists()


def test_the_session_read_with_the_generation_is_saved_as_django_saves_it(alice_client):
    """The session read in the generations' statement is the one the request keeps and writes."""
    url = reverse("assessments:list")
    key = alice_client.session.session_key
    session = alice_client.session
    session["portal_test_marker"] = "保留"
    session.save()
    response, _ = _get(alice_client, url)
    assert response.status_code == 200
    assert response.wsgi_request.session["portal_test_marker"] == "保留"
    assert response.wsgi_request.session.session_key == key
    stored = Session.objects.get(session_key=key).get_decoded()
    assert stored["portal_test_marker"] == "保留" and stored["_auth_user_id"] == str(response.context["user"].pk)
