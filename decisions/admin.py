from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

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
        "state_changed_by", "created_by", "deleted_at", "created_at", "updated_at", "reviews_given",
    )
    autocomplete_fields = ("project", "supersedes", "related_decisions")
    filter_horizontal = ("reviewers",)
    actions = ["restore_selected"]
    fsm_forms = {"activate": RationaleForm, "decide": DecideForm, "archive": RationaleForm}

    def get_queryset(self, request):
        return Decision._base_manager.select_related("project", "decided_by")

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Reviews")
    def reviews_given(self, obj):
        """Every verdict, newest first; read-only (reviewers give them on the page or the API). Not an
        inline: the change form then posts no formset of rows nobody may change."""
        if obj is None or obj.pk is None:
            return "—"
        reviews = obj.reviews.select_related("reviewer").order_by("-created_at", "-pk")
        if not reviews:
            return "No reviews yet."
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (review.created_at.strftime("%Y-%m-%d %H:%M"), review.reviewer.email, review.verdict, review.option or "—",
             review.comment[:500]) for review in reviews))
        return format_html('<table class="reviews"><thead><tr><th>When</th><th>Reviewer</th><th>Verdict</th>'
                           "<th>Option</th><th>Comment</th></tr></thead><tbody>{}</tbody></table>", rows)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "required_approvals" in form.base_fields:
            # Left out of a post: unchanged (save_model passes nothing on), as with the API's PATCH.
            form.base_fields["required_approvals"].required = False
        return form

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "project") if obj is not None else fields

    def save_model(self, request, obj, form, change):
        changes = self.changed_values(form, (*EDITABLE_FIELDS, "related_decisions", "reviewers"))
        related = changes.pop("related_decisions", None)
        reviewers = changes.pop("reviewers", None)
        if changes.get("required_approvals", 0) is None:
            del changes["required_approvals"]
        if not change:
            created = decision_create(actor=request.user, project=form.cleaned_data["project"],
                                      related_decisions=related or (), reviewers=reviewers or (), **changes)
            self.adopt(obj, created)
        elif changes or related is not None or reviewers is not None:
            decision_update(decision=Decision._base_manager.select_related("project").get(pk=obj.pk),
                            actor=request.user, related_decisions=related, reviewers=reviewers, **changes)

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
