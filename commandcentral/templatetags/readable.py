"""Template filters for words people read."""

from django import template

register = template.Library()


@register.filter
def markdown(value) -> str:
    """What someone wrote in Markdown, as sanitized HTML (core.markdown: no raw HTML, safe links only)."""
    from django.utils.safestring import mark_safe

    from core.markdown import render_markdown

    return mark_safe(render_markdown(value))


@register.filter
def readable(value) -> str:
    """A machine name as words: "in_progress" → "In progress"."""
    text = str(value or "").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


VERBS = {
    "created": "created", "updated": "edited", "deleted": "deleted", "activate": "activated", "pause": "paused",
    "resume": "resumed", "complete": "completed", "kill": "killed", "decide": "decided", "archive": "archived",
    "login": "logged in", "logout": "logged out", "logout_everywhere": "logged out everywhere",
    "transition": "moved", "register": "registered", "restore": "restored",
    "paused": "paused", "redeliver": "redelivered",
}
# Rows about an attempt by someone who is not signed in: the account tried is named, but the row has no
# actor (whoever typed the address is not its owner), so the sentence does not make anyone its subject.
ATTEMPTS = {
    "auth.failed": "A sign-in as {account} failed",
    "auth.refresh_reuse": "A spent refresh token of {account} was replayed: every session and token of the account was ended",
    "auth.throttled": "An address that failed to authenticate too often was stopped for a while",
    "auth.register_existing": "A registration as {account} was turned away: the address already has an account",
}
DETAIL_VIEWS = {"project": "project_detail", "decision": "decision_detail", "entity_state": "entity_detail"}


@register.filter
def sentence(entry):
    """An audit row as a sentence: "Mia activated <Queue #2>", "Sam was refused: edit <Budget>"."""
    from django.urls import NoReverseMatch, reverse
    from django.utils.html import format_html

    if entry.event_name in ATTEMPTS and not entry.actor_id:
        account = (entry.extra or {}).get("email") or entry.object_repr or "an unknown account"
        return format_html(ATTEMPTS[entry.event_name], account=account)
    actor = entry.actor.get_short_name() if entry.actor_id and entry.actor else (entry.actor_email or "The system")
    entity, _, action = (entry.event_name or "").rpartition(".")
    verb = VERBS.get(action, action.replace("_", " "))
    if entity == "membership" and action in ("created", "deleted"):
        what = (entry.object_repr or "someone").replace(" in ", " to ", 1) if action == "created" else entry.object_repr
        text = format_html("{} added {}", actor, what) if action == "created" else format_html("{} removed {}", actor, what)
        return text if entry.success else format_html("{} was refused: {}", actor, text)
    name = entry.object_repr or entry.entity_id or ""
    url = None
    if entry.entity_type in DETAIL_VIEWS and entry.entity_id:
        try:
            url = reverse(DETAIL_VIEWS[entry.entity_type], args=[entry.entity_id])
        except NoReverseMatch:
            url = None
    target = format_html('<a href="{}">{}</a>', url, name) if url and name else name
    if entity == "user" or entry.event_type in ("auth_login", "auth_logout", "auth_failed"):
        return format_html("{} {}", actor, verb)
    if not entry.success:
        return format_html("{} tried to {} {} — refused", actor, action.replace("_", " "), target)
    if entry.transition and entry.to_state:
        return format_html("{} {} {} — now {}", actor, verb, target, readable(entry.to_state))
    return format_html("{} {} {}", actor, verb, target)


@register.filter
def with_labels(projects) -> list:
    """(project, label) pairs for a choice list: the name, and the slug too where two share a name
    ("Quickstart (quickstart-2)"), so two projects called alike can be told apart."""
    from collections import Counter

    projects = list(projects)
    names = Counter(project.name.casefold() for project in projects)
    return [(project, f"{project.name} ({project.slug})" if names[project.name.casefold()] > 1 else project.name)
            for project in projects]


@register.filter
def states_line(entry) -> str:
    """A transition row's states, as what happened: "active → paused"; for a refusal what was tried, since
    nothing moved ("tried to activate; it is already active", "tried to decide; it stays draft")."""
    before, after = entry.from_state or "", entry.to_state or ""
    if entry.success:
        return f"{before or '?'} → {after or '?'}"
    tried = f"tried to {str(entry.transition).replace('_', ' ')}"
    if not before:
        return tried
    if after == before:
        return f"{tried}; it is already {readable(before).lower()}"
    return f"{tried}; it stays {readable(before).lower()}"
