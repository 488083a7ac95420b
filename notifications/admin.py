from django.contrib import admin

from core.web.admin import ReadOnlyAdminMixin

from .models import BuilderState, MailPreference, MailState, Notification, Watch


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: notifications are made from the ledger, and read by their recipients."""

    list_display = ("id", "recipient", "kind", "subject_type", "subject_title", "actor", "leaf_index", "created_at",
                    "read_at", "email_mode", "emailed_at")
    list_filter = ("kind", "email_mode", "subject_type")
    search_fields = ("recipient__email", "subject_title", "subject_id")
    list_select_related = ("recipient", "actor")
    date_hierarchy = "created_at"


@admin.register(Watch)
class WatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: people watch and unwatch on the project page or through the API (audited there)."""

    list_display = ("user", "project", "created_at")
    search_fields = ("user__email", "project__name", "project__slug")
    list_select_related = ("user", "project")


@admin.register(MailState)
class MailStateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Each person's mail: the preference itself is User.notifications (the account page, the users' admin)."""

    list_display = ("user", "preference", "consecutive_failures", "next_attempt_at", "last_error", "digest_sent_at")
    search_fields = ("user__email",)
    list_select_related = ("user",)

    @admin.display(description="Mail preference")
    def preference(self, obj):
        return obj.user.notifications


@admin.register(MailPreference)
class MailPreferenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who gets which mail (none, instant, daily): read-only, each person chooses on their account page."""

    list_display = ("email", "name", "notifications", "is_active")
    list_filter = ("notifications",)
    search_fields = ("email", "name", "handle")
    fields = ("email", "name", "notifications")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(is_service=False)


@admin.register(BuilderState)
class BuilderStateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("cursor", "scheduled", "lease_until", "consecutive_failures", "last_error", "last_run_at")
