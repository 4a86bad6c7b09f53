"""Forms of the notice pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy


class RejectForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), widget=forms.Textarea(attrs={"rows": 3}))


class ResubmitForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=100)
    text = forms.CharField(label=gettext_lazy("Text"), widget=forms.Textarea(attrs={"rows": 6}))
    urgent = forms.BooleanField(label=gettext_lazy("Urgent"), required=False)


class AnswerForm(forms.Form):
    answer = forms.CharField(
        label=gettext_lazy("Answer to the person"), widget=forms.Textarea(attrs={"rows": 3})
    )
    corrected_text = forms.CharField(
        label=gettext_lazy("Corrected notice text (only when the notice was wrong)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class TemplateForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=100)
    body = forms.CharField(label=gettext_lazy("Text"), widget=forms.Textarea(attrs={"rows": 8}))
    urgent = forms.BooleanField(label=gettext_lazy("Urgent by default"), required=False)


class RuleForm(forms.Form):
    rule = forms.ChoiceField(
        label=gettext_lazy("Rule"),
        choices=[("returnees_from_area", gettext_lazy("all returnees from a designated area"))],
    )
    area_code = forms.CharField(label=gettext_lazy("Designated area (division code)"), max_length=12)
    since = forms.DateField(label=gettext_lazy("Reported since"))


class FeedbackForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("What is wrong with this notice?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
