"""The header's bell and the project page's Watch button: each page includes them without its view
knowing about notifications (one query each)."""

from django import template

from .. import selectors, services

register = template.Library()


@register.inclusion_tag("notifications/_bell_link.html", takes_context=True)
def notification_bell(context):
    request = context.get("request")
    return {"unread": selectors.unread_count(getattr(request, "user", None))}


@register.inclusion_tag("notifications/_watch_button.html", takes_context=True)
def watch_button(context, project):
    request = context["request"]
    return {"project": project, "watching": services.is_watching(project, request.user),
            "csrf_token": context.get("csrf_token")}
