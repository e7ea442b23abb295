"""Every write to the knowledge base.

All creators and editors raise django.core.exceptions.ValidationError with a readable, translated
message (and a ``code``: required, empty, too_long, file_too_large, file_type, url_refused) on bad
input and store nothing in that case. Ingestion (``document_ingest``, the body of the
``knowledge.ingest`` task) is enqueued after commit; it never raises: a problem leaves the
document ``failed`` with the reason in ``error``.
"""
from __future__ import annotations

import logging
import os
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation, ValidationError
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from .chunking import chunk_text, normalize_newlines
from .extraction import DOCX, PDF, ExtractionError, docx_text, file_text, pdf_text, sniff
from .models import Chunk, Document, DocumentSource, DocumentStatus
from .selectors import max_document_chars, search_config

logger = logging.getLogger(__name__)

# A pending / processing document untouched this long lost its task (worker restart, broker
# hiccup): the sweep sends it again. Ingestion touches updated_at at every progress step.
STUCK_AFTER = timedelta(minutes=2)
_EXTENSIONS = {PDF: ".pdf", DOCX: ".docx", "text/markdown": ".md", "text/csv": ".csv", "text/plain": ".txt"}


def _length_error(count: int, limit: int) -> ValidationError:
    return ValidationError(
        _("This document has %(count)s characters; the limit is %(limit)s.")
        % {"count": number_format(count, force_grouping=True), "limit": number_format(limit, force_grouping=True)},
        code="too_long")


def _check_length(text: str) -> None:
    limit = max_document_chars()
    if len(text) > limit:
        raise _length_error(len(text), limit)


def _clean_title(title: str) -> str:
    return " ".join((title or "").split())[:200]


def _clean_category(category: str) -> str:
    return " ".join((category or "").split())[:80]


def _author(user):
    return user if getattr(user, "pk", None) else None


def _enqueue(document: Document, *, extract: bool | None = None) -> None:
    """Send the ingestion after commit (robust: a broker outage is logged, and the sweep sends
    the document again later)."""
    document_id, version = document.pk, document.version

    def send():
        from .tasks import ingest

        ingest.delay(document_id, version, extract=extract)

    transaction.on_commit(send, robust=True)


# --- create / update / delete --------------------------------------------------------------------

def document_create_text(*, title: str, content: str, category: str = "", user=None) -> Document:
    """A typed document; ingestion is enqueued after commit."""
    title = _clean_title(title)
    if not title:
        raise ValidationError(_("Enter a title."), code="required")
    content = normalize_newlines(content)
    if not content.strip():
        raise ValidationError(_("The document is empty."), code="empty")
    _check_length(content)
    with transaction.atomic():
        document = Document.objects.create(title=title, category=_clean_category(category),
                                           source=DocumentSource.TEXT, content=content, char_count=len(content),
                                           created_by=_author(user))
        _enqueue(document)
    return document


def document_create_file(*, upload, title: str = "", category: str = "", user=None) -> Document:
    """An uploaded PDF / DOCX / TXT / MD / CSV (type sniffed from the bytes; <= 10 MB). Text
    files and DOCX are read now (a bad or too long one is refused at once); PDFs, slower to
    read, in the ingestion."""
    limit = int(settings.KNOWLEDGE_MAX_UPLOAD_BYTES)
    too_large = ValidationError(_("The file is too large (%(size)s); the limit is %(limit)s.")
                                % {"size": filesizeformat(getattr(upload, "size", 0) or 0),
                                   "limit": filesizeformat(limit)}, code="file_too_large")
    if upload is None:
        raise ValidationError(_("Choose a file."), code="required")
    if (getattr(upload, "size", 0) or 0) > limit:
        raise too_large
    upload.seek(0)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise too_large
    original = os.path.basename(getattr(upload, "name", "") or "") or "document"
    try:
        kind = sniff(data, name=original)
        content = ""
        if kind.mime == DOCX or kind.text is not None:
            content, _mime = file_text(data, name=original)
    except ExtractionError as exc:
        raise ValidationError(str(exc), code="file_type") from None
    if content:
        _check_length(content)
    stem = os.path.splitext(original)[0]
    title = _clean_title(title) or _clean_title(stem.replace("_", " ")) or _("Untitled document")
    try:
        safe_stem = get_valid_filename(stem)[:80]
    except SuspiciousFileOperation:  # nothing usable left of the name (e.g. "???.pdf")
        safe_stem = ""
    stored_name = (safe_stem or "document") + _EXTENSIONS.get(kind.mime, ".bin")
    with transaction.atomic():
        document = Document(title=title, category=_clean_category(category), source=DocumentSource.FILE,
                            file_name=original[:255], file_mime=kind.mime, content=content,
                            char_count=len(content), created_by=_author(user))
        document.file.save(stored_name, ContentFile(data), save=False)
        document.save()
        _enqueue(document, extract=not content)
    return document


