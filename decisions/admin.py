from django.contrib import admin, messages

from commandcentral.web.admin import AuditedTransitionsMixin, SoftDeletedFilter
from commandcentral.web.forms import DecideForm, RationaleForm

from .models import Decision
from .services import decision_restore


@admin.register(Decision)
class DecisionAdmin(AuditedTransitionsMixin, admin.ModelAdmin):
    list_display = ("title", "project", "state", "selected_option", "decided_by", "review_by", "created_at", "deleted_at")
    list_filter = ("state", SoftDeletedFilter, "review_by", "project")
    search_fields = ("title", "question", "context", "rationale", "project__name")
    list_select_related = ("project", "decided_by")
    readonly_fields = (
        "state", "selected_option", "rationale", "decided_by", "decided_at", "state_changed_at",
        "state_changed_by", "created_by", "deleted_at", "created_at", "updated_at",
    )
    autocomplete_fields = ("project", "supersedes", "related_decisions")
    actions = ["restore_selected"]
    fsm_forms = {"activate": RationaleForm, "decide": DecideForm, "archive": RationaleForm}

    def get_queryset(self, request):
        return Decision._base_manager.select_related("project", "decided_by")

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Restore selected deleted decisions")
    def restore_selected(self, request, queryset):
        restored = 0
        for decision in queryset.filter(deleted_at__isnull=False):
            decision_restore(decision=decision, actor=request.user)
            restored += 1
        self.message_user(request, f"Restored {restored} decision(s).", messages.SUCCESS)
