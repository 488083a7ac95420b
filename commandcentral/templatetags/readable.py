"""Template filters for words people read."""

from django import template

register = template.Library()


@register.filter
def readable(value) -> str:
    """A machine name as words: "in_progress" → "In progress"."""
    text = str(value or "").replace("_", " ").strip()
    return text[:1].upper() + text[1:]
