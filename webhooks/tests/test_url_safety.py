"""Webhook URLs that lead to a private address, however it is written, or to a port other than the
allowed ones are refused when subscribing (400, nothing stored, no audit row). The same check runs
before every delivery attempt (test_delivery.py)."""

import json

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEntry
from webhooks.models import WebhookSubscription


def subscribe(owner, project, url):
    client = APIClient()
    client.force_authenticate(owner)
    return client.post(f"/api/v1/projects/{project.pk}/webhooks/", {"url": url}, format="json")


@pytest.mark.parametrize("url", [
    "http://[::127.0.0.1]/",  # IPv4-compatible
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "http://[::ffff:a9fe:a9fe]/latest/meta-data/",  # IPv4-mapped, written in hex
    "http://[64:ff9b::7f00:1]/",  # NAT64, well-known prefix
    "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
    "http://[64:ff9b:1::a00:1]/",  # NAT64, local-use prefix
    "http://[2002:7f00:1::]/",  # 6to4
    "http://[2002:c0a8:101::1]:443/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
    "http://[fec0::1]/",  # site-local
    "http://[::]/",
])
def test_ipv6_forms_of_private_addresses_are_refused(project, owner, url):
    response = subscribe(owner, project, url)

    assert response.status_code == 400, response.content
    assert "private, loopback or link-local" in response.json()["errors"]["url"][0]
    assert not WebhookSubscription.objects.exists()
    assert not AuditEntry.objects.filter(entity_type="webhook").exists()


@pytest.mark.parametrize("url", [
    "http://[64:ff9b::808:808]/hooks",  # NAT64 of a public address (an IPv6-only network's DNS64 answer)
    "http://[2002:808:808::1]/hooks",  # 6to4 of a public address
    "https://8.8.8.8/hooks",
    "http://8.8.8.8:443/hooks",
])
def test_public_addresses_in_any_form_on_allowed_ports_are_accepted(project, owner, url):
    response = subscribe(owner, project, url)

    assert response.status_code == 201, response.content
    assert WebhookSubscription.objects.get().url == url
    assert AuditEntry.objects.get(event_name="webhook.created").actor == owner


@pytest.mark.parametrize("url,message", [
    ("http://8.8.8.8:25/hooks", "Port 25 cannot receive webhooks (allowed: 80, 443"),
    ("https://[2606:4700::1111]:6379/", "Port 6379 cannot receive webhooks"),
    ("http://8.8.8.8:99999/", "port must be a number from 1 to 65535"),
])
def test_other_ports_are_refused(project, owner, url, message):
    response = subscribe(owner, project, url)

    assert response.status_code == 400, response.content
    assert message in json.dumps(response.json())
    assert not WebhookSubscription.objects.exists()
    assert not AuditEntry.objects.filter(entity_type="webhook").exists()


def test_the_allowed_ports_are_a_setting(project, owner, settings):
    settings.WEBHOOK_ALLOWED_PORTS = [8443]

    assert subscribe(owner, project, "https://8.8.8.8:8443/hooks").status_code == 201
    refused = subscribe(owner, project, "http://8.8.8.8/hooks")  # port 80, no longer allowed
    assert refused.status_code == 400 and "allowed: 8443" in refused.json()["errors"]["url"][0]
    assert WebhookSubscription.objects.count() == 1


def test_allow_private_lifts_the_port_check_for_local_receivers(project, owner, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True

    assert subscribe(owner, project, "http://127.0.0.1:8025/hooks").status_code == 201
    assert subscribe(owner, project, "http://127.0.0.1:99999/").status_code == 400  # still a port, though
