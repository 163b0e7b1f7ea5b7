"""A fixed cast for the tests: alice (officer of unit A), bob (officer of unit B), a reviewer, and
one account for each administrator role (issue 18): xitong, anquan, shenji."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User

from assessments.models import Membership, Region, Round, Unit
from assessments.services import create_assessment

PASSWORD = "Test-Pass-2024"


@pytest.fixture
def region(db):
    province = Region.objects.create(name="湖南省", level=Region.Level.PROVINCE)
    city = Region.objects.create(name="长沙市", level=Region.Level.CITY, parent=province)
    return Region.objects.create(name="岳麓区", level=Region.Level.DISTRICT, parent=city)


@pytest.fixture
def unit_a(region):
    return Unit.objects.create(name="中共长沙市岳麓区委员会政法委员会", short_name="岳麓区委政法委", region=region)


@pytest.fixture
def unit_b(region):
    return Unit.objects.create(name="中共长沙市岳麓区财政局测试单位", short_name="测试单位", region=region)


@pytest.fixture
def round_2020(db):
    return Round.objects.create(year=2020, title="2020年度绩效自评")


def make_officer(username, unit):
    user = User.objects.create_user(username, password=PASSWORD, first_name=username)
    Membership.objects.create(user=user, unit=unit, role=Membership.Role.OFFICER)
    return user


@pytest.fixture
def alice(unit_a):
    return make_officer("alice", unit_a)


@pytest.fixture
def bob(unit_b):
    return make_officer("bob", unit_b)


@pytest.fixture
def reviewer(db):
    user = User.objects.create_user("reviewer", password=PASSWORD)
    user.user_permissions.add(Permission.objects.get(codename="review_all"))
    return user


def make_admin(username, role):
    """An account holding one administrator role (assessments.roles); staff for the admin's roles."""
    from django.contrib.auth.models import Group

    from assessments import roles

    user = User.objects.create_user(username, password=PASSWORD, first_name=role, is_staff=role in roles.STAFF_ROLES)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def system_admin(db):
    return make_admin("xitong", "系统管理员")


@pytest.fixture
def security_admin(db):
    return make_admin("anquan", "安全管理员")


@pytest.fixture
def audit_admin(db):
    return make_admin("shenji", "审计管理员")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def department(unit_a, round_2020, alice):
    return create_assessment(unit=unit_a, round=round_2020, kind="department", layout="department", user=alice)


@pytest.fixture
def project(unit_a, round_2020, alice):
    return create_assessment(
        unit=unit_a, round=round_2020, kind="project", layout="project", project_name="综治、平安建设经费", user=alice
    )


def D(value):
    return Decimal(value)


@pytest.fixture(autouse=True)
def _patient_upload_clock(settings):
    """An upload's parse is stopped by its CPU budget (0.8 s) or by the clock (0.9 s). On a busy
    test machine (CI, parallel runs) the clock runs out first and a good file reads as
    "服务器繁忙": tests move the clock away; the tests of the clock itself set it back."""
    settings.IMPORT_PARSE_WALL_SECONDS = 10


@pytest.fixture(autouse=True)
def _fast_password_hash(settings):
    """Every test creates users (and seed_demo seven): the production Argon2 costs a fifth of a
    second a password. Processes a test starts (workers, gunicorn) keep the production hashers."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _own_storage_prefix(settings, monkeypatch):
    """In the S3 run (STORAGE_S3_BUCKET, the PostgreSQL run of scripts/test.sh) every test writes
    under a prefix of its own, as each test's files go to its own tmp media folder on the local
    disk; processes a test starts (worker, gunicorn) inherit it through the environment."""
    if not settings.STORAGE_S3_BUCKET:
        yield
        return
    import copy
    import os
    import uuid

    prefix = f"{os.environ.get('STORAGE_S3_PREFIX', 'test').strip('/')}/{uuid.uuid4().hex}"
    monkeypatch.setenv("STORAGE_S3_PREFIX", prefix)
    storages = copy.deepcopy(settings.STORAGES)
    storages["default"]["OPTIONS"]["location"] = prefix
    settings.STORAGES = storages
    yield


@pytest.fixture(autouse=True)
def _print_copies_only_when_asked(request, settings):
    """The PDF and Word copy of a report cost 0.3–3 s of WeasyPrint layout each, and seed_demo
    publishes two reports: tests make them only when they use the ``print_copies`` fixture (the
    PDF/Word tests, the access matrix). Production makes them always (DISCLOSURE_PRINT_COPIES)."""
    settings.DISCLOSURE_PRINT_COPIES = "print_copies" in request.fixturenames


@pytest.fixture
def print_copies(settings):
    """Exports in this test write the PDF and the Word copy too."""
    settings.DISCLOSURE_PRINT_COPIES = True


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Public pages are cached (Redis in the PostgreSQL run), and the entry rows' prototypes in the
    process (`rowforms.KITS`): start every test empty."""
    from django.core.cache import caches

    from assessments import exporting, roles, rowforms

    caches["default"].clear()
    caches["public_local"].clear()
    exporting.forget_public_cache_generation()
    rowforms.KITS.clear()
    roles._HERE.clear()  # a rolled-back test leaves its generation behind
    from assessments.views import review

    review._CHARTS_HERE.clear()
    yield


@pytest.fixture
def rendered_pages(settings):
    """Every page rendered by its view (not served whole, ADR 0025): for tests that read a page's
    context or count the queries of its rendering."""
    settings.PORTAL_WHOLE_PAGES = False


@pytest.fixture
def renders(monkeypatch):
    """`renders(module)`: the list of template names `module.render_to_string` renders from then on."""
    names = []

    def watch(module):
        real = module.render_to_string

        def counting(name, *args, **kwargs):
            names.append(name)
            return real(name, *args, **kwargs)

        monkeypatch.setattr(module, "render_to_string", counting)
        return names

    return watch


@pytest.fixture
def producer_to():
    """Point this process's Celery app at a real broker for the test, then back to eager.

    Connection and producer pools are created once with the broker of that moment, and kombu
    keeps producer pools in a global registry: both are emptied on the way in and out.
    """
    from kombu import pools as kombu_pools

    from portal.celery import app as celery_app

    def reset_connections():
        kombu_pools.reset()
        if celery_app._pool is not None:
            celery_app._pool.force_close_all()
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    def point(url: str):
        reset_connections()
        celery_app.conf.update(broker_url=url, task_always_eager=False)

    yield point
    reset_connections()
    celery_app.conf.update(broker_url="memory://", task_always_eager=True)
