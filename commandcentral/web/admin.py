"""Admin pieces the apps share."""

from django.contrib import admin, messages
from django_fsm.admin import FSMAdminMixin

from commandcentral.core.transitions import TransitionRefused, perform_transition


class ReadOnlyAdminMixin:
    """No add, change or delete for anyone, superusers included (audit rows, tracked entities)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AuditedTransitionsMixin(FSMAdminMixin):
    """Transition buttons that go through perform_transition: same rules, same audit rows.

    django-fsm-2 4.2.4's `_apply_fsm_transition` runs the method and save() with no permission check
    and no audit row. It is a private hook: re-read it on every django-fsm-2 upgrade.
    """

    fsm_fields = ["state"]

    def _apply_fsm_transition(self, *, obj, transition_name, request, kwargs=None):
        kwargs = dict(kwargs or {})
        rationale = kwargs.pop("rationale", "") or request.POST.get("rationale", "")
        try:
            perform_transition(obj, transition_name, actor=request.user, rationale=rationale, **kwargs)
        except TransitionRefused as refused:
            self.message_user(request, refused.message, messages.ERROR)
            return False
        self.message_user(request, f"{transition_name} done: now {obj.state}.", messages.SUCCESS)
        return True


class SoftDeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return (("live", "Live"), ("deleted", "Deleted"), ("all", "All"))

    def choices(self, changelist):
        # "Live" is the default, so the unfiltered link means live rows.
        for lookup, title in self.lookup_choices:
            yield {
                "selected": (self.value() or "live") == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or "live"
        if value == "live":
            return queryset.filter(deleted_at__isnull=True)
        if value == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        return queryset
