"""Celery app. Tasks sent in a tenant's context carry its schema and run in it (tenant-schemas-celery).

Every task of the project derives from ``Task`` below (a ``TenantTask``): ``CeleryApp`` builds
``app.Task`` from ``task_cls``, and both ``@shared_task`` and ``@app.task`` use ``app.Task`` as the
base. A task still declares its own stable name and which errors it retries on; the backoff shape
is shared here.
"""
import os

from celery.signals import task_postrun, task_prerun
from tenant_schemas_celery.app import CeleryApp
from tenant_schemas_celery.task import TenantTask

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.dev")


class Task(TenantTask):
    """Base of every project task: runs in the schema it was sent from.

    Retry policy (applies to the exceptions a task lists in ``autoretry_for``): exponential
    backoff with jitter, capped at 10 minutes, at most 5 attempts. Tasks may override any of it.
    """

    abstract = True
    max_retries = 5
    default_retry_delay = 10
    retry_backoff = True
    retry_backoff_max = 600
    retry_jitter = True
    acks_late = True
    reject_on_worker_lost = True


app = CeleryApp("saas", task_cls=Task)
app.config_from_object("django.conf:settings", namespace="CELERY")
# Workers log through Django's LOGGING (JSON in production, with schema and task id).
app.conf.worker_hijack_root_logger = False
app.autodiscover_tasks()


_request_id_tokens: dict = {}


@task_prerun.connect(dispatch_uid="saas_task_request_id")
def _bind_task_id(task_id=None, **_):
    """Log lines written by a task carry its id where a request would carry X-Request-ID."""
    from apps.core.logging import request_id_var

    _request_id_tokens[task_id] = request_id_var.set(task_id or "-")


@task_postrun.connect(dispatch_uid="saas_task_request_id_reset")
def _unbind_task_id(task_id=None, **_):
    from apps.core.logging import request_id_var

    token = _request_id_tokens.pop(task_id, None)
    try:
        if token is not None:
            request_id_var.reset(token)
    except ValueError:  # set in another context
        request_id_var.set("-")
