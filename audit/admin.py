from django.contrib import admin

from .models import AuditEntry

# auditlog.admin registers the swapped-in entry model itself; ours replaces it (PITFALLS §1.3).
if admin.site.is_registered(AuditEntry):
    admin.site.unregister(AuditEntry)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only for everyone, superusers included."""

    list_display = ("id", "timestamp", "event_type", "event_name", "success", "actor_email", "project", "entity_id", "cid")
    list_filter = ("event_type", "success", "actor_type", "entity_type", "timestamp")
    search_fields = ("event_name", "entity_id", "actor_email", "cid", "object_repr", "failure_reason")
    list_select_related = ("project",)
    date_hierarchy = "timestamp"
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
