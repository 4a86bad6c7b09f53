"""Read-only admin views of the review records: decisions are made on the review page (services), and a
decided review cannot change at all (database trigger)."""

from django.contrib import admin

from .models import DisposalProposal, Finding, Review, ReviewComment


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Review)
class ReviewAdmin(ReadOnly):
    list_display = ["id", "task", "round", "state", "expert", "decision", "submitted_at", "decided_at"]
    list_filter = ["state", "decision"]


@admin.register(ReviewComment)
class ReviewCommentAdmin(ReadOnly):
    list_display = ["id", "task", "review", "author", "created_at"]


@admin.register(Finding)
class FindingAdmin(ReadOnly):
    list_display = ["id", "task", "review", "rule", "severity"]
    list_filter = ["rule", "severity"]


@admin.register(DisposalProposal)
class DisposalProposalAdmin(ReadOnly):
    list_display = ["id", "task", "measure", "measure_days", "notify_person", "approved_at"]