def document_create_url(*, url: str, title: str = "", category: str = "", user=None) -> Document:
    """A web page imported in the background (the address is checked now and again at fetch time).
    Without a title the page's own <title> is used once fetched."""
    from .fetch import UrlRefused, check_url

    url = (url or "").strip()
    try:
        check_url(url)
    except UrlRefused as exc:
        raise ValidationError(str(exc), code="url_refused") from None
    with transaction.atomic():
        document = Document.objects.create(title=_clean_title(title) or url[:200], category=_clean_category(category),
                                           source=DocumentSource.URL, source_url=url, created_by=_author(user))
        _enqueue(document, extract=True)
    return document


def _restart(document: Document) -> None:
    """A new version to ingest: older ingestions in flight give up when they see it."""
    document.version += 1
    document.status = DocumentStatus.PENDING
    document.progress = 0
    document.error = ""
    document.updated_at = timezone.now()


def document_update(document, *, title: str, category: str = "", content: str | None = None, user=None) -> Document:
    """Rename / recategorise; new ``content`` (or a new title: both are in the search vectors)
    bumps the version and re-ingests (the chunks swap atomically when it is done)."""
    title = _clean_title(title)
    if not title:
        raise ValidationError(_("Enter a title."), code="required")
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document.pk)
        extract = None  # reuse the stored text when there is some
        changed = title != locked.title
        if content is not None:
            content = normalize_newlines(content)
            if content != locked.content:
                if not content.strip():
                    raise ValidationError(_("The document is empty."), code="empty")
                _check_length(content)
                locked.content, locked.char_count = content, len(content)
                extract = False  # the staff's edit wins over the file / page it came from
                changed = True
        locked.title, locked.category = title, _clean_category(category)
        locked.updated_at = timezone.now()
        if changed:
            _restart(locked)
            _enqueue(locked, extract=extract)
        locked.save()
    document.refresh_from_db()
    return document


def document_reingest(document) -> Document:
    """Process again from the source: the file is read again, the page fetched again."""
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document.pk)
        _restart(locked)
        locked.save(update_fields=["version", "status", "progress", "error", "updated_at"])
        _enqueue(locked, extract=locked.source != DocumentSource.TEXT)
    document.refresh_from_db()
    return document


def document_delete(document) -> None:
    """The document, its chunks (cascade) and, after commit, its file."""
    file_name = document.file.name if document.file else ""
    storage = document.file.storage if document.file else None
    with transaction.atomic():
        Document.objects.filter(pk=document.pk).delete()
        if file_name and storage is not None:
            def remove():
                try:
                    storage.delete(file_name)
                except OSError:
                    logger.warning("knowledge: could not delete file %s", file_name)

            transaction.on_commit(remove, robust=True)


