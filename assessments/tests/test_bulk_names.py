"""Issue 12, finding 7: the entries of the reviewers' ZIP are built from ids and sanitised text.

A project named ``../../../../../tmp/x/evil`` produced the entry ``../../../tmp/x/evil绩效自评.xlsx``
(zipfile normalises the name it is given): unzipping it wrote outside the target folder. Every
entry name is now one path component: no separator of any kind, no ``..``, unique.
"""

import io
import zipfile

import pytest
from django.urls import reverse

from assessments import bulk
from assessments.models import Assessment, BulkExport, Unit

from .helpers import body
from .test_export_jobs import make_project, publish

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


HOSTILE_NAMES = [
    "../../../../../tmp/x/evil",
    "..\\..\\windows\\evil",
    "／etc／passwd＼..＼x",  # full-width solidus and reverse solidus: Windows "best fit" maps them to / and \
    "C:evil?*<>|\"名称",
    "换行\n与\t制表\x07符",
    "...",
]


def test_bulk_zip_entry_names_never_leave_the_folder(bureau, alice, bob, reviewer, unit_a, unit_b, round_2020, tmp_path,
                                                       django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    Unit.objects.filter(pk=unit_a.pk).update(short_name="../单位/..")
    Unit.objects.filter(pk=unit_b.pk).update(short_name="单位")
    published = [publish(alice, reviewer, make_project(unit_a, round_2020, name), capture) for name in HOSTILE_NAMES]
    # Two units whose names read the same once sanitised, with projects of the same name: the id
    # keeps their entries apart.
    published += [publish(officer, reviewer, make_project(unit, round_2020, "同名项目"), capture)
                  for officer, unit in ((alice, unit_a), (bob, unit_b))]

    job = bulk.request(round_2020, reviewer)
    bulk.build(job.pk)
    job.refresh_from_db()
    assert (job.status, job.total, job.done, job.error) == (BulkExport.Status.DONE, 8, 8, "")

    archive = zipfile.ZipFile(io.BytesIO(body(bureau.get(reverse("assessments:bulk_download", args=[job.pk])))))
    ids = [a.pk for a in published]
    stems = [
        f"{ids[0]:05d}-单位-2020年度_tmp_x_evil绩效自评",
        f"{ids[1]:05d}-单位-2020年度_windows_evil绩效自评",
        f"{ids[2]:05d}-单位-2020年度_etc_passwd_x绩效自评",
        f"{ids[3]:05d}-单位-2020年度C_evil_名称绩效自评",
        f"{ids[4]:05d}-单位-2020年度换行_与_制表_符绩效自评",
        f"{ids[5]:05d}-单位-2020年度_绩效自评",
        f"{ids[6]:05d}-单位-2020年度同名项目绩效自评",
        f"{ids[7]:05d}-单位-2020年度同名项目绩效自评",
    ]
    assert sorted(archive.namelist()) == sorted(f"{stem}.{ext}" for stem in stems for ext in ("xlsx", "json"))
    for name in archive.namelist():
        assert "/" not in name and "\\" not in name and ".." not in name
    # Unzipped, every file lands directly in the target folder.
    target = tmp_path / "unzipped"
    archive.extractall(target)
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == sorted(archive.namelist())
    assert Assessment.objects.filter(state=Assessment.State.PUBLISHED).count() == 8


@pytest.mark.parametrize("text,expected", [
    ("../../../../../tmp/x/evil", "tmp_x_evil"),
    ("..", "未命名"),
    ("a..b", "a_b"),
    ("v1.2 版", "v1.2 版"),
    ("综治、平安建设经费", "综治、平安建设经费"),
    ("x" * 100, "x" * 60),
    ("\u202etxt.exe", "txt.exe"),  # right-to-left override: a format character, dropped
])
def test_entry_text_is_one_safe_path_component(text, expected):
    assert bulk.safe_component(text) == expected


@pytest.fixture
def bureau(reviewer, client):
    client.force_login(reviewer)
    return client
