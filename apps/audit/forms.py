from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from .selectors import SOURCE_ACTIONS, SOURCE_CHANGES, AuditFilters


class AuditFilterForm(forms.Form):
    source = forms.ChoiceField(
        label=_("Source"), required=False,
        choices=[("", _("Everything")), (SOURCE_CHANGES, _("Changes")), (SOURCE_ACTIONS, _("Actions"))],
    )
    user = forms.ModelChoiceField(label=_("User"), required=False, queryset=get_user_model().objects.all(),
                                  empty_label=_("Anyone"))
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "input")

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date must be on or after the start date."))
        return data

    def to_filters(self) -> AuditFilters:
        """The valid part of the input (an invalid field is ignored and shown with its error)."""
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        user = data.get("user")
        return AuditFilters(
            source=data.get("source") or "",
            actor_id=user.pk if user else None,
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )
