"""Thin task wrappers of the knowledge base (logic in services). They run in the schema they were
sent from (tenant-schemas-celery) and store no results."""
from __future__ import annotations

from celery import shared_task


# No retries: ingestion records its own failures on the document (status failed + reason), and a
# lost task is sent again by the sweep. The time limits only stop a pathological file; the soft
# one raises inside the ingestion, which then marks the document failed.
@shared_task(name="knowledge.ingest", ignore_result=True, max_retries=0, soft_time_limit=540, time_limit=600)
def ingest(document_id: int, version: int, extract: bool | None = None) -> None:
    """Extract, chunk, embed and swap in the chunks of one version of a document."""
    from .services import document_ingest

    document_ingest(document_id, version, extract=extract)


@shared_task(name="knowledge.sweep", ignore_result=True, max_retries=0)
def sweep() -> int:
    """Beat (through core.fan_out, per tenant): send again ingestions stuck for over 2 minutes."""
    from .services import document_sweep

    return document_sweep()


@shared_task(name="knowledge.reindex_language", ignore_result=True, max_retries=0)
def reindex_language() -> int:
    """After the tenant's language changed: recompute the chunks' full-text vectors in it."""
    from .services import chunks_reindex_language

    return chunks_reindex_language()
