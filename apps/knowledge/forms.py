"""Forms of the knowledge pages: the three ways to add a document, editing, the list's filters and
the search box. Length, file type and address checks live in the services (one rule for the page
and the API); a form only parses, and ``apply_service_error`` puts what the service refused on it."""
from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

# Browsers submit a textarea's line breaks as CRLF but count (and show) them as one character: the
# forms store them as LF so the server counts what the live counter counted.
from .chunking import normalize_newlines
from .models import DocumentStatus

# What the file input offers; the service sniffs the bytes and has the last word.
UPLOAD_ACCEPT = ".pdf,.docx,.txt,.md,.csv"


class StyledMixin:
    """Text inputs and selects get the shared ``input`` look with 44 px touch targets."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, (forms.CheckboxInput, forms.RadioSelect, forms.HiddenInput)):
                continue
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} input w-full min-h-11".strip()


def apply_service_error(form: forms.Form, exc: ValidationError, main_field: str) -> None:
    """A service's refusal onto the form: keyed errors under their field when the form has it,
    everything else under ``main_field`` (the content, file or address the service judged)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else main_field, errors)
    else:
        form.add_error(main_field, exc.messages)


def _title(required: bool) -> forms.CharField:
    return forms.CharField(label=_("Title"), max_length=200, required=required,
                           error_messages={"required": _("Give the document a title.")},
                           widget=forms.TextInput(attrs={"placeholder": _("e.g. Delivery areas and fees")}))


def _category() -> forms.CharField:
    return forms.CharField(label=_("Category"), max_length=80, required=False,
                           help_text=_("Optional, to group and filter documents (e.g. Delivery, Payment)."),
                           widget=forms.TextInput(attrs={"list": "knowledge-categories", "autocomplete": "off"}))


class TextDocumentForm(StyledMixin, forms.Form):
    title = _title(required=True)
    category = _category()
    # No max_length here: the limit is the tenant's (plan), checked by the service, and the text
    # must come back intact in the form when it is refused.
    content = forms.CharField(label=_("Content"), strip=False,
                              error_messages={"required": _("Write the text the assistant should know.")},
                              widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "true"}))

    def clean_title(self):
        title = self.cleaned_data["title"].strip()
        if not title:
            raise forms.ValidationError(_("Give the document a title."))
        return title

    def clean_content(self):
        content = normalize_newlines(self.cleaned_data["content"])
        if not content.strip():
            raise forms.ValidationError(_("Write the text the assistant should know."))
        return content


class FileDocumentForm(StyledMixin, forms.Form):
    file = forms.FileField(label=_("File"), allow_empty_file=True,
                           help_text=_("PDF, Word (DOCX), TXT, Markdown or CSV, up to 10 MB."),
                           error_messages={"required": _("Choose a file to upload.")},
                           widget=forms.ClearableFileInput(attrs={"accept": UPLOAD_ACCEPT}))
    title = _title(required=False)
    category = _category()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["title"].help_text = _("Leave blank to use the file's name.")


class UrlDocumentForm(StyledMixin, forms.Form):
    url = forms.CharField(label=_("Page address"), max_length=1000,
                          error_messages={"required": _("Paste the address of the page to import.")},
                          widget=forms.URLInput(attrs={"placeholder": "https://", "inputmode": "url"}))
    title = _title(required=False)
    category = _category()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["title"].help_text = _("Leave blank to use the page's title.")

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        if "://" not in url:
            url = "https://" + url
        return url


class DocumentEditForm(StyledMixin, forms.Form):
    """Title and category; the content too for typed documents (a change re-ingests)."""

    title = _title(required=True)
    category = _category()
    content = forms.CharField(label=_("Content"), strip=False, required=True,
                              error_messages={"required": _("Write the text the assistant should know.")},
                              widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "true"}))

    def __init__(self, *args, with_content: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not with_content:
            del self.fields["content"]

    clean_title = TextDocumentForm.clean_title
    clean_content = TextDocumentForm.clean_content


class DocumentFilterForm(StyledMixin, forms.Form):
    """The list's filters (page and API): category, status, a search in the title."""

    q = forms.CharField(label=_("Search by title"), max_length=100, required=False,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Search by title")}))
    category = forms.CharField(label=_("Category"), max_length=80, required=False)
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("Any status")), *DocumentStatus.choices])

    def __init__(self, *args, categories: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if categories is not None:
            self.fields["category"].widget = forms.Select(
                choices=[("", _("All categories")), *[(c, c) for c in categories]],
                attrs={"class": "input w-full min-h-11"})

    @property
    def active(self) -> bool:
        return self.is_valid() and any(self.cleaned_data.values())

    def filter(self, documents: QuerySet) -> QuerySet:
        """``documents`` narrowed by the valid filters (invalid ones are ignored, never an error)."""
        if not self.is_valid():
            return documents
        data = self.cleaned_data
        if data["q"].strip():
            documents = documents.filter(title__icontains=data["q"].strip())
        if data["category"]:
            documents = documents.filter(category=data["category"])
        if data["status"]:
            documents = documents.filter(status=data["status"])
        return documents


class SearchForm(StyledMixin, forms.Form):
    q = forms.CharField(label=_("Question"), max_length=500, required=False,
                        widget=forms.TextInput(attrs={"type": "search", "autofocus": True,
                                                      "placeholder": _("Ask what a customer would ask")}))
    assistant = forms.TypedChoiceField(label=_("Assistant"), coerce=int, required=False, empty_value=None,
                                       help_text=_("Search only the documents bound to this assistant."))

    def __init__(self, *args, assistants=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assistant"].choices = [("", _("All documents")), *[(a.pk, a.name) for a in assistants]]


def categories_of(documents: QuerySet) -> list[str]:
    """The categories in use, for the filter and the inputs' suggestions."""
    return list(documents.exclude(Q(category="")).order_by("category").values_list("category", flat=True)
                .distinct())
