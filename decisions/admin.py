from django.contrib import admin, messages

from core.web.admin import AuditedTransitionsMixin, ServiceAdminMixin, SoftDeletedFilter
from core.web.forms import DecideForm, RationaleForm

from .models import Decision
from .services import EDITABLE_FIELDS, decision_create, decision_restore, decision_update


@admin.register(Decision)
class DecisionAdmin(ServiceAdminMixin, AuditedTransitionsMixin, admin.ModelAdmin):
    """Edits go through decision_create / decision_update: a decided decision refuses them, options
    and tags keep their one shape, links stay within the project. A decision never moves project."""

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

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "project") if obj is not None else fields

    def save_model(self, request, obj, form, change):
        changes = self.changed_values(form, (*EDITABLE_FIELDS, "related_decisions"))
        related = changes.pop("related_decisions", None)
        if not change:
            created = decision_create(actor=request.user, project=form.cleaned_data["project"],
                                      related_decisions=related or (), **changes)
            self.adopt(obj, created)
        elif changes or related is not None:
            decision_update(decision=Decision._base_manager.select_related("project").get(pk=obj.pk),
                            actor=request.user, related_decisions=related, **changes)

    def save_related(self, request, form, formsets, change):
        # Not form.save_m2m(): related_decisions went through the service with the other fields.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    @admin.action(description="Restore selected deleted decisions")
    def restore_selected(self, request, queryset):
        restored = 0
        for decision in queryset.filter(deleted_at__isnull=False):
            decision_restore(decision=decision, actor=request.user)
            restored += 1
        self.message_user(request, f"Restored {restored} decision(s).", messages.SUCCESS)
