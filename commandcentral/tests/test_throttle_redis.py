"""With Redis as the cache, the login throttle is shared by every worker process."""

import os
import socket

import pytest
import redis
from django.core.cache import caches
from django.test import override_settings
from django.urls import reverse
from accounts.throttles import LoginThrottle

REDIS = "redis://127.0.0.1:6379/15"
# Runs side by side (another `make test` in this checkout, parallel workers) share this Redis database: the
# test keeps to keys of its own process and deletes only those, never the whole database.
KEY_PREFIX = f"commandcentral-test-{os.getpid()}"
REDIS_CACHE = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS, "KEY_PREFIX": KEY_PREFIX}
}


def _forget_own_keys():
    client = redis.Redis.from_url(REDIS)
    for key in client.scan_iter(f"{KEY_PREFIX}:*"):
        client.delete(key)


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not _redis_up(), reason="needs Redis on 127.0.0.1:6379"),
]


@override_settings(CACHES=REDIS_CACHE)
def test_eleventh_login_in_a_minute_is_429_with_retry_after(api_client, member, monkeypatch):
    # Rates are bound on the class at import (DRF #6030): patch the class, not the settings.
    monkeypatch.setattr(LoginThrottle, "THROTTLE_RATES", {**LoginThrottle.THROTTLE_RATES, "login": "10/min"})
    _forget_own_keys()
    assert caches["default"].key_prefix == KEY_PREFIX
    statuses = [
        api_client.post(reverse("api:auth-login"), {"email": member.email, "password": "wrong"}, format="json").status_code
        for _ in range(11)
    ]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429
    last = api_client.post(reverse("api:auth-login"), {"email": member.email, "password": "wrong"}, format="json")
    assert int(last["Retry-After"]) > 0
    # The history lives in Redis, where every gunicorn worker reads it.
    keys = redis.Redis.from_url(REDIS).keys(f"{KEY_PREFIX}:*throttle_login*")
    assert keys
    _forget_own_keys()
