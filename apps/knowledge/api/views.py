"""Knowledge base API: documents (list with the page's filters, create by text, upload or URL,
read, edit, delete, process again) and the search the assistant uses. Staff with knowledge.manage
only; everything lives in the tenant's schema, so another company's ids simply do not exist here.
Whatever the services refuse (too long, wrong file type, private address) is a 400 with a message."""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.roles import user_can

from .. import selectors, services
from ..forms import DocumentFilterForm
from ..models import Document, DocumentSource, DocumentStatus
from .serializers import (DocumentCreateSerializer, DocumentDetailSerializer, DocumentSerializer,
                          DocumentUpdateSerializer, SearchQuerySerializer, SearchResultSerializer)


class KnowledgeAccess(BasePermission):
    message = gettext_lazy("Only staff who manage the knowledge base may use it.")

    def has_permission(self, request, view):
        return user_can(request.user, "knowledge.manage")


def _refused(exc: DjangoValidationError, main_field: str):
    """A service's refusal as field errors: keyed ones under their key, the rest under the field the
    service judged (the content, the file or the address)."""
    if hasattr(exc, "error_dict"):
        raise ValidationError(exc.message_dict) from None
    raise ValidationError({main_field: exc.messages}) from None


class _DocumentMixin:
    permission_classes = [IsAuthenticated, KnowledgeAccess]

    def document(self, pk) -> Document:
        return get_object_or_404(Document, pk=pk)


@extend_schema(parameters=[
    OpenApiParameter("q", str, description="Search in the title"),
    OpenApiParameter("category", str, description="Only this category"),
    OpenApiParameter("status", str, enum=list(DocumentStatus.values), description="Only this status"),
])
class DocumentListApi(_DocumentMixin, generics.ListAPIView):
    """Documents, most recently updated first; ``POST`` adds one (JSON ``content``, multipart
    ``file`` or ``url``), processed in the background: follow ``status`` and ``progress``."""

    serializer_class = DocumentSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        filters = DocumentFilterForm(self.request.query_params)
        if not filters.is_valid():
            raise ValidationError({field: [error["message"] for error in errors]
                                   for field, errors in filters.errors.get_json_data().items()})
        return filters.filter(Document.objects.all())

    @extend_schema(request={"application/json": DocumentCreateSerializer,
                            "multipart/form-data": DocumentCreateSerializer},
                   responses={201: DocumentDetailSerializer})
    def post(self, request):
        serializer = DocumentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        kind, common = data["kind"], {"category": data["category"], "user": request.user}
        try:
            if kind == "content":
                document = services.document_create_text(title=data["title"], content=data["content"], **common)
            elif kind == "file":
                document = services.document_create_file(upload=data["file"], title=data["title"], **common)
            else:
                document = services.document_create_url(url=data["url"], title=data["title"], **common)
        except DjangoValidationError as exc:
            _refused(exc, kind)
        return Response(DocumentDetailSerializer(document).data, status=status.HTTP_201_CREATED)


class DocumentDetailApi(_DocumentMixin, APIView):
    @extend_schema(responses=DocumentDetailSerializer)
    def get(self, request, pk: int):
        return Response(DocumentDetailSerializer(self.document(pk)).data)

    @extend_schema(request=DocumentUpdateSerializer, responses=DocumentDetailSerializer)
    def patch(self, request, pk: int):
        """Rename, recategorise, or (typed documents) replace the text, which is processed again."""
        document = self.document(pk)
        serializer = DocumentUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        content = data.get("content")
        if content is not None and document.source != DocumentSource.TEXT:
            raise ValidationError({"content": [_("Only typed documents have editable text; this one comes from a "
                                                 "file or a web page.")]})
        if content == document.content:
            content = None
        try:
            services.document_update(document, title=data.get("title", document.title),
                                     category=data.get("category", document.category).strip(), content=content,
                                     user=request.user)
        except DjangoValidationError as exc:
            _refused(exc, "content" if content is not None else "detail")
        return Response(DocumentDetailSerializer(self.document(pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        services.document_delete(self.document(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DocumentReingestApi(_DocumentMixin, APIView):
    """Process the document again (e.g. a web page that changed, or after a failure)."""

    @extend_schema(request=None, responses={202: DocumentSerializer})
    def post(self, request, pk: int):
        document = self.document(pk)
        try:
            services.document_reingest(document)
        except DjangoValidationError as exc:
            _refused(exc, "detail")
        return Response(DocumentSerializer(self.document(pk)).data, status=status.HTTP_202_ACCEPTED)


class KnowledgeSearchApi(APIView):
    """What the assistant would retrieve for ``q``: the passages with their fused score, full-text
    rank and vector score, the mode, and the confidence (0..1; the assistant answers at or above its
    threshold, 0.5 by default, and hands off below)."""

    permission_classes = [IsAuthenticated, KnowledgeAccess]

    @extend_schema(parameters=[SearchQuerySerializer], responses=SearchResultSerializer)
    def get(self, request):
        from apps.agents.models import Assistant

        serializer = SearchQuerySerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        document_ids = None
        if data.get("assistant"):
            assistant = Assistant.objects.filter(pk=data["assistant"]).first()
            if assistant is None:
                raise ValidationError({"assistant": [_("No assistant with this id.")]})
            document_ids = list(assistant.documents.values_list("pk", flat=True)) or None
        result = selectors.search(data["q"].strip(), document_ids=document_ids, limit=data["limit"])
        return Response({"query": result.query, "mode": result.mode, "confidence": round(result.confidence, 4),
                         "chunks": [chunk.as_dict() for chunk in result.chunks]})
