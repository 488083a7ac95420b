"""Project owners manage webhooks on the pages, through the same services."""

from django.urls import reverse

from audit.models import AuditEntry
from webhooks.models import WebhookSubscription


def test_an_owner_creates_pauses_resumes_and_deletes_a_webhook_on_the_pages(client, project, owner, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    client.force_login(owner)
    assert b"Webhooks" in client.get(project.get_absolute_url()).content

    created = client.post(reverse("project_webhooks", args=[project.pk]),
                          {"url": "http://127.0.0.1:9/hooks", "event_types": ["transition_success"],
                           "event_names": "decision.decide, project.kill"}, follow=True)

    subscription = WebhookSubscription.objects.get()
    assert (subscription.event_types, subscription.event_names) == (["transition_success"], ["decision.decide", "project.kill"])
    assert subscription.secret in created.content.decode()  # shown once, on the page it lands on
    assert subscription.secret not in client.get(reverse("webhook_detail", args=[subscription.pk])).content.decode()

    client.post(reverse("webhook_action", args=[subscription.pk, "pause"]))
    subscription.refresh_from_db()
    assert subscription.active is False
    page = client.get(reverse("webhook_detail", args=[subscription.pk])).content.decode()
    assert "Paused." in page and "Resume" in page
    client.post(reverse("webhook_action", args=[subscription.pk, "resume"]))
    assert WebhookSubscription.objects.get().active is True

    client.post(reverse("webhook_action", args=[subscription.pk, "delete"]))
    assert not WebhookSubscription.objects.exists()
    names = list(AuditEntry.objects.filter(actor=owner, event_name__startswith="webhook.").order_by("id").values_list("event_name", flat=True))
    assert names == ["webhook.created", "webhook.updated", "webhook.updated", "webhook.deleted"]


def test_a_refused_url_shows_on_the_form(client, project, owner):
    client.force_login(owner)

    response = client.post(reverse("project_webhooks", args=[project.pk]), {"url": "http://127.0.0.1:9/hooks"})

    assert response.status_code == 200
    assert "private, loopback or link-local" in response.content.decode()
    assert not WebhookSubscription.objects.exists()


def test_members_may_not_manage_webhooks_and_outsiders_do_not_see_them(client, project, member, outsider):
    client.force_login(member)
    assert client.get(reverse("project_webhooks", args=[project.pk])).status_code == 403
    assert AuditEntry.objects.filter(event_name="project.webhook_list", actor=member, success=False).exists()
    client.force_login(outsider)
    assert client.get(reverse("project_webhooks", args=[project.pk])).status_code == 404
