"""The audit log page, one entry's page with its ledger proof, and the CSV export. Rows start from
AuditEntry.objects.visible_to(user)."""

import json
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from core.access import visible_projects
from core.web.live import requested_part

from .export import CONTENT_TYPES, audit_rows_csv
from .filters import AuditEntryFilter
from .ledger.proofs import ProofUnavailable, inclusion_proof
from .ledger.sequencer import tree_size
from .models import AuditEntry, AuditEventType, LedgerCheckpoint, LedgerLeaf

PAGE_SIZE = 50


def _filter_params(query):
    """The page's `until` is a day and inclusive; the shared filter's `until` is an exclusive instant."""
    params = query.copy()
    until = params.get("until", "")
    if len(until) == 10:
        try:
            params["until"] = (date.fromisoformat(until) + timedelta(days=1)).isoformat()
        except ValueError:
            pass  # left as is: the FilterSet reports it as invalid
    return params


def filtered_entries(request) -> AuditEntryFilter:
    queryset = AuditEntry.objects.visible_to(request.user).select_related("actor", "project")
    return AuditEntryFilter(_filter_params(request.GET), queryset=queryset)


def _cursor(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def cursor_page(queryset, *, before: int | None, after: int | None) -> tuple[list, int | None, int | None]:
    """One page ordered by -id, and the cursors of the newer and older pages (None at either end)."""
    if after is not None:
        rows = list(queryset.filter(id__gt=after).order_by("id")[: PAGE_SIZE + 1])
        has_newer = len(rows) > PAGE_SIZE
        rows = list(reversed(rows[:PAGE_SIZE]))
        has_older = True
    else:
        if before is not None:
            queryset = queryset.filter(id__lt=before)
        rows = list(queryset.order_by("-id")[: PAGE_SIZE + 1])
        has_older = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        has_newer = before is not None
    if not rows:
        return [], None, None
    return rows, rows[0].id if has_newer else None, rows[-1].id if has_older else None


def _actor_choices(user):
    users = get_user_model().objects.order_by("email").only("pk", "email")
    if user.is_staff:
        return users
    projects = visible_projects(user).values("pk")
    return users.filter(Q(pk=user.pk) | Q(owned_projects__in=projects) | Q(memberships__project__in=projects)).distinct()


# The filters a streamed row is matched against in the browser (static/js/live.js), by the row's field.
LIVE_FILTERS = {"project": "project", "event_type": "event_type", "actor": "actor", "success": "success",
                "entity_type": "entity_type", "entity_id": "entity_id"}


def _live_match(request) -> str | None:
    """What a new row must have to belong on this page, as JSON for live.js; None where no new row can
    (an older page, or one that ends on a given day)."""
    if any(request.GET.get(key) for key in ("before", "after", "until")):
        return None
    match = {field: request.GET.getlist(key) for key, field in LIVE_FILTERS.items() if any(request.GET.getlist(key))}
    return json.dumps(match)


@login_required
def audit_list(request):
    """Newest rows first, a page at a time. On the newest page, rows sealed since are announced ("3 new
    changes — show") and the rows redrawn on request (`?partial=rows`)."""
    part = requested_part(request, {"rows"})
    filterset = filtered_entries(request)
    rows, newer, older = cursor_page(
        filterset.qs, before=_cursor(request.GET.get("before")), after=_cursor(request.GET.get("after"))
    )
    query = request.GET.copy()
    for key in ("before", "after", "partial"):
        query.pop(key, None)
    page = {"rows": rows, "newer": newer, "older": older, "query": query.urlencode()}
    if part == "rows":
        return render(request, "audit/_rows.html", page)
    return render(request, "audit/audit_list.html", {
        **page,
        "filter": filterset,
        "projects": visible_projects(request.user).order_by("name", "slug").only("pk", "name", "slug"),
        "event_types": AuditEventType.choices,
        "actors": _actor_choices(request.user),
        "selected_event_types": request.GET.getlist("event_type"),
        "live_match": _live_match(request),
        "live_rows_url": "?" + (f"{page['query']}&" if page["query"] else "") + "partial=rows",
    })


@login_required
def audit_export(request):
    """Every filtered row (not just one page), streamed oldest first: the same file, columns and cells as
    `export_audit` and the API's events/export/ (audit.export)."""
    response = StreamingHttpResponse(audit_rows_csv(filtered_entries(request).qs), content_type=CONTENT_TYPES["csv"])
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response


def _visible_entry_or_404(request, pk: int) -> AuditEntry:
    return get_object_or_404(AuditEntry.objects.visible_to(request.user).select_related("project", "actor"), pk=pk)


def readable_changes(changes) -> list[tuple[str, str, str]]:
    """A row's changes field by field, as people read them: (field, before, after). Empty reads "—", a
    list or an object compact JSON, and a many-to-many change what was added or removed."""
    rows = []
    for field, change in (changes or {}).items() if isinstance(changes, dict) else ():
        label = field.replace("_", " ").capitalize()
        if isinstance(change, dict) and change.get("type") == "m2m":
            objects = ", ".join(str(item) for item in change.get("objects", []))
            verb = {"add": "added", "delete": "removed", "clear": "cleared"}.get(change.get("operation"), change.get("operation"))
            rows.append((label, "", f"{verb}: {objects}" if objects else str(verb)))
        elif isinstance(change, list) and len(change) == 2:
            rows.append((label, _readable_value(change[0]), _readable_value(change[1])))
        else:
            rows.append((label, "", _readable_value(change)))
    return rows


def _readable_value(value) -> str:
    if value is None or value == "" or value == "None":
        return "—"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return str(value)


@login_required
def audit_entry(request, pk: int):
    """One audit row with its place in the ledger: leaf index, the signed tree it is proven in, its proof."""
    entry = _visible_entry_or_404(request, pk)
    leaf = LedgerLeaf.objects.filter(entry_id=entry.pk).values("leaf_index", "sealed_at").first()
    checkpoint = LedgerCheckpoint.objects.order_by("-tree_size").values("tree_size", "created_at").first() if leaf else None
    return render(request, "audit/audit_entry.html", {
        "entry": entry,
        "leaf": leaf,
        "checkpoint": checkpoint if checkpoint and checkpoint["tree_size"] > leaf["leaf_index"] else None,
        "tree_size": tree_size(),
        "changes": json.dumps(entry.changes, indent=2, ensure_ascii=False) if entry.changes else "",
        "change_rows": readable_changes(entry.changes),
        "extra": json.dumps(entry.extra, indent=2, ensure_ascii=False) if entry.extra else "",
    })


@login_required
def audit_entry_proof(request, pk: int):
    """The row's inclusion proof (the API's body) as a file, for the stand-alone verifier."""
    entry = _visible_entry_or_404(request, pk)
    try:
        proof = inclusion_proof(entry.pk)
    except ProofUnavailable as error:
        response = HttpResponse(f"{error}\n", status=409, content_type="text/plain; charset=utf-8")
        if error.retry_after:
            response["Retry-After"] = str(error.retry_after)
        return response
    response = HttpResponse(json.dumps(proof, indent=2) + "\n", content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="audit-{entry.pk}-proof.json"'
    return response
