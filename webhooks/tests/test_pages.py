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


def test_under_debug_a_local_receiver_is_allowed_and_the_page_says_so(client, project, owner, settings):
    import subprocess
    import sys

    def default_under(debug: str) -> str:
        script = "import django; django.setup(); from django.conf import settings; print(settings.WEBHOOK_ALLOW_PRIVATE)"
        env = {"DJANGO_SETTINGS_MODULE": "commandcentral.settings", "DEBUG": debug, "SECRET_KEY": "x" * 50,
               "PATH": "/usr/bin:/bin"}
        return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                              check=True).stdout.strip()

    assert (default_under("1"), default_under("0")) == ("True", "False")

    client.force_login(owner)
    url = reverse("project_webhooks", args=[project.pk])
    settings.WEBHOOK_ALLOW_PRIVATE = False
    assert 'id="private-targets"' not in client.get(url).content.decode()
    refused = client.post(url, {"url": "http://127.0.0.1:9000/hooks"})
    assert refused.status_code == 200 and not WebhookSubscription.objects.exists()

    settings.WEBHOOK_ALLOW_PRIVATE = True
    assert 'id="private-targets"' in client.get(url).content.decode()
    client.post(url, {"url": "http://127.0.0.1:9000/hooks"})
    assert WebhookSubscription.objects.get().url == "http://127.0.0.1:9000/hooks"
    assert AuditEntry.objects.filter(event_name="webhook.created", project=project).count() == 1
