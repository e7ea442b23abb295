from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ..forms import normalize_newlines
from ..models import Document

DOCUMENT_FIELDS = ["id", "title", "category", "source", "source_url", "file_name", "status", "progress", "error",
                   "char_count", "chunk_count", "version", "created_at", "updated_at", "ingested_at"]


class DocumentSerializer(serializers.ModelSerializer):
    """A document as listed (without its text)."""

    class Meta:
        model = Document
        fields = DOCUMENT_FIELDS
        read_only_fields = fields


class DocumentDetailSerializer(serializers.ModelSerializer):
    """A document with the text its chunks are cut from."""

    class Meta:
        model = Document
        fields = [*DOCUMENT_FIELDS, "content"]
        read_only_fields = fields


class DocumentCreateSerializer(serializers.Serializer):
    """Exactly one of ``content`` (a typed document), ``file`` (multipart upload) or ``url`` (a page
    imported in the background). The title is required for typed documents; files and pages default
    to the file's name or the page's title."""

    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    category = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
    content = serializers.CharField(required=False, trim_whitespace=False,
                                    help_text="The text (limit: the tenant's characters per document).")
    file = serializers.FileField(required=False, allow_empty_file=True,
                                 help_text="PDF, DOCX, TXT, MD or CSV, up to 10 MB (multipart/form-data).")
    url = serializers.CharField(max_length=1000, required=False, help_text="An http(s) address to import.")

    def validate(self, attrs):
        given = [name for name in ("content", "file", "url") if attrs.get(name) not in (None, "")]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"detail": _("Send exactly one of: content (a text document), file (an upload) or url (a page "
                             "to import).")})
        attrs["kind"] = given[0]
        attrs["title"] = attrs["title"].strip()
        attrs["category"] = attrs["category"].strip()
        if attrs["kind"] == "content":
            attrs["content"] = normalize_newlines(attrs["content"])
            if not attrs["content"].strip():
                raise serializers.ValidationError({"content": [_("Write the text the assistant should know.")]})
            if not attrs["title"]:
                raise serializers.ValidationError({"title": [_("Give the document a title.")]})
        if attrs["kind"] == "url":
            attrs["url"] = attrs["url"].strip()
        return attrs


class DocumentUpdateSerializer(serializers.Serializer):
    """Any of the fields; new ``content`` (typed documents only) is processed again."""

    title = serializers.CharField(max_length=200, required=False)
    category = serializers.CharField(max_length=80, required=False, allow_blank=True)
    content = serializers.CharField(required=False, trim_whitespace=False)

    def validate_title(self, value):
        if not value.strip():
            raise serializers.ValidationError(_("Give the document a title."))
        return value.strip()

    def validate_content(self, value):
        value = normalize_newlines(value)
        if not value.strip():
            raise serializers.ValidationError(_("Write the text the assistant should know."))
        return value


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=500, error_messages={
        "required": _("Give the question to search for in q, e.g. ?q=delivery hours."),
        "blank": _("Give the question to search for in q, e.g. ?q=delivery hours.")})
    limit = serializers.IntegerField(min_value=1, max_value=20, default=5)
    assistant = serializers.IntegerField(required=False, min_value=1,
                                         help_text="Only this assistant's bound documents (all when none bound).")


class ScoredChunkSerializer(serializers.Serializer):
    chunk_id = serializers.IntegerField()
    document_id = serializers.IntegerField()
    title = serializers.CharField()
    text = serializers.CharField()
    score = serializers.FloatField(help_text="Fused (reciprocal-rank) score; the results are ordered by it.")
    fts_rank = serializers.FloatField(allow_null=True, help_text="Full-text rank (null when not matched).")
    vector_score = serializers.FloatField(allow_null=True, help_text="Cosine similarity 0..1 (null without "
                                                                     "vectors).")


class SearchResultSerializer(serializers.Serializer):
    query = serializers.CharField()
    mode = serializers.CharField(help_text="fts: full-text only; hybrid: full-text "
                                                                        "and vector similarity fused.")
    confidence = serializers.FloatField(help_text="0..1: how well the best passages match; the assistant answers "
                                                  "at or above its threshold (default 0.5) and hands off below.")
    chunks = ScoredChunkSerializer(many=True)
