"""Filters of the task lists, shared by the API (`GET /api/v1/tasks/`) and the pages (/tasks/, the batch
page): division (code prefix), status, priority, batch, source, unresolved."""

from __future__ import annotations

import django_filters
from django import forms
from django.core.validators import RegexValidator
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from .clocks import filter_overdue
from .models import ACTIVE_STATUSES, Lead, Priority, Source, TaskKind, TaskOutcome, TaskStatus, TracingTask


class TaskFilter(django_filters.FilterSet):
    division = django_filters.CharFilter(
        label=_("division code"),
        method="filter_division",
        help_text=_("code prefix: 460105 is everything in that county"),
        validators=[RegexValidator(r"^\d{1,12}$", _("a division code has only digits"))],
    )
    status = django_filters.MultipleChoiceFilter(label=_("status"), choices=TaskStatus.choices)
    kind = django_filters.ChoiceFilter(label=_("work type"), choices=TaskKind.choices, empty_label=_("all"))
    outcome = django_filters.ChoiceFilter(
        label=_("outcome"), choices=TaskOutcome.choices, empty_label=_("all")
    )
    # "all" first: without an empty choice the page's select would submit P1 and filter on it silently.
    priority = django_filters.TypedChoiceFilter(
        label=_("priority"), choices=[("", _("all")), *Priority.choices], coerce=int, empty_value=None
    )
    batch = django_filters.NumberFilter(label=_("intake batch"), field_name="batch_id")
    source = django_filters.ChoiceFilter(
        label=_("source"), choices=Source.choices, method="filter_source", empty_label=_("all")
    )
    active = django_filters.BooleanFilter(label=_("open"), method="filter_active", widget=forms.CheckboxInput)
    overdue = django_filters.CharFilter(
        label=_("overdue"),
        method="filter_overdue",
        help_text=_("dispatch, radius, trace, rework, verify or register (comma-separated: any of them)"),
        validators=[
            RegexValidator(
                r"^(dispatch|radius|trace|rework|verify|register)(,(dispatch|radius|trace|rework|verify|register))*$",
                _("overdue must be dispatch, radius, trace, rework, verify or register"),
            )
        ],
    )
    unassigned = django_filters.BooleanFilter(
        label=_("unassigned"), method="filter_unassigned", widget=forms.CheckboxInput
    )

    class Meta:
        model = TracingTask
        fields = [
            "division",
            "status",
            "kind",
            "outcome",
            "priority",
            "batch",
            "source",
            "active",
            "overdue",
            "unassigned",
        ]

    def filter_division(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(division__code__startswith=value)

    def filter_source(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(Exists(Lead.objects.filter(link__task=OuterRef("pk"), source=value)))

    def filter_overdue(self, queryset, name, value):
        if not value:
            return queryset
        return filter_overdue(queryset, value)

    def filter_unassigned(self, queryset, name, value):
        if value:
            return queryset.filter(assignee__isnull=True, status__in=ACTIVE_STATUSES)
        return queryset

    def filter_active(self, queryset, name, value):
        if value:
            return queryset.filter(status__in=ACTIVE_STATUSES)
        return queryset


def unresolved_tasks(queryset):
    """Open tasks without a village: the duty officer's "unresolved" queue."""
    return queryset.filter(status__in=ACTIVE_STATUSES).exclude(division__level="village")
