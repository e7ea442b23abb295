"""The tenant's knowledge: documents (typed, uploaded or imported from a URL) cut into chunks that
full-text search (always) and pgvector similarity (when an embedding endpoint is configured) find."""
from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from pgvector.django import HnswIndex, VectorField

# Every stored vector has this size: shorter embeddings are zero-padded (cosine similarity is
# unchanged by padding), longer ones are requested at this size (``dimensions``) or refused.
EMBEDDING_DIMENSIONS = 1536


class DocumentSource(models.TextChoices):
    TEXT = "text", _("Text")
    FILE = "file", _("File")
    URL = "url", _("Web page")


class DocumentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PROCESSING = "processing", _("Processing")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


def document_file_path(instance, filename):
    return f"knowledge/{timezone.now():%Y/%m}/{filename}"


class Document(models.Model):
    title = models.CharField(_("title"), max_length=200)
    category = models.CharField(_("category"), max_length=80, blank=True)
    source = models.CharField(_("source"), max_length=8, choices=DocumentSource.choices, default=DocumentSource.TEXT)
    source_url = models.URLField(_("address"), max_length=1000, blank=True)
    file = models.FileField(_("file"), upload_to=document_file_path, blank=True, max_length=300)
    file_name = models.CharField(max_length=255, blank=True)
    file_mime = models.CharField(max_length=100, blank=True)
    # The text the chunks are cut from: typed, or extracted from the file / page.
    content = models.TextField(_("content"), blank=True)
    char_count = models.PositiveIntegerField(default=0)
    status = models.CharField(_("status"), max_length=12, choices=DocumentStatus.choices,
                              default=DocumentStatus.PENDING, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)  # 0..100 while processing
    error = models.TextField(blank=True)
    chunk_count = models.PositiveIntegerField(default=0)
    # Bumped on every save of the content: an ingestion of an older version gives up.
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    ingested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["-updated_at", "-id"]

    def __str__(self):
        return self.title


class Chunk(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    position = models.PositiveIntegerField()
    text = models.TextField()
    # to_tsvector(<tenant language>, fold_accents(title + text)), written by the ingestion
    search_vector = SearchVectorField(null=True)
    search_config = models.CharField(max_length=16, default="portuguese")  # regconfig used
    embedding = VectorField(dimensions=EMBEDDING_DIMENSIONS, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["document_id", "position"]
        indexes = [
            GinIndex(fields=["search_vector"], name="knowledge_chunk_fts"),
            HnswIndex(name="knowledge_chunk_vec", fields=["embedding"], m=16, ef_construction=64,
                      opclasses=["vector_cosine_ops"]),
        ]

    def __str__(self):
        return f"{self.document_id}#{self.position}"
