"""Every write to the knowledge base (contract; implemented by the knowledge-core owner).

All raise django.core.exceptions.ValidationError with a readable, translated message on bad input
(too long, wrong file type, too large, refused URL) and store nothing in that case."""
from __future__ import annotations


def document_create_text(*, title: str, content: str, category: str = "", user=None):
    """A typed document; ingestion is enqueued after commit."""
    raise NotImplementedError


def document_create_file(*, upload, title: str = "", category: str = "", user=None):
    """An uploaded PDF / DOCX / TXT / MD / CSV (type sniffed from the bytes; <= 10 MB)."""
    raise NotImplementedError


def document_create_url(*, url: str, title: str = "", category: str = "", user=None):
    """A web page imported in the background (the address is checked now and again at fetch time)."""
    raise NotImplementedError


def document_update(document, *, title: str, category: str = "", content: str | None = None, user=None):
    """Rename / recategorise; new ``content`` bumps the version and re-ingests (chunks swap atomically)."""
    raise NotImplementedError


def document_reingest(document):
    raise NotImplementedError


def document_delete(document) -> None:
    raise NotImplementedError


def document_ingest(document_id: int, version: int) -> None:
    """The Celery task's body: extract (file / URL), chunk, embed, swap the chunks in one transaction,
    update status and progress as it goes."""
    raise NotImplementedError
