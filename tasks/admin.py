from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from guardian.admin import GuardedModelAdmin

from .models import (
    ApiToken,
    Division,
    DutyShift,
    IntakeBatch,
    TracingTask,
    TriageRule,
    Unit,
    UnitMembership,
    User,
)


@admin.register(User)
class AccountAdmin(UserAdmin):
    list_display = ["username", "full_name", "role", "division", "is_active"]
    list_filter = ["role", "is_active"]
    search_fields = ["username", "full_name"]
    raw_id_fields = ["division"]
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("Scope", {"fields": ("full_name", "role", "division", "phone")}),
    )
    add_fieldsets = (*UserAdmin.add_fieldsets, ("Scope", {"fields": ("full_name", "role", "division")}))


@admin.register(Division)
class DivisionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "level"]
    list_filter = ["level"]
    search_fields = ["=code", "name"]
    raw_id_fields = ["parent"]


class MembershipInline(admin.TabularInline):
    model = UnitMembership
    raw_id_fields = ["user"]
    extra = 0


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "division", "leader"]
    list_filter = ["kind"]
    search_fields = ["name", "=division__code"]
    raw_id_fields = ["division", "leader"]
    inlines = [MembershipInline]


@admin.register(DutyShift)
class DutyShiftAdmin(admin.ModelAdmin):
    list_display = ["unit", "user", "starts_at", "ends_at"]
    raw_id_fields = ["unit", "user"]


@admin.register(IntakeBatch)
class IntakeBatchAdmin(admin.ModelAdmin):
    list_display = ["id", "started_at", "finished_at", "status", "leads", "new_tasks", "merged", "unresolved"]
    readonly_fields = [f.name for f in IntakeBatch._meta.fields]


@admin.register(TracingTask)
class TracingTaskAdmin(GuardedModelAdmin):
    """Read-mostly: state changes go through the services, which keep the history and the clocks."""

    list_display = ["id", "kind", "status", "outcome", "priority", "division", "assignee", "created_at"]
    list_filter = ["kind", "status", "outcome", "priority"]
    raw_id_fields = [
        "person",
        "division",
        "batch",
        "source_task",
        "merged_into",
        "team",
        "subunit",
        "assignee",
    ]
    readonly_fields = [
        "status",
        "kind",
        "outcome",
        "closed_at",
        "dispatch_due",
        "radius_due",
        "trace_due",
        "verify_due",
        "register_due",
        "next_alert_at",
    ]


@admin.register(TriageRule)
class TriageRuleAdmin(admin.ModelAdmin):
    """The intake's triage table (docs/worktypes.md): the first matching rule by position decides a
    lead's kind; the next intake batch uses the table as it is then."""

    list_display = ["position", "source", "priority", "kind", "note"]
    list_editable = ["source", "priority", "kind", "note"]
    ordering = ["position", "id"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made by logging in to the API or by `create_integration_token`; here they are seen
    and revoked, never created (the key is not stored)."""

    list_display = [
        "prefix",
        "user",
        "kind",
        "name",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    list_filter = ["kind", "revoked_at"]
    search_fields = ["user__username", "name", "prefix"]
    readonly_fields = [f.name for f in ApiToken._meta.fields if f.name != "name"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset) -> None:
        from django.utils import timezone

        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now(), revoked_reason="admin")
