"""Celery app. With CELERY_BROKER_URL set, tasks go to Redis and a worker runs them;
without it (the embedded default) they run eagerly in-process."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
