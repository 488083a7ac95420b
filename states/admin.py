from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.web.admin import ReadOnlyAdminMixin
from core.transitions import TransitionRefused

from .forms import EntityTransitionForm
from .models import EntityState
from .services import allowed_next_states, entity_transition


@admin.register(EntityState)
class EntityStateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only rows; the state changes only through the audited transition view (entity_transition).

    Entities are registered by their services through the API, so there is no add; removing one would
    erase what the audit trail refers to, so there is no delete either.
    """

    list_display = ("__str__", "service", "entity_type", "current_state", "project", "last_transition_at",
                    "last_transition_by", "created_at")
    list_filter = ("entity_type", "service", "current_state", "created_at")
    search_fields = ("service", "entity_type", "entity_id", "project__name", "project__slug")
    list_select_related = ("project", "last_transition_by")
    readonly_fields = ("service", "entity_type", "entity_id", "project", "current_state", "last_transition_at",
                       "last_transition_by", "last_transition_from", "metadata", "registered_by", "created_at",
                       "updated_at")
    change_form_template = "admin/states/entitystate/change_form.html"

    def get_urls(self):
        transition = self.admin_site.admin_view(self.transition_view)
        return [path("<path:object_id>/transition/", transition, name="states_entitystate_transition"),
                *super().get_urls()]

    def transition_view(self, request, object_id):
        entity = self.get_object(request, unquote(object_id))
        if entity is None:
            raise Http404("No such entity state.")
        if not self.has_view_permission(request, entity):
            raise PermissionDenied
        form = EntityTransitionForm(request.POST or None, entity=entity)
        if request.method == "POST" and form.is_valid():
            try:
                entity_transition(entity, actor=request.user, **form.cleaned_data)
            except TransitionRefused as refused:
                self.message_user(request, refused.message, messages.ERROR)
            else:
                self.message_user(request, f"{entity} is now {entity.current_state}.", messages.SUCCESS)
            return redirect(reverse("admin:states_entitystate_change", args=[entity.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": entity,
            "form": form,
            "allowed": allowed_next_states(entity),
            "title": f"Transition {entity}",
        }
        return TemplateResponse(request, "admin/states/entitystate/transition.html", context)
