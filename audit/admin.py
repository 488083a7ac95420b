from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path

from commandcentral.web.admin import ReadOnlyAdminMixin

from . import integrity
from .models import AuditEntry

# auditlog.admin registers the swapped-in entry model itself; ours replaces it (PITFALLS §1.3).
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
        chain_status = path(
            "chain-status/", self.admin_site.admin_view(self.chain_status_view), name="audit_auditentry_chain_status"
        )
        return [chain_status, *super().get_urls()]

    def chain_status_view(self, request):
        """Hash chain status: the tail since the last checkpoint by default, everything with ?full=1."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = integrity.chain_status(full=request.GET.get("full") == "1")
        scope_label = {
            "since_checkpoint": "rows after the last checkpoint",
            "tail": "the newest rows only",
            "full": "the whole chain",
        }[report.scope]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Audit hash chain",
            "report": report,
            "scope_label": scope_label,
        }
        return TemplateResponse(request, "admin/audit/auditentry/chain_status.html", context)
