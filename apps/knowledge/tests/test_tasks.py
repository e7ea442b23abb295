"""The Celery tasks: names, tenant base class, and that they act in the schema they were sent from."""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tenants.utils import schema_context
from tenant_schemas_celery.task import TenantTask

from apps.knowledge import tasks
from apps.knowledge.models import Chunk, Document
from apps.knowledge.services import document_create_text


def test_tasks_have_stable_names_and_are_tenant_tasks():
    from saas.celery import app

    for name in ("knowledge.ingest", "knowledge.sweep"):
        assert isinstance(app.tasks[name], TenantTask)
    assert tasks.ingest.name == "knowledge.ingest" and tasks.sweep.name == "knowledge.sweep"


def test_ingest_task_runs_in_the_sending_tenant_only(tenant, other_tenant):
    with schema_context(other_tenant.schema_name):
        theirs = document_create_text(title="Beta", content="Pizza de calabresa.")
    with schema_context(tenant.schema_name):
        ours = document_create_text(title="Alpha", content="Presunto de Parma.")
        tasks.ingest.apply(args=(ours.pk, ours.version))
        assert Document.objects.get(pk=ours.pk).status == "ready"
        # beta's id sent from alpha's schema reaches alpha's row of that id, if any, never beta's
        tasks.ingest.apply(args=(theirs.pk, theirs.version))
    with schema_context(other_tenant.schema_name):
        assert Document.objects.get(pk=theirs.pk).status == "pending"
        assert not Chunk.objects.filter(document_id=theirs.pk).exists()
        tasks.ingest.apply(args=(theirs.pk, theirs.version), kwargs={"extract": None})
        assert Document.objects.get(pk=theirs.pk).status == "ready"


def test_sweep_task_counts_stuck_documents_of_its_tenant(tenant, other_tenant, django_capture_on_commit_callbacks):
    old = timezone.now() - timedelta(minutes=10)
    with schema_context(other_tenant.schema_name):
        theirs = document_create_text(title="Beta", content="Pizza.")
        Document.objects.filter(pk=theirs.pk).update(updated_at=old)
    with schema_context(tenant.schema_name):
        with django_capture_on_commit_callbacks(execute=False):
            assert tasks.sweep.apply().get() == 0
    with schema_context(other_tenant.schema_name):
        with django_capture_on_commit_callbacks(execute=False):
            assert tasks.sweep.apply().get() == 1
