from django.contrib import admin, messages

from commandcentral.web.admin import AuditedTransitionsMixin, SoftDeletedFilter
from commandcentral.core.errors import Conflict
from commandcentral.web.forms import RationaleForm

from .models import Membership, Project
from .services import project_restore


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Project)
class ProjectAdmin(AuditedTransitionsMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "state", "owner", "state_changed_at", "created_at", "deleted_at")
    list_filter = ("state", SoftDeletedFilter, "created_at")
    search_fields = ("name", "slug", "description", "owner__email")
    list_select_related = ("owner",)
    readonly_fields = ("state", "state_changed_at", "state_changed_by", "deleted_at", "created_at", "updated_at")
    autocomplete_fields = ("owner",)
    inlines = [MembershipInline]
    actions = ["restore_selected"]
    fsm_forms = {name: RationaleForm for name in ("activate", "pause", "resume", "complete", "kill")}

    def get_queryset(self, request):
        # The base manager: soft-deleted rows stay reachable (behind the "deleted" filter).
        return Project._base_manager.select_related("owner")

    def has_delete_permission(self, request, obj=None):
        return False  # projects are soft-deleted through the service, never removed

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
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("project", "user", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("project__name", "user__email")
    list_select_related = ("project", "user")
    autocomplete_fields = ("project", "user")
