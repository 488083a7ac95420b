"""Admin pieces the apps share."""

from django.contrib import admin, messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django_fsm.admin import FSMAdminMixin, FSMObjectTransition, FSMTransitionContext

from core.errors import ActionForbidden, Conflict, InvalidInput, record_if_rolled_back
from core.transitions import TransitionRefused, allowed_transitions, perform_transition, transition_specs

from .forms import RationaleForm

SERVICE_REFUSALS = (ActionForbidden, Conflict, InvalidInput)


class ServiceAdminMixin:
    """Admin writes that go through the services.

    The model admin says how in `save_model` / `delete_model` (a service call each); this mixin makes a
    refusal behave as in the other surfaces. Django runs the change form, the delete page and the bulk
    actions in one atomic block, so a refusal rolls back everything that save did; its audit row is then
    written again outside (`record_if_rolled_back`), and the change form is shown again with the user's
    input and the refusal as a form error (on its field when the form has one). The delete page and
    the actions answer with an error message.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except SERVICE_REFUSALS as refusal:
            record_if_rolled_back(refusal)
            request._service_refusal = refusal  # the second pass shows it on the bound form, saves nothing
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        refusal = getattr(request, "_service_refusal", None)
        if refusal is None:
            return form

        class RefusedForm(form):
            def clean(self):
                cleaned = super().clean()
                field = getattr(refusal, "field", None)
                self.add_error(field if field in self.fields else None, refusal.message)
                return cleaned

        return RefusedForm

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except SERVICE_REFUSALS as refusal:
            record_if_rolled_back(refusal)
            self.message_user(request, refusal.message, messages.ERROR)
            return HttpResponseRedirect(request.path)

    def changelist_view(self, request, extra_context=None):
        try:
            return super().changelist_view(request, extra_context)
        except SERVICE_REFUSALS as refusal:
            record_if_rolled_back(refusal)
            self.message_user(request, refusal.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    @staticmethod
    def adopt(obj, saved) -> None:
        """Make the admin's unsaved `obj` stand for the row a service saved (`saved`): its primary key for
        the admin's redirect, log entry and message, and Model._state (documented) no longer "adding"."""
        obj.pk = saved.pk
        obj._state.adding, obj._state.db = False, saved._state.db

    @staticmethod
    def changed_values(form, fields) -> dict:
        """The service's editable fields the admin form changed, with their cleaned values."""
        return {name: form.cleaned_data[name] for name in form.changed_data if name in fields}


class ReadOnlyAdminMixin:
    """No add, change or delete for anyone, superusers included (audit rows, tracked entities, webhook deliveries)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AuditedTransitionsMixin(FSMAdminMixin):
    """django-fsm-2's admin buttons and transition pages, through perform_transition: same rules, same
    audit rows. Only its public hooks are used: `change_view` (the buttons: every transition this user may
    run from here, with from → to and its requirements; django-fsm-2 offers only those whose conditions
    already hold, so Decide, whose option is chosen on its form, was never offered), `response_change`
    (a button without a form) and `fsm_transition_view` (our page: from → to, the checklist, the form,
    an option picker for Decide, and a Confirm that waits for the requirements).
    """

    fsm_fields = ["state"]
    fsm_transition_form_template = "admin/fsm_transition_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        context = {**(extra_context or {}), self.fsm_context_key: self.offered_transitions(request, obj)}
        # Past FSMAdminMixin.change_view, which would put back its own list of buttons.
        return super(FSMAdminMixin, self).change_view(request, object_id, form_url, context)

    def offered_transitions(self, request, obj) -> list:
        if obj is None:
            return []
        specs = transition_specs(type(obj))
        offered = [
            FSMTransitionContext(name=name, label=f"{name.capitalize()} ({obj.state} → {specs[name].target})",
                                 help_text=_checklist_text(specs[name], obj))
            for name in allowed_transitions(obj, request.user)
        ]
        return [FSMObjectTransition(fsm_field="state", block_label="Move it", available_transitions=offered)] if offered else []

    def response_change(self, request, obj):
        name = request.POST.get(self.fsm_post_param)
        if not name:
            return super().response_change(request, obj)
        if name in self.fsm_forms:
            return redirect(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_transition", object_id=obj.pk,
                            transition_name=name)
        self.apply_transition(request, obj, name, {})
        return HttpResponseRedirect(request.path)

    def fsm_transition_view(self, request, object_id, transition_name, **kwargs):
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404("No such object.")
        spec = transition_specs(type(obj)).get(transition_name)
        if spec is None:
            raise Http404("No such transition.")
        if request.method != "POST" and transition_name not in allowed_transitions(obj, request.user):
            self.message_user(request, f"You cannot {transition_name} this {obj._meta.verbose_name} now.", messages.ERROR)
            return redirect(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", object_id=obj.pk)
        # A POST goes to the engine even when it will refuse: the refusal is recorded like on every surface.
        form_class = self.fsm_forms.get(transition_name, RationaleForm)
        form = form_class(data=request.POST or None, obj=obj) if _takes_obj(form_class) else form_class(data=request.POST or None)
        if request.method == "POST" and form.is_valid() and self.apply_transition(request, obj, transition_name,
                                                                                form.cleaned_data):
            return redirect(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", object_id=obj.pk)
        checklist = spec.checklist(obj)
        return render(request, self.fsm_transition_form_template, {
            **self.admin_site.each_context(request),
            "opts": self.model._meta, "original": obj, "transition_name": transition_name,
            "title": f"{transition_name.capitalize()} {obj}", "from_state": obj.state, "to_state": spec.target,
            "checklist": checklist, "blocked": [item["text"] for item in checklist if item["met"] is False],
            "transition_form": form,
        })

    def apply_transition(self, request, obj, name: str, params: dict) -> bool:
        params = dict(params)
        rationale = params.pop("rationale", "") or request.POST.get("rationale", "")
        try:
            perform_transition(obj, name, actor=request.user, rationale=rationale, **params)
        except TransitionRefused as refused:
            self.message_user(request, refused.message, messages.ERROR)
            return False
        self.message_user(request, f"{name} done: now {obj.state}.", messages.SUCCESS)
        return True


def _takes_obj(form_class) -> bool:
    return getattr(form_class, "takes_obj", False)


def _checklist_text(spec, obj) -> str:
    items = spec.checklist(obj)
    return "; ".join(f"{'✓' if item['met'] else '✗' if item['met'] is False else '•'} {item['text']}" for item in items)


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