def chunks_reindex_language() -> int:
    """Recompute every chunk's search vector with the tenant's current language (call it after
    Tenant.language changes: questions are parsed in the new language, chunks must match). One
    UPDATE, no re-embedding; returns the number of chunks."""
    config = search_config()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Chunk._meta.db_table} c SET search_config = %(cfg)s, "
            f"search_vector = to_tsvector(%(cfg)s::regconfig, public.fold_accents(lower(d.title || ' ' || c.text))) "
            f"FROM {Document._meta.db_table} d WHERE d.id = c.document_id AND c.search_config <> %(cfg)s",
            {"cfg": config})
        return cursor.rowcount


def document_sweep() -> int:
    """Send again the ingestions whose task was lost (pending / processing, untouched for
    STUCK_AFTER). Touching updated_at first keeps the next sweep from sending them twice."""
    cutoff = timezone.now() - STUCK_AFTER
    sent = 0
    for document in Document.objects.filter(status__in=[DocumentStatus.PENDING, DocumentStatus.PROCESSING],
                                            updated_at__lt=cutoff).only("id", "version")[:500]:
        touched = Document.objects.filter(pk=document.pk, version=document.version, updated_at__lt=cutoff).update(
            updated_at=timezone.now())
        if touched:
            _enqueue(document)
            sent += 1
    return sent


# --- ingestion -----------------------------------------------------------------------------------

class _Stale(Exception):
    """A newer version was saved (or the document deleted): this ingestion gives up quietly."""


class _Failed(Exception):
    """Ingestion cannot finish; the message is shown to the staff."""


def _step(document_id: int, version: int, **fields) -> None:
    """Commit a progress update (autocommit in the worker, so the page's progress bar moves)."""
    fields.setdefault("updated_at", timezone.now())
    if not Document.objects.filter(pk=document_id, version=version).update(**fields):
        raise _Stale


def _extract(document: Document, version: int) -> str:
    if document.source == DocumentSource.FILE:
        if not document.file:
            raise _Failed(_("The uploaded file is missing; upload it again."))
        try:
            with document.file.open("rb") as handle:
                data = handle.read(int(settings.KNOWLEDGE_MAX_UPLOAD_BYTES) + 1)
        except OSError:
            raise _Failed(_("The uploaded file is missing; upload it again.")) from None
        try:
            kind = sniff(data, name=document.file_name)
            if kind.mime == PDF:
                text = pdf_text(data)
            elif kind.mime == DOCX:
                text = docx_text(data)
            else:
                text, _mime = file_text(data, name=document.file_name)
        except ExtractionError as exc:
            raise _Failed(str(exc)) from None
        return text
    if document.source == DocumentSource.URL:
        from .fetch import FetchError, fetch_url

        try:
            page = fetch_url(document.source_url)
        except FetchError as exc:
            raise _Failed(str(exc)) from None
        if page.title and document.title == document.source_url[:200]:  # no title was given
            _step(document.pk, version, title=_clean_title(page.title))
            document.title = _clean_title(page.title)
        return page.text
    return document.content


def _embed_chunks(document: Document, version: int, pieces: list[str]) -> tuple[list[list[float]] | None, str]:
    """Vectors for the chunks, or (None, note) when there is no endpoint or it failed: the
    document is still searchable by text, and the note says so."""
    from apps.agents.selectors import embedding_client

    from .embeddings import EmbeddingError, embed_many

    try:
        client = embedding_client()
    except Exception:  # noqa: BLE001 - a broken provider row must not fail the document
        logger.exception("knowledge: embedding client unavailable")
        return None, _("Searchable by text only: the embedding settings could not be read.")
    if client is None:
        return None, ""

    def progress(done, total):
        _step(document.pk, version, progress=30 + int(60 * done / max(total, 1)))

    title = document.title
    try:
        return embed_many(client, [f"{title}\n\n{piece}" for piece in pieces], on_batch=progress), ""
    except EmbeddingError as exc:
        logger.warning("knowledge: embeddings failed for document %s: %s", document.pk, exc)
        return None, _("Searchable by text only: %(reason)s. Process the document again to add semantic "
                       "search.") % {"reason": str(exc)}


