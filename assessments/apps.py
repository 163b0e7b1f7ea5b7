from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _install_builtin_templates(sender, using="default", **kwargs):
    # Only once the whole schema is in place (the last migration of this app has run).
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    if not MigrationRecorder(connections[using]).has_table():
        return
    from .models import TemplateVersion
    from .table_templates import install_builtin

    try:
        TemplateVersion.objects.using(using).exists()
    except Exception:  # noqa: BLE001 - the table is not there (migrating backwards, or not yet)
        return
    install_builtin()


class AssessmentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "assessments"
    verbose_name = "绩效自评"

    def ready(self):
        from . import datachanges, tasks  # noqa: F401 - tasks connects the receiver of workflow.transitioned
        from .security import signals

        signals.connect(self)
        datachanges.install()
        post_migrate.connect(_install_builtin_templates, sender=self, dispatch_uid="install_builtin_templates")
