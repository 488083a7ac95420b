from django.contrib import admin, messages
from django.db import transaction

from core.web.admin import AuditedTransitionsMixin, ServiceAdminMixin, SoftDeletedFilter
from core.errors import Conflict
from core.web.forms import RationaleForm

from .models import Membership, Project
from .services import EDITABLE_FIELDS, membership_add, membership_remove, project_create, project_restore, project_update


class MembershipInline(admin.TabularInline):
    """The team, read-only here: it changes on the Memberships page (membership_add's rules) or the project's page."""

    model = Membership
    extra = 0
    fields = readonly_fields = ("user", "role", "created_at")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Project)
class ProjectAdmin(ServiceAdminMixin, AuditedTransitionsMixin, admin.ModelAdmin):
    """Edits go through project_create / project_update (their rules, their audit rows); the owner is
    whoever created the project, so it is read-only here."""

    # Fits 1280 px: the slug and the dates of a state change are on the change page.
    list_display = ("name", "state", "owner", "created_at")
    list_filter = ("state", SoftDeletedFilter, "created_at")
    search_fields = ("name", "slug", "description", "owner__email")
    list_select_related = ("owner",)
    fields = ("name", "slug", "description", "settings", "metadata", "repo_path", "repo_url", "owner", "state",
              "state_changed_at", "state_changed_by", "deleted_at", "created_at", "updated_at")
    readonly_fields = ("owner", "state", "state_changed_at", "state_changed_by", "deleted_at", "created_at", "updated_at")
    inlines = [MembershipInline]
    actions = ["restore_selected"]
    fsm_forms = {name: RationaleForm for name in ("activate", "pause", "resume", "complete", "kill")}

    def get_queryset(self, request):
        # The base manager: soft-deleted rows stay reachable (behind the "deleted" filter).
        return Project._base_manager.select_related("owner")

    def has_delete_permission(self, request, obj=None):
        return False  # projects are soft-deleted through the service, never removed

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None and "slug" in form.base_fields:  # project_create makes one from the name
            form.base_fields["slug"].required = False
            form.base_fields["slug"].help_text = "Leave empty to make one from the name."
        return form

    def save_model(self, request, obj, form, change):
        if not change:
            created = project_create(actor=request.user, **self.changed_values(form, ("name", *EDITABLE_FIELDS)))
            self.adopt(obj, created)
            return
        changes = self.changed_values(form, EDITABLE_FIELDS)
        if changes:  # a transition button posts the form unchanged: nothing to update, nothing to refuse
            project_update(project=Project._base_manager.get(pk=obj.pk), actor=request.user, **changes)

    @admin.action(description="Restore selected deleted projects")
    def restore_selected(self, request, queryset):
        restored = 0
        for project in queryset.filter(deleted_at__isnull=False):  # one save() each: audited
            try:
                project_restore(project=project, actor=request.user)
                restored += 1
            except Conflict as error:
                self.message_user(request, f"{project}: {error.message}", messages.WARNING)
        self.message_user(request, f"Restored {restored} project(s).", messages.SUCCESS)


@admin.register(Membership)
class MembershipAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """Adds, role changes and removals through membership_add / membership_remove."""

    list_display = ("project", "user", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("project__name", "user__email")
    list_select_related = ("project", "user")
    autocomplete_fields = ("project", "user")

    def get_readonly_fields(self, request, obj=None):
        return ("project", "user", "created_at") if obj is not None else ()

    def save_model(self, request, obj, form, change):
        saved = membership_add(project=obj.project, actor=request.user, user=obj.user, role=obj.role)
        self.adopt(obj, saved)

    def delete_model(self, request, obj):
        membership_remove(project=obj.project, actor=request.user, user=obj.user)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():  # all or none: a refusal undoes the removals before it
            for membership in queryset.select_related("project", "user"):
                self.delete_model(request, membership)