def _swap(document: Document, version: int, pieces: list[str], vectors, note: str) -> None:
    """Old chunks out, new chunks in, document ready: one transaction, and only if this is still
    the current version (a newer save wins). Search vectors are computed by PostgreSQL in the
    same INSERT, with the tenant's language and accents folded like the questions will be."""
    from .embeddings import vector_literal

    config = search_config()
    literals = [vector_literal(v) for v in vectors] if vectors else [None] * len(pieces)
    with transaction.atomic():
        locked = Document.objects.select_for_update().filter(pk=document.pk).only("id", "version", "title").first()
        if locked is None or locked.version != version:
            raise _Stale
        table = Chunk._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE document_id = %s", [document.pk])
            cursor.execute(
                f"INSERT INTO {table} (document_id, position, text, search_config, search_vector, embedding, "
                f"created_at) "
                f"SELECT %(doc)s, u.position, u.text, %(cfg)s, "
                f"to_tsvector(%(cfg)s::regconfig, public.fold_accents(lower(%(title)s || ' ' || u.text))), "
                f"u.embedding::vector, now() "
                f"FROM unnest(%(positions)s::int[], %(texts)s::text[], %(embeddings)s::text[]) "
                f"AS u(position, text, embedding)",
                {"doc": document.pk, "cfg": config, "title": locked.title, "positions": list(range(len(pieces))),
                 "texts": pieces, "embeddings": literals})
        now = timezone.now()
        Document.objects.filter(pk=document.pk).update(status=DocumentStatus.READY, progress=100,
                                                       chunk_count=len(pieces), error=note, ingested_at=now,
                                                       updated_at=now)


def document_ingest(document_id: int, version: int, *, extract: bool | None = None) -> None:
    """The Celery task's body: extract (file / URL), chunk, embed, swap the chunks in one transaction,
    update status and progress as it goes. ``extract``: read the file / fetch the page again
    (True), use the stored text (False), or only when there is none yet (None)."""
    document = Document.objects.filter(pk=document_id).first()
    if document is None or document.version != version:
        return
    try:
        _step(document_id, version, status=DocumentStatus.PROCESSING, progress=5, error="")
        needs_source = document.source != DocumentSource.TEXT and (extract or (extract is None and not document.content))
        if needs_source:
            text = _extract(document, version)
            limit = max_document_chars()
            if len(text) > limit:
                _step(document_id, version, char_count=len(text))  # shown next to the reason
                raise _Failed(str(_length_error(len(text), limit).messages[0]))
            _step(document_id, version, content=text, char_count=len(text), progress=20)
            document.content = text
        pieces = chunk_text(document.content, size=settings.KNOWLEDGE_CHUNK_CHARS,
                            overlap=settings.KNOWLEDGE_CHUNK_OVERLAP)
        if not pieces:
            raise _Failed(_("The document has no text."))
        _step(document_id, version, progress=30)
        vectors, note = _embed_chunks(document, version, pieces)
        _step(document_id, version, progress=95)
        _swap(document, version, pieces, vectors, note)
    except _Stale:
        return
    except _Failed as exc:
        _fail(document_id, version, str(exc))
    except Exception as exc:  # noqa: BLE001 - the task must end with a status, never a traceback
        logger.exception("knowledge: ingestion of document %s failed", document_id)
        _fail(document_id, version, _("Unexpected error while processing the document (%(error)s). Try again; "
                                      "if it persists, contact support.") % {"error": exc.__class__.__name__})


def _fail(document_id: int, version: int, reason: str) -> None:
    try:
        Document.objects.filter(pk=document_id, version=version).update(
            status=DocumentStatus.FAILED, progress=0, error=reason[:2000], updated_at=timezone.now())
    except Exception:  # noqa: BLE001
        logger.exception("knowledge: could not record the failure of document %s", document_id)
