"""Forms of the review page. They only parse input; the rules are in reviews/services.py."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import PersonMeasure, RiskLevel

TARGET_KINDS = [
    ("trajectory", "trajectory"),
    ("contact", "contact"),
    ("test", "test"),
    ("attempt", "attempt"),
]


class CommentForm(forms.Form):
    body = forms.CharField(label=_("Comment"), max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))
    target_kind = forms.ChoiceField(
        choices=[("", "")] + TARGET_KINDS, required=False, widget=forms.HiddenInput
    )
    target_id = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


class ReturnForm(forms.Form):
    reasons = forms.CharField(
        label=_("What the field team must correct"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )


class AssignForm(forms.Form):
    expert = forms.ChoiceField(label=_("Assign to"))

    def __init__(self, *args, experts=(), **kwargs):
        super().__init__(*args, **kwargs)
        expert = self.fields["expert"]
        assert isinstance(expert, forms.ChoiceField)
        expert.choices = [(str(e.pk), e.display_name) for e in experts]


class ApproveForm(forms.Form):
    """The approval with its disposal. Risk levels come as `risk_<entry id>` fields, one per place of
    the trajectory, added by the view."""

    measure = forms.ChoiceField(label=_("Measure for the person"), choices=PersonMeasure.choices)
    measure_days = forms.IntegerField(label=_("Days"), min_value=0, max_value=60, initial=14)
    test_schedule_days = forms.CharField(
        label=_("Tests on days"),
        max_length=100,
        required=False,
        initial="1, 4, 7",
        help_text=_("Days counted from the approval, day 1 being today; separated by commas."),
    )
    notify_person = forms.BooleanField(label=_("Send a notice to the person"), required=False, initial=True)
    note = forms.CharField(
        label=_("Note"), max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    reasons = forms.CharField(
        label=_("Remarks on the approval"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, entries=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.risk_fields = []
        for entry in entries:
            name = f"risk_{entry.pk}"
            self.fields[name] = forms.ChoiceField(
                label=entry.place_name,
                required=False,
                choices=[("", _("not a risk area")), *RiskLevel.choices],
            )
            self.risk_fields.append((entry, name))

    def bound_risk_fields(self):
        return [(entry, self[name]) for entry, name in self.risk_fields]

    def disposal(self) -> dict:
        data = self.cleaned_data
        return {
            "measure": data["measure"],
            "measure_days": 0 if data["measure"] == PersonMeasure.NONE else (data["measure_days"] or 0),
            "test_schedule_days": data.get("test_schedule_days") or "",
            "notify_person": data.get("notify_person", False),
            "note": data.get("note", ""),
            "risk_areas": [
                {"entry_id": entry.pk, "level": data[name]}
                for entry, name in self.risk_fields
                if data.get(name)
            ],
        }
