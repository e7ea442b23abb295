"""The Visão Geral filters (page and API share them): period, custom range, channel, granularity."""
from __future__ import annotations

from datetime import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.store.models import Channel

from .periods import DEFAULT_PERIOD, GRANULARITIES, MAX_CUSTOM_DAYS, PERIODS, Period, resolve


class OverviewFilterForm(forms.Form):
    period = forms.ChoiceField(label=_("Period"), choices=PERIODS, required=False)
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    channel = forms.ChoiceField(label=_("Channel"), choices=[("", _("All channels")), *Channel.choices],
                                required=False)
    granularity = forms.ChoiceField(label=_("Group by"), choices=[("", _("Automatic")), *GRANULARITIES],
                                    required=False)

    def __init__(self, data=None, *, tz, now: datetime | None = None, **kwargs):
        self.tz = tz
        self.now = now or timezone.now()
        if data is not None and not data.get("period"):
            data = data.copy()  # the default period shows as selected
            data["period"] = DEFAULT_PERIOD
        super().__init__(data, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "input")

    def clean(self):
        data = super().clean()
        data["period"] = data.get("period") or DEFAULT_PERIOD
        if data["period"] != "custom":
            return data
        start, end = data.get("start"), data.get("end")
        if "start" in self.errors or "end" in self.errors:
            return data
        if start is None or end is None:
            raise forms.ValidationError(_("Choose both dates of the custom range."), code="range_missing")
        if end < start:
            self.add_error("end", forms.ValidationError(_("The end date is before the start date."),
                                                        code="range_inverted"))
        elif start > self.now.astimezone(self.tz).date():
            self.add_error("start", forms.ValidationError(_("The start date is in the future."),
                                                          code="range_future"))
        elif (end - start).days + 1 > MAX_CUSTOM_DAYS:
            self.add_error("end", forms.ValidationError(
                _("The range can be at most %(days)d days.") % {"days": MAX_CUSTOM_DAYS}, code="range_too_long"))
        return data

    def period_obj(self) -> Period:
        """The chosen period (call after is_valid())."""
        data = self.cleaned_data
        return resolve(data["period"], tz=self.tz, now=self.now, first=data.get("start"), last=data.get("end"))

    def chosen_channel(self) -> str:
        return self.cleaned_data.get("channel") or ""

    def chosen_granularity(self, period: Period) -> str:
        return self.cleaned_data.get("granularity") or period.default_granularity()
