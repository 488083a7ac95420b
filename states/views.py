"""The entity states page: what other services' entities are in which state, and how they got there."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from audit.models import AuditEntry

from .filters import EntityStateFilter
from .models import EntityState
from .registry import get_definition

PAGE_SIZE = 50


@login_required
def entity_list(request):
    """Entities you can see, filtered by service, type and state (the API's EntityStateFilter)."""
    visible = EntityState.objects.visible_to(request.user)
    filterset = EntityStateFilter(request.GET or None, queryset=visible.select_related("project", "last_transition_by"))
    rows = filterset.qs if filterset.is_bound and filterset.is_valid() else filterset.queryset
    page = Paginator(rows.order_by("service", "entity_type", "entity_id"), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "states/entity_list.html", {
        "page": page, "filter": filterset, "query": query.urlencode(),
        "services": visible.order_by("service").values_list("service", flat=True).distinct(),
        "types": visible.order_by("entity_type").values_list("entity_type", flat=True).distinct(),
        "states": visible.order_by("current_state").values_list("current_state", flat=True).distinct(),
        "selected": {key: request.GET.get(key, "") for key in ("service", "entity_type", "current_state")},
    })


@login_required
def entity_detail(request, pk):
    entity = get_object_or_404(EntityState.objects.visible_to(request.user).select_related("project", "registered_by"),
                               pk=pk)
    definition = get_definition(entity.entity_type)
    history = (AuditEntry.objects.visible_to(request.user).filter(entity_id=str(entity.pk))
               .select_related("actor").order_by("-id")[:100])
    return render(request, "states/entity_detail.html", {
        "entity": entity, "history": history,
        "next_states": definition.allowed_targets(entity.current_state) if definition else None,
    })
