"""Knowledge base pages: the document list (filters, live ingestion progress), adding a document
(write, upload or import a page), editing, re-processing, deleting, and the search page that shows
what the assistant would retrieve. Every check on the content lives in the services; a refusal
comes back as a form error with what the user typed kept."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.permissions import capability_required

from . import selectors, services
from .forms import (UPLOAD_ACCEPT, DocumentEditForm, DocumentFilterForm, FileDocumentForm, SearchForm,
                    TextDocumentForm, UrlDocumentForm, apply_service_error, categories_of)
from .models import Document, DocumentSource, DocumentStatus

MANAGE = "knowledge.manage"
TABS = ("text", "file", "url")
# htmx stops polling an element whose request answers 286 (the document is gone).
STOP_POLLING = 286


def _document(pk) -> Document:
    return get_object_or_404(Document, pk=pk)


@capability_required(MANAGE)
@require_GET
def index(request):
    everything = Document.objects.all()
    categories = categories_of(everything)
    filters = DocumentFilterForm(request.GET or None, categories=categories)
    documents = filters.filter(everything)
    context = {"documents": documents, "filters": filters, "categories": categories,
               "has_any": everything.exists(), "filtered": filters.active}
    if request.htmx and request.htmx.target == "document-list":
        return render(request, "knowledge/partials/list.html", context)
    return render(request, "knowledge/index.html", context)


def _new_forms(bound=None) -> dict:
    forms = {"text": TextDocumentForm(prefix="text"), "file": FileDocumentForm(prefix="file"),
             "url": UrlDocumentForm(prefix="url")}
    if bound is not None:
        forms[bound[0]] = bound[1]
    return forms


def _render_new(request, *, tab: str, bound=None, status=200):
    context = {"forms": _new_forms(bound), "tab": tab, "max_chars": selectors.max_document_chars(),
               "accept": UPLOAD_ACCEPT, "categories": categories_of(Document.objects.all())}
    return render(request, "knowledge/new.html", context, status=status)


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def document_new(request):
    if request.method == "GET":
        tab = request.GET.get("tab", "text")
        return _render_new(request, tab=tab if tab in TABS else "text")
    kind = request.POST.get("kind", "")
    if kind == "file":
        form, main = FileDocumentForm(request.POST, request.FILES, prefix="file"), "file"
    elif kind == "url":
        form, main = UrlDocumentForm(request.POST, prefix="url"), "url"
    else:
        kind, form, main = "text", TextDocumentForm(request.POST, prefix="text"), "content"
    if form.is_valid():
        data = form.cleaned_data
        try:
            if kind == "text":
                document = services.document_create_text(title=data["title"], content=data["content"],
                                                         category=data["category"].strip(), user=request.user)
            elif kind == "file":
                document = services.document_create_file(upload=data["file"], title=data["title"].strip(),
                                                         category=data["category"].strip(), user=request.user)
            else:
                document = services.document_create_url(url=data["url"], title=data["title"].strip(),
                                                        category=data["category"].strip(), user=request.user)
        except ValidationError as exc:
            apply_service_error(form, exc, main)
        else:
            messages.success(request, _("“%(title)s” was added. It is being processed; it is ready for the "
                                        "assistant when its status says Ready.") % {"title": document.title})
            return redirect("knowledge:index")
    return _render_new(request, tab=kind, bound=(kind, form), status=400)


def _render_edit(request, document, form, status=200):
    context = {"document": document, "form": form, "max_chars": selectors.max_document_chars(),
               "categories": categories_of(Document.objects.all())}
    return render(request, "knowledge/edit.html", context, status=status)


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def document_edit(request, pk):
    document = _document(pk)
    with_content = document.source == DocumentSource.TEXT
    if request.method == "GET":
        initial = {"title": document.title, "category": document.category, "content": document.content}
        return _render_edit(request, document, DocumentEditForm(initial=initial, with_content=with_content))
    form = DocumentEditForm(request.POST, with_content=with_content)
    if form.is_valid():
        data = form.cleaned_data
        content = data.get("content") if with_content else None
        if content == document.content:
            content = None  # nothing new to ingest
        try:
            services.document_update(document, title=data["title"], category=data["category"].strip(),
                                     content=content, user=request.user)
        except ValidationError as exc:
            apply_service_error(form, exc, "content" if with_content else "title")
        else:
            if content is not None:
                messages.success(request, _("“%(title)s” was saved and is being processed again.")
                                 % {"title": data["title"]})
            else:
                messages.success(request, _("“%(title)s” was saved.") % {"title": data["title"]})
            return redirect("knowledge:index")
    document.refresh_from_db()
    return _render_edit(request, document, form, status=400)


@capability_required(MANAGE)
@require_POST
def document_reingest(request, pk):
    document = _document(pk)
    try:
        services.document_reingest(document)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("“%(title)s” is being processed again.") % {"title": document.title})
    return redirect("knowledge:index")


@capability_required(MANAGE)
@require_POST
def document_delete(request, pk):
    document = _document(pk)
    title = document.title
    services.document_delete(document)
    messages.success(request, _("“%(title)s” was deleted.") % {"title": title})
    return redirect("knowledge:index")


@capability_required(MANAGE)
@require_GET
def document_status(request, pk):
    """The row's status block; it polls itself while the ingestion runs. When it ends, the fresh
    character and chunk counts ride along (out-of-band swaps)."""
    document = Document.objects.filter(pk=pk).first()
    if document is None:
        if request.htmx:
            return HttpResponse(status=STOP_POLLING)
        return HttpResponse(status=404)
    return render(request, "knowledge/partials/status.html", {"doc": document, "oob": True})


def _assistants():
    from apps.agents.models import Assistant

    return list(Assistant.objects.order_by("name"))


def default_threshold() -> float:
    from apps.agents.models import Assistant

    return Assistant._meta.get_field("confidence_threshold").default


@capability_required(MANAGE)
@require_GET
def search(request):
    assistants = _assistants()
    form = SearchForm(request.GET or None, assistants=assistants)
    result, assistant = None, None
    if form.is_valid():
        assistant = next((a for a in assistants if a.pk == form.cleaned_data["assistant"]), None)
        query = form.cleaned_data["q"].strip()
        if query:
            document_ids = None
            if assistant is not None:
                document_ids = list(assistant.documents.values_list("pk", flat=True)) or None
            result = selectors.search(query, document_ids=document_ids, limit=8)
    threshold = assistant.confidence_threshold if assistant is not None else default_threshold()
    context = {"form": form, "result": result, "assistant": assistant, "threshold": threshold,
               "default_threshold": default_threshold(), "has_documents": Document.objects.exists(),
               "has_ready": Document.objects.filter(status=DocumentStatus.READY).exists()}
    return render(request, "knowledge/search.html", context)
