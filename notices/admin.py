"""Django admin of notices: administrators edit the templates (validated: no ID number,
phone or address variables) and the display-board messages; notices and their trail are read-only
here (they change only through notices/services/)."""

from django.contrib import admin

from .models import (
    BoardMessage,
    Notice,
    NoticeDelivery,
    NoticeFeedback,
    NoticeFollowUp,
    NoticeTemplate,
)


@admin.register(NoticeTemplate)
class NoticeTemplateAdmin(admin.ModelAdmin):
    list_display = ("category", "title", "urgent", "updated_at", "updated_by")
    readonly_fields = ("updated_at", "updated_by")

    def save_model(self, request, obj, form, change):
        from django.utils import timezone

        obj.updated_at, obj.updated_by = timezone.now(), request.user
        super().save_model(request, obj, form, change)


@admin.register(BoardMessage)
class BoardMessageAdmin(admin.ModelAdmin):
    list_display = ("text", "division", "published_at", "expires_at")
    raw_id_fields = ("division",)
    readonly_fields = ("created_by", "rule_key")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "category",
        "state",
        "urgent",
        "division",
        "approved_at",
        "pushed_at",
        "acknowledged_at",
    )
    list_filter = ("state", "category", "urgent")
    exclude = ("token_salt", "token_hash")


admin.site.register(NoticeDelivery, ReadOnlyAdmin)
admin.site.register(NoticeFeedback, ReadOnlyAdmin)
admin.site.register(NoticeFollowUp, ReadOnlyAdmin)
