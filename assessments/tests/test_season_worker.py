"""Issue 14, "How it will be judged": the whole season on PostgreSQL with a real Celery worker.

Approved targets for three units from one workbook → tasks issued from them → unit A changes a
target with a reason (flagged), submits to its 主管部门, which returns it; A resubmits, the 主管部门
forwards, the bureau approves (the worker exports and publishes it) → unit B submits → unit C never does: the worker's reminder task,
run for the lead-time day and the deadline day (twice), sends C exactly two reminders and nobody
who submitted gets one. The worker talks to a Redis server of its own (a free port) and sends its
mail with the console backend, into its log.
"""

import datetime
import email
import email.header
import re
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from assessments import season, tasks, workflow
from assessments.models import Assessment, Reminder, TargetAdjustment, TargetSet, Task, Transition, Unit

from .conftest import make_officer
from .helpers import form_data
from .season_helpers import target_workbook, use_national_project_template
from .test_season import fill_actuals
from .test_supervision import pre_review_post
from .test_worker import dead_port, require_services, start_redis, start_worker, stop, wait_until_published

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


def wait_for(condition, worker, log, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        if worker.poll() is not None:
            pytest.fail(f"worker exited early:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    pytest.fail(f"not done within {seconds} s\n{log.read_text()[-3000:]}")


def mails_in(text: str) -> list[tuple[str, str]]:
    """(To, decoded Subject) of each message the console e-mail backend wrote into the log."""
    out = []
    # Each message is one log record: "[time: WARNING/MainProcess] Content-Type: …" up to the next "\n[".
    for block in text.split("] Content-Type: ")[1:]:
        message = email.message_from_string("Content-Type: " + block.split("\n[")[0])
        out.append((message["To"], str(email.header.make_header(email.header.decode_header(message["Subject"])))))
    return out


def test_the_whole_season_with_a_real_worker(region, round_2020, reviewer, media, producer_to, tmp_path):
    require_services()
    use_national_project_template(round_2020)
    units = {
        key: Unit.objects.create(name=name, short_name=short, region=region)
        for key, name, short in (("a", "中共长沙市岳麓区委政法委员会", "岳麓政法委"), ("b", "长沙市岳麓区司法局", "岳麓司法局"),
                                 ("c", "长沙市岳麓区信访局", "岳麓信访局"))
    }
    officers = {}
    for key, unit in units.items():
        officers[key] = make_officer(f"officer_{key}", unit)
        officers[key].email = f"officer-{key}@example.cn"
        officers[key].save()
    projects = {"a": "综治、平安建设经费", "b": "社区矫正经费", "c": "信访维稳经费"}
    # Unit A's 主管部门 checks its submissions first: the round asks for 初审.
    from django.contrib.auth.models import User

    from assessments.models import Membership

    head = Unit.objects.create(name="中共长沙市岳麓区委员会", short_name="岳麓区委", region=region)
    Unit.objects.filter(pk=units["a"].pk).update(supervisor_unit=head)
    supervisor = User.objects.create_user("zhuguan", first_name="区委初审人", email="zhuguan@example.cn")
    Membership.objects.create(user=supervisor, unit=head, role=Membership.Role.SUPERVISOR)
    round_2020.supervisor_review = True
    round_2020.save()
    bureau = Client()
    bureau.force_login(reviewer)

    # 1. The approved targets of the three units, one workbook (a sheet each).
    data = target_workbook([{"title": f"{k}表", "project": projects[k], "implementer": units[k].name} for k in "abc"])
    response = bureau.post(reverse("assessments:season_targets"),
                           {"round": round_2020.pk, "file": SimpleUploadedFile("2020年绩效目标.xlsx", data)})
    assert response.status_code == 200
    assert TargetSet.objects.count() == 3

    # 2. Tasks from the approved targets: today is the warning day (3 days before the deadline).
    today = timezone.localdate()
    due = today + datetime.timedelta(days=3)
    bureau.post(reverse("assessments:season"), {"round": round_2020.pk, "source": "targets",
                                                "starts_on": str(today - datetime.timedelta(days=5)), "due_on": str(due),
                                                "warn_days": "3"})
    tasks_by_unit = {t.unit_id: t for t in Task.objects.all()}
    assert len(tasks_by_unit) == 3 and all(t.target_set_id for t in tasks_by_unit.values())

    clients = {}
    for key in "abc":
        clients[key] = Client()
        clients[key].force_login(officers[key])

    # 3. Unit A: 新建 from its task, adjusts a target with a reason, submits.
    task_a = tasks_by_unit[units["a"].pk]
    clients["a"].post(reverse("assessments:task_start", args=[task_a.pk]))
    task_a.refresh_from_db()
    a = task_a.assessment
    row = a.indicators.get(position=1)
    data = form_data(clients["a"].get(reverse("assessments:edit", args=[a.pk])))
    data.update({"key": str(row.key), f"adjust-{row.key}-target": "≥8次", f"adjust-{row.key}-reason": "上半年集中活动受限"})
    clients["a"].post(reverse("assessments:adjust_target", args=[a.pk]), data)
    assert TargetAdjustment.objects.get(assessment=a).new_target == "≥8次"
    fill_actuals(a)
    clients["a"].post(reverse("assessments:submit", args=[a.pk]))
    a.refresh_from_db()
    assert a.state == Assessment.State.SUBMITTED
    assert ",target_adjusted," in a.risk_flags

    # Unit B submits too; unit C never starts.
    task_b = tasks_by_unit[units["b"].pk]
    clients["b"].post(reverse("assessments:task_start", args=[task_b.pk]))
    task_b.refresh_from_db()
    fill_actuals(task_b.assessment)
    clients["b"].post(reverse("assessments:submit", args=[task_b.assessment_id]))
    assert Assessment.objects.get(pk=task_b.assessment_id).state == Assessment.State.SUBMITTED

    held = dead_port()
    port = held.getsockname()[1]
    held.close()
    redis = start_redis(port, tmp_path)
    broker = f"redis://127.0.0.1:{port}/0"
    producer_to(broker)
    log = tmp_path / "worker.log"
    worker = start_worker(broker, media, log)
    try:
        # 4. A's 主管部门 returns it (初审), A resubmits, the 主管部门 forwards, the bureau approves:
        #    the worker publishes it.
        zhuguan = Client()
        zhuguan.force_login(supervisor)
        page = reverse("assessments:supervise_detail", args=[a.pk])
        zhuguan.post(page, pre_review_post(a, "pre_return", "请补充指标调整的依据。"))
        a.refresh_from_db()
        assert a.state == Assessment.State.RETURNED
        clients["a"].post(reverse("assessments:submit", args=[a.pk]))
        a.refresh_from_db()
        assert a.state == Assessment.State.SUBMITTED
        zhuguan.post(page, pre_review_post(a, "forward", "依据已补充，同意转报。"))
        a.refresh_from_db()
        assert a.state == Assessment.State.FORWARDED
        workflow.perform(reviewer, a, "start_review")
        workflow.perform(reviewer, a, "approve")
        wait_until_published(a.pk, worker, log)

        # 5. Reminders through the broker: the warning day, then the deadline (run twice).
        tasks.send_task_reminders.apply_async(kwargs={"today": str(today)})
        wait_for(lambda: Reminder.objects.filter(kind="lead").exists(), worker, log)
        for _ in range(2):
            tasks.send_task_reminders.apply_async(kwargs={"today": str(due)})
        wait_for(lambda: Reminder.objects.filter(kind="deadline").exists(), worker, log)
        # The second deadline run has finished when the worker has logged three successes.
        wait_for(lambda: len(re.findall(r"send_task_reminders\[[^\]]+\] succeeded", log.read_text())) == 3, worker, log)
    finally:
        stop(worker)
        stop(redis)

    assert list(Reminder.objects.order_by("id").values_list("task__unit_id", "kind", "recipients")) == [
        (units["c"].pk, "lead", "officer-c@example.cn"),
        (units["c"].pk, "deadline", "officer-c@example.cn"),
    ]
    reminders = [(to, subject) for to, subject in mails_in(log.read_text()) if "截止" in subject]
    assert reminders == [
        ("officer-c@example.cn", "【绩效自评】还剩 3 天截止：2020年度绩效自评 信访维稳经费"),
        ("officer-c@example.cn", "【绩效自评】今天截止：2020年度绩效自评 信访维稳经费"),
    ]
    assert Assessment.objects.get(pk=a.pk).state == Assessment.State.PUBLISHED
    assert list(Transition.objects.filter(assessment=a).values_list("action", "actor__username")) == [
        ("submit", "officer_a"), ("pre_return", "zhuguan"), ("submit", "officer_a"), ("forward", "zhuguan"),
        ("start_review", "reviewer"), ("approve", "reviewer"), ("publish", None)]
    # The 初审 notifications went out through the worker too: to the 主管部门, then back to A.
    mails = mails_in(log.read_text())
    assert ("officer-a@example.cn", "【绩效自评】“2020年度综治、平安建设经费绩效自评”被主管部门初审退回") in mails
    statuses = {t.unit_id: t.status for t in season.annotate(list(Task.objects.select_related("assessment")))}
    assert statuses == {units["a"].pk: "submitted", units["b"].pk: "submitted", units["c"].pk: "not_started"}
