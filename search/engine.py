"""Global search: one query over projects, decisions, entities, people and audit rows, for the palette,
the /search/ page and GET /api/v1/search/.

Every kind starts from the scope the rest of the application shows the caller (core.access through the
models' `visible_to`), so a hidden or deleted thing is simply not among the results: nothing says it
exists. A search is a read: it writes nothing, no audit row either.

Text: PostgreSQL ranks with full-text search over indexed documents (search/documents.py); any other
database matches each word as a substring and puts title matches first (docs/search.md). Entities
(keys such as billing/invoice/INV-7) and people (names, handles, email addresses) are matched as
substrings on both: their words are identifiers, which a text-search parser splits and stems.
Audit rows are found by what identifies them: their id (#123), their leaf index (leaf 65) or their
leaf hash (64 hex digits, or a prefix of at least 8).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.db.models.functions import Concat
from django.urls import reverse

from audit.models import AuditEntry, LedgerLeaf
from core.access import people_sharing_projects, visible_project_ids, visible_projects
from decisions.models import Decision
from states.models import EntityState

TYPES = ("project", "decision", "entity", "person", "event")
MAX_QUERY_LENGTH = 200
DEFAULT_LIMIT = 20
MAX_LIMIT = 50
SNIPPET_LENGTH = 160
PREFIX_MIN_LENGTH = 2
RANKED_CANDIDATES = 30  # the word being typed matches as a prefix from its second letter

_AUDIT_ID = re.compile(r"#?\s*(\d{1,18})")
_LEAF_INDEX = re.compile(r"leaf\s*[:#]?\s*(\d{1,18})", re.IGNORECASE)
_LEAF_HASH = re.compile(r"[0-9a-fA-F]{8,64}")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Result:
    type: str
    id: str
    title: str
    url: str
    snippet: str
    score: float  # ranks results of all kinds against each other; not part of the answer

    def as_dict(self) -> dict:
        data = asdict(self)
        del data["score"]
        return data


def search(user, text: str, *, types=TYPES, limit: int = DEFAULT_LIMIT) -> list[Result]:
    """The best `limit` results for `text` that `user` may see, best first. `text` is already checked
    (stripped, not empty, at most MAX_QUERY_LENGTH characters)."""
    postgres = connection.vendor == "postgresql"
    results: list[Result] = []
    if "event" in types:
        results += _events(user, text, limit)
    if not _identifier_only(text):
        # The projects the caller sees, read once (a few, by index) and named in each query below,
        # rather than a subquery each would answer by testing every live project (docs/search.md).
        ids = visible_project_ids(user)
        if "project" in types:
            results += _projects(user, ids, text, limit, postgres)
        if "decision" in types:
            results += _decisions(user, ids, text, limit, postgres)
        if "entity" in types:
            results += _entities(user, ids, text, limit)
        if "person" in types:
            results += _people(user, ids, text, limit)
    order = {kind: place for place, kind in enumerate(TYPES)}
    results.sort(key=lambda result: (-result.score, order[result.type], result.title.lower()))
    return results[:limit]


# --- Text ----------------------------------------------------------------------------------------


def _identifier_only(text: str) -> bool:
    """#123, leaf 65, or hex digits mixing letters and figures: an audit row is meant, not words."""
    text = text.strip()
    if text.startswith("#") and _AUDIT_ID.fullmatch(text) or _LEAF_INDEX.fullmatch(text):
        return True
    return bool(_LEAF_HASH.fullmatch(text)) and not text.isdigit() and not text.isalpha()


def _words(text: str) -> list[str]:
    return text.split()


def _tsquery(text: str):
    """websearch_to_tsquery of the whole text (quotes, OR and -word as a web search reads them),
    or: the words before the last one, and the last one as a prefix (it may be half typed)."""
    from django.contrib.postgres.search import SearchQuery

    query = SearchQuery(text, search_type="websearch", config="english")
    head, _, last = text.rstrip().rpartition(" ")
    if len(last) >= PREFIX_MIN_LENGTH and _WORD.fullmatch(last) and "_" not in last:
        prefix = SearchQuery(f"{last.lower()}:*", search_type="raw", config="simple")
        if head.strip():
            prefix = SearchQuery(head, search_type="websearch", config="english") & prefix
        query = query | prefix
    return query


def _ranked(rows, document, text: str, limit: int, fields: tuple[str, ...]):
    """PostgreSQL: the rows whose stored document matches, by ts_rank (title/name weighs most), newest
    first among equals; the planner's own plan (the GIN index over the document, or a test of each of
    a member's few visible rows: both cheap, the document being read, not computed).

    Only the newest RANKED_CANDIDATES matches are ranked: a word in thousands of decisions costs what
    one in a hundred does (docs/search.md)."""
    from django.contrib.postgres.search import SearchRank

    query = _tsquery(text)
    matches = rows.model.objects.alias(document=document).filter(document=query).values("pk")
    candidates = rows.filter(pk__in=matches).order_by("-created_at").values("pk")[:RANKED_CANDIDATES]
    return (rows.model.objects.filter(pk__in=candidates).annotate(score=SearchRank(document, query))
            .order_by("-score", "-created_at").values(*fields, "score")[:limit])


