from django.contrib import admin

from .models import DeliveryAttempt, ReportVersion, UpstreamDelivery


@admin.register(ReportVersion)
class ReportVersionAdmin(admin.ModelAdmin):
    list_display = ("task", "number", "reason", "created_at")
    readonly_fields = ("task", "number", "reason", "review", "data", "digest", "created_at")


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    readonly_fields = ("number", "at", "status_code", "ok", "error", "duration_ms")


@admin.register(UpstreamDelivery)
class UpstreamDeliveryAdmin(admin.ModelAdmin):
    list_display = ("version", "endpoint", "status", "attempts", "next_attempt_at", "delivered_at")
    list_filter = ("status",)
    inlines = [AttemptInline]
