from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path

from core.web.admin import ReadOnlyAdminMixin

from .ledger.checkpoints import ledger_status
from .ledger.verification import verify_ledger
from .models import AuditEntry

# auditlog.admin registers the swapped-in entry model itself (registering ours again would raise
# AlreadyRegistered, and its admin allows deletes): ours replaces it.
if admin.site.is_registered(AuditEntry):
    admin.site.unregister(AuditEntry)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only for everyone, superusers included."""

    list_display = ("id", "timestamp", "event_type", "event_name", "success", "actor_email", "project", "entity_id", "cid")
    list_filter = ("event_type", "success", "actor_type", "entity_type", "timestamp")
    search_fields = ("event_name", "entity_id", "actor_email", "cid", "object_repr", "failure_reason")
    list_select_related = ("project",)
    date_hierarchy = "timestamp"
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def get_urls(self):
        status = path(
            "ledger-status/", self.admin_site.admin_view(self.ledger_status_view), name="audit_auditentry_ledger_status"
        )
        return [status, *super().get_urls()]

    def ledger_status_view(self, request):
        """Tree size, unsealed rows and the last checkpoint; ?verify=1 checks the leaves after the last
        stored checkpoint, ?verify=full every leaf."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        verify = request.GET.get("verify")
        report = verify_ledger(since_checkpoint=verify != "full") if verify in ("1", "full") else None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Audit ledger",
            "status": ledger_status(),
            "report": report,
        }
        return TemplateResponse(request, "admin/audit/auditentry/ledger_status.html", context)