def _substring(rows, text: str, *, title: str, fields: list[str], limit: int, values: tuple[str, ...]):
    """Any other database: every word in one of `fields`; the whole text in the title first, then a
    title holding the first word, then the rest; newest first among equals."""
    words = _words(text)
    for word in words:
        rows = rows.filter(Q(*[Q(**{f"{field}__icontains": word}) for field in fields], _connector=Q.OR))
    score = Case(
        When(**{f"{title}__icontains": text}, then=Value(3)),
        When(**{f"{title}__icontains": words[0]}, then=Value(2)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return rows.annotate(score=score).order_by("-score", "-created_at").values(*values, "score")[:limit]


def _snippet(text: str, *texts: str) -> str:
    """A plain-text excerpt of the first of `texts` that holds a word of `text` (or a word's stem, for
    what a stemmed match found), around it; else the beginning of the first non-empty one."""
    plain: dict[int, str] = {}  # each text made plain only when looked at: usually the first holds a word

    def candidate(i: int) -> str:
        if i not in plain:
            plain[i] = " ".join(_plain(texts[i] or "").split())
        return plain[i]

    for found in _snippet_patterns(text):
        for i in range(len(texts)):
            match = found.search(candidate(i))
            if match:
                return _window(candidate(i), match.start())
    return _window(next((candidate(i) for i in range(len(texts)) if candidate(i)), ""), 0)


@lru_cache(maxsize=64)
def _snippet_patterns(text: str) -> tuple:
    """The words of the query, then their stems (a stemmed match), as patterns: built once per query."""
    words = [w for w in _WORD.findall(text.lower()) if len(w) >= 2]
    patterns = []
    for pattern in ([re.escape(w) for w in words], [re.escape(w[:max(4, len(w) - 3)]) for w in words]):
        if not pattern:
            break
        patterns.append(re.compile(r"\b(?:" + "|".join(pattern) + ")", re.IGNORECASE))
    return tuple(patterns)


_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_EMPHASIS = re.compile(r"\*\*|__|`+|~~")
_MD_LINE_MARKS = re.compile(r"^\s{0,3}(?:#{1,6}|>|[-*+]|\d+[.)])\s+", re.MULTILINE)


def _plain(text: str) -> str:
    """Descriptions, contexts and rationales are Markdown: a snippet shows their words, not the marks
    (a link's text without its address, no emphasis, heading, quote or list markers)."""
    return _MD_EMPHASIS.sub("", _MD_LINE_MARKS.sub(" ", _MD_LINK.sub(r"\1", text)))


def _window(text: str, at: int) -> str:
    if len(text) <= SNIPPET_LENGTH:
        return text
    start = max(0, min(at - SNIPPET_LENGTH // 3, len(text) - SNIPPET_LENGTH))
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < at else start
    excerpt = text[start:start + SNIPPET_LENGTH]
    return ("…" if start else "") + excerpt + ("…" if start + SNIPPET_LENGTH < len(text) else "")


# Plain values, not model instances: a Project or Decision reads its state again when it is built.
PROJECT_VALUES = ("pk", "name", "slug", "description")
DECISION_VALUES = ("pk", "title", "question", "context", "rationale", "options", "tags")


def _projects(user, ids, text, limit, postgres) -> list[Result]:
    rows = visible_projects(user, ids=ids)
    if postgres:
        from .documents import project_document

        rows = _ranked(rows, project_document(), text, limit, PROJECT_VALUES)
    else:
        rows = _substring(rows, text, title="name", fields=["name", "slug", "description"], limit=limit,
                          values=PROJECT_VALUES)
    return [
        Result("project", str(p["pk"]), p["name"], reverse("project_detail", args=[p["pk"]]),
               _snippet(text, p["description"], p["slug"]), _score(p["score"], postgres))
        for p in rows
    ]


def _option_texts(decision: dict) -> str:
    parts = []
    for option in decision["options"] or []:
        if isinstance(option, dict):
            parts += [str(option.get(key) or "") for key in ("label", "description")]
            parts += [str(item) for key in ("pros", "cons") for item in option.get(key) or []]
    return " ".join(parts + [str(tag) for tag in decision["tags"] or []])


def _decisions(user, ids, text, limit, postgres) -> list[Result]:
    rows = Decision.objects.visible_to(user, project_ids=ids)
    if postgres:
        from .documents import decision_document

        rows = _ranked(rows, decision_document(), text, limit, DECISION_VALUES)
    else:
        fields = ["title", "question", "context", "rationale", "options", "tags"]
        rows = _substring(rows, text, title="title", fields=fields, limit=limit, values=DECISION_VALUES)
    return [
        Result("decision", str(d["pk"]), d["title"], reverse("decision_detail", args=[d["pk"]]),
               _snippet(text, d["context"], d["question"], d["rationale"], _option_texts(d)), _score(d["score"], postgres))
        for d in rows
    ]


def _score(score, postgres: bool) -> float:
    """On one scale with the other kinds: ts_rank is about 0.1–1 for a match, the substring score 1–3."""
    return float(score) if postgres else float(score) / 3


# --- Identifiers ---------------------------------------------------------------------------------


def _entities(user, ids, text, limit) -> list[Result]:
    """By key (service/entity_type/entity_id): every word within it; an exact entity id first."""
    rows = EntityState.objects.visible_to(user, project_ids=ids).annotate(
        key=Concat(F("service"), Value("/"), F("entity_type"), Value("/"), F("entity_id")),
    )
    words = _words(text)
    for word in words:
        rows = rows.filter(Q(key__icontains=word) | Q(current_state__iexact=word))
    score = Case(
        When(Q(entity_id__iexact=text) | Q(key__iexact=text), then=Value(3)),
        When(entity_id__istartswith=words[0], then=Value(2)),
        default=Value(1),
        output_field=IntegerField(),
    )
    # Plain values, the project's name among them: not an entity and its project built from every column.
    rows = (rows.annotate(score=score).order_by("-score", "-created_at")
            .values("pk", "key", "current_state", "project__name", "score")[:limit])
    return [
        Result("entity", str(e["pk"]), e["key"], reverse("entity_detail", args=[e["pk"]]),
               f"state {e['current_state']}" + (f" · {e['project__name']}" if e["project__name"] is not None else ""),
               e["score"] / 3)
        for e in rows
    ]


def _people(user, ids, text, limit) -> list[Result]:
    """By name, handle or email, among the people the caller shares a project with (operators: anyone).
    A person's page is their part of the audit trail (what the caller may see of it)."""
    rows = people_sharing_projects(user, get_user_model().objects.all(), ids=ids)
    words = _words(text)
    handle = text.lstrip("@").lower()
    for word in words:
        word = word.lstrip("@") or word
        rows = rows.filter(Q(name__icontains=word) | Q(handle__icontains=word) | Q(email__icontains=word))
    score = Case(
        When(Q(handle=handle) | Q(email__iexact=text) | Q(name__iexact=text), then=Value(3)),
        When(Q(handle__startswith=handle) | Q(name__istartswith=text) | Q(email__istartswith=text), then=Value(2)),
        default=Value(1),
        output_field=IntegerField(),
    )
    rows = rows.annotate(score=score).order_by("-score", "email").only("pk", "name", "email", "handle")[:limit]
    return [
        Result("person", str(p.pk), p.name or p.email, f"{reverse('audit_list')}?actor={p.pk}",
               f"@{p.handle} · {p.email}", p.score / 3)
        for p in rows
    ]


def _events(user, text, limit) -> list[Result]:
    """An audit row by id (#123 or 123), leaf index (leaf 65, leaf:65) or leaf hash (a prefix of at
    least 8 hex digits). Ranked above any text match: an identifier names one row."""
    text = text.strip()
    leaf_hashes = None
    if match := _LEAF_INDEX.fullmatch(text):
        entry_ids = LedgerLeaf.objects.filter(leaf_index=int(match[1])).values("entry_id")
    elif match := _AUDIT_ID.fullmatch(text):
        entry_ids = [int(match[1])]
    else:
        entry_ids = None
    if _LEAF_HASH.fullmatch(text):
        # A range over the raw bytes: every hash that begins with these hex digits.
        low, high = bytes.fromhex(text.ljust(64, "0")), bytes.fromhex(text.ljust(64, "f"))
        leaf_hashes = LedgerLeaf.objects.filter(leaf_hash__gte=low, leaf_hash__lte=high).order_by("leaf_hash")
    condition = Q()
    if entry_ids is not None:
        condition |= Q(pk__in=entry_ids)
    if leaf_hashes is not None:
        condition |= Q(pk__in=leaf_hashes.values("entry_id")[:limit])
    if not condition:
        return []
    rows = (AuditEntry.objects.visible_to(user).filter(condition)
            .only("pk", "event_name", "timestamp", "actor_email", "object_repr", "success").order_by("-pk")[:limit])
    rows = list(rows)
    leaves = dict(LedgerLeaf.objects.filter(entry_id__in=[r.pk for r in rows]).values_list("entry_id", "leaf_index"))
    return [
        Result("event", str(r.pk), f"#{r.pk} {r.event_name}" + ("" if r.success else " (refused)"),
               reverse("audit_entry", args=[r.pk]), _event_snippet(r, leaves.get(r.pk)), 10.0)
        for r in rows
    ]


def _event_snippet(entry, leaf_index) -> str:
    parts = [f"leaf {leaf_index}" if leaf_index is not None else "not sealed yet",
             entry.timestamp.strftime("%Y-%m-%d %H:%M UTC")]
    parts += [part for part in (entry.actor_email, entry.object_repr[:80]) if part]
    return " · ".join(parts)
