"""The delete and restore (Undo) pages of a soft-deleted governed object: a project, a decision."""

from dataclasses import dataclass
from typing import Any, Callable

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse

from core.access import knows_deleted
from core.errors import ActionForbidden, Conflict

from .undo import offer_undo


@dataclass(frozen=True)
class SoftDeletePages:
    """What an app's delete and restore views do once they have the object; the views keep their
    decorators and their own lookup of the live object.

    The object is named by str(); its pages are `<model>_delete` and `<model>_restore`; its services take
    it as the keyword named after the model (`project_soft_delete(project=…, actor=…)`).
    """

    rows: QuerySet  # where restore looks the object up: every row of the model, deleted ones included
    soft_delete: Callable
    restore: Callable
    consequence: str  # what the confirm page says a delete does
    back_to: Callable[[Any], Any]  # where to go once the object is gone: a redirect() target for it

    @property
    def kind(self) -> str:
        return self.rows.model._meta.model_name

    def delete_view(self, request, obj):
        """GET asks first; POST deletes (soft) and offers an Undo on the next page."""
        if request.method == "GET":
            return render(request, "_confirm_delete.html", {
                "kind": self.kind, "name": str(obj), "action": reverse(f"{self.kind}_delete", args=[obj.pk]),
                "cancel": obj.get_absolute_url(), "consequence": self.consequence,
            })
        try:
            self.soft_delete(**{self.kind: obj}, actor=request.user)
        except (ActionForbidden, Conflict) as error:
            messages.error(request, error.message)
            return redirect(obj)
        offer_undo(request, message=f"{self.kind.capitalize()} '{obj}' deleted.", restore_view=f"{self.kind}_restore",
                   pk=obj.pk)
        return redirect(self.back_to(obj))

    def restore_view(self, request, pk):
        """Undo a delete. Its deleter may be refused with a 403 (the service records it); anyone but an
        operator or its deleter gets the 404 of an unknown object."""
        obj = self.rows.filter(pk=pk, deleted_at__isnull=False).first()
        if obj is None or not knows_deleted(obj, request.user):
            raise Http404(f"No such {self.kind}.")
        try:
            self.restore(**{self.kind: obj}, actor=request.user)
        except Conflict as error:
            messages.error(request, error.message)
            return redirect(self.back_to(obj))
        messages.success(request, f"{self.kind.capitalize()} '{obj}' is back.")
        return redirect(obj)
