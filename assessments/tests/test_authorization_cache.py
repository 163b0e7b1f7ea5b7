"""An account's roles and units are read once and kept in the cache (issue 17, part 5; ADR 0024),
and every change to them takes effect on the very next request."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments import roles
from assessments.models import Membership, ReviewerAssignment

pytestmark = pytest.mark.django_db


def test_the_roles_are_read_in_one_query_then_from_the_cache(alice, unit_a, django_assert_num_queries):
    with django_assert_num_queries(2):  # the generation, the roles
        held = roles.authorization(alice)
    assert held.officer_units == frozenset({unit_a.pk})
    assert held.reviewer_units == frozenset() and held.supervisor_units == frozenset()
    fresh = User.objects.get(pk=alice.pk)
    with django_assert_num_queries(1):  # the generation only
        assert roles.authorization(fresh) == held
    with django_assert_num_queries(0):  # the same request asks again
        assert roles.authorization(fresh) == held


def test_one_query_reads_every_kind_of_grant(reviewer, unit_a, unit_b, django_assert_num_queries):
    group = Group.objects.get(name=roles.REVIEWER_ALL)
    reviewer.groups.add(group)
    ReviewerAssignment.objects.create(reviewer=reviewer, unit=unit_b)
    Membership.objects.create(user=reviewer, unit=unit_a, role=Membership.Role.SUPERVISOR)
    cache.clear()
    fresh = User.objects.get(pk=reviewer.pk)
    with django_assert_num_queries(2):  # the generation, then every grant in one query
        held = roles.authorization(fresh)
    assert "assessments.review_all" in held.grants.permissions
    assert held.grants.groups == frozenset({roles.REVIEWER_ALL})
    assert held.reviewer_units == frozenset({unit_b.pk})
    assert held.supervisor_units == frozenset({unit_a.pk}) and held.officer_units == frozenset()


def test_a_removed_membership_takes_effect_on_the_next_request(alice_client, alice, department):
    edit = reverse("assessments:edit", args=[department.pk])
    assert alice_client.get(edit).status_code == 200
    Membership.objects.filter(user=alice).get().delete()
    # The change renews the generation in the database and leaves every cache alone (another
    # process's cache would not hear of it): the entry is still there, and no longer used.
    assert cache.get(roles._user_key(alice))[1].officer_units == frozenset({department.unit_id})
    assert alice_client.get(edit).status_code == 404
    Membership.objects.create(user=alice, unit=department.unit, role=Membership.Role.OFFICER)
    assert alice_client.get(edit).status_code == 200


def test_a_withdrawn_permission_or_group_takes_effect_on_the_next_request(client, reviewer):
    client.force_login(reviewer)
    dashboard = reverse("assessments:dashboard")
    assert client.get(dashboard).status_code == 200
    reviewer.user_permissions.remove(Permission.objects.get(codename="review_all"))
    assert client.get(dashboard).status_code == 403
    group = Group.objects.get(name=roles.REVIEWER_ALL)
    reviewer.groups.add(group)
    assert client.get(dashboard).status_code == 200
    # Through the group's side, and the group's own permissions.
    group.permissions.remove(Permission.objects.get(codename="review_all"))
    assert client.get(dashboard).status_code == 403
    group.permissions.add(Permission.objects.get(codename="review_all"))
    assert client.get(dashboard).status_code == 200
    group.user_set.remove(reviewer)
    assert client.get(dashboard).status_code == 403


def test_a_removed_assignment_takes_effect_on_the_next_request(client, unit_b):
    user = User.objects.create_user("fenpei", password="x")
    assignment = ReviewerAssignment.objects.create(reviewer=user, unit=unit_b)
    client.force_login(user)
    dashboard = reverse("assessments:dashboard")
    assert client.get(dashboard).status_code == 200
    assignment.delete()
    assert client.get(dashboard).status_code == 403


def test_a_generation_renewed_by_a_migration_or_a_restore_is_honoured(alice, unit_a, unit_b):
    """The post-migrate step renews the generation (data migrations send no signals)."""
    from assessments.security.signals import ensure_role_groups

    roles.authorization(alice)
    Membership.objects.filter(user=alice).update(unit=unit_b)  # no signal
    ensure_role_groups()
    assert roles.authorization(User.objects.get(pk=alice.pk)).officer_units == frozenset({unit_b.pk})


def test_an_entry_of_another_generation_is_not_used(alice, unit_a, unit_b):
    roles.authorization(alice)
    key = roles._user_key(alice)
    generation, held = cache.get(key)
    forged = roles.Authorization(held.grants, frozenset({unit_b.pk}), frozenset(), frozenset())
    cache.set(key, ("another generation", forged))
    fresh = User.objects.get(pk=alice.pk)
    assert roles.authorization(fresh).officer_units == frozenset({unit_a.pk})


def test_without_a_cache_the_roles_come_from_the_database(alice, unit_a, settings, django_assert_num_queries):
    settings.CACHES = {**settings.CACHES, "default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    for _ in range(2):
        roles._HERE.clear()  # a process that has not read them
        fresh = User.objects.get(pk=alice.pk)
        with django_assert_num_queries(2):
            assert roles.authorization(fresh).officer_units == frozenset({unit_a.pk})
    # The process that read them under this generation: the generation only.
    fresh = User.objects.get(pk=alice.pk)
    with django_assert_num_queries(1):
        assert roles.authorization(fresh).officer_units == frozenset({unit_a.pk})


def test_navigation_and_access_read_no_query_once_cached(client, reviewer):
    client.force_login(reviewer)
    todo = reverse("assessments:todo")
    assert client.get(todo).status_code == 200
    other = Client()  # another session of the same account: a new request, a new user object
    other.force_login(reviewer)
    with CaptureQueriesContext(connection) as ctx:
        assert other.get(todo).status_code == 200
    sql = " ".join(q["sql"] for q in ctx.captured_queries)
    assert "auth_permission" not in sql and "assessments_membership" not in sql
    assert "assessments_reviewerassignment" not in sql


def test_a_request_reads_the_cached_roles_once(client, reviewer, monkeypatch):
    """request.user is a lazy object: what the request learnt is kept on the user it wraps, so
    a page that asks a dozen permission questions reads the cache once, in a process that had not
    read them under this generation; none in one that had (issue 17)."""
    client.force_login(reviewer)
    todo = reverse("assessments:todo")
    assert client.get(todo).status_code == 200
    reads = []
    real = cache.get

    def counting(key, *args, **kwargs):
        if str(key).startswith("authz:"):
            reads.append(key)
        return real(key, *args, **kwargs)

    monkeypatch.setattr(cache, "get", counting)
    roles._HERE.clear()
    assert client.get(todo).status_code == 200
    assert reads == [roles._user_key(reviewer)]
    assert client.get(todo).status_code == 200
    assert reads == [roles._user_key(reviewer)]
    roles.invalidate()  # a role changed: read again
    assert client.get(todo).status_code == 200
    assert reads == [roles._user_key(reviewer)] * 2
