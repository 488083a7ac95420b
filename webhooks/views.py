"""Webhook pages for those who steer a project (its owner, operators): same services as the API."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.api.support import parse_uuid, visible_project_or_404
from core.errors import InvalidInput
from core.recording import AuditEventType
from core.web.transitions import add_service_error

from .services import (
    check_manage,
    subscription_create,
    subscription_delete,
    subscription_redeliver,
    subscription_update,
    visible_subscriptions,
)


class WebhookForm(forms.Form):
    url = forms.URLField(max_length=2000, label="Receiver URL", assume_scheme="https",
                         help_text="We POST each matching audit row here, signed per Standard Webhooks.")
    description = forms.CharField(max_length=200, required=False)
    event_types = forms.MultipleChoiceField(choices=AuditEventType.choices, required=False,
                                            widget=forms.CheckboxSelectMultiple,
                                            help_text="None ticked: every event type.")
    event_names = forms.CharField(max_length=1000, required=False,
                                  help_text="Comma-separated, e.g. decision.decide, project.kill (empty: all).")

    def clean_event_names(self) -> list[str]:
        return [name.strip() for name in self.cleaned_data["event_names"].split(",") if name.strip()]


def _subscription(request, pk):
    key = parse_uuid(pk)
    subscription = visible_subscriptions(request.user).filter(pk=key).first() if key else None
    if subscription is None:
        raise Http404("No such webhook.")
    return subscription


@login_required
def project_webhooks(request, pk):
    project = visible_project_or_404(request.user, pk)
    check_manage(project, request.user, "webhook_list")
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            subscription = subscription_create(project=project, actor=request.user, **form.cleaned_data)
        except InvalidInput as error:
            add_service_error(form, error)
        else:
            messages.warning(request, f"Webhook created. Its signing secret, shown only now: {subscription.secret}")
            return redirect(reverse("webhook_detail", args=[subscription.pk]))
    return render(request, "webhooks/project_webhooks.html", {
        "project": project, "form": form, "subscriptions": project.webhooks.all(),
        "private_targets_allowed": settings.WEBHOOK_ALLOW_PRIVATE,
    })


@login_required
def webhook_detail(request, pk):
    subscription = _subscription(request, pk)
    return render(request, "webhooks/webhook_detail.html", {
        "subscription": subscription, "project": subscription.project,
        "deliveries": subscription.deliveries.all()[:50],
    })


@login_required
@require_POST
def webhook_action(request, pk, action):
    subscription = _subscription(request, pk)
    if action == "pause":
        subscription_update(subscription=subscription, actor=request.user, active=False)
        messages.info(request, "Paused: nothing is sent until you resume it.")
    elif action == "resume":
        subscription_update(subscription=subscription, actor=request.user, active=True)
        messages.success(request, "Resumed: delivery continues from the row it stopped at.")
    elif action == "redeliver":
        subscription_redeliver(subscription=subscription, actor=request.user)
        messages.success(request, "Delivery queued from where it stands.")
    elif action == "delete":
        project = subscription.project
        subscription_delete(subscription=subscription, actor=request.user)
        messages.info(request, "Webhook deleted.")
        return redirect(reverse("project_webhooks", args=[project.pk]))
    else:
        raise Http404("No such action.")
    return redirect(reverse("webhook_detail", args=[subscription.pk]))
