"""With Redis as the cache, the login throttle is shared by every worker process."""

import socket

import pytest
from django.core.cache import caches
from django.test import override_settings
from django.urls import reverse
from accounts.throttles import LoginThrottle

REDIS = "redis://127.0.0.1:6379/15"


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


@override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS}})
def test_eleventh_login_in_a_minute_is_429_with_retry_after(api_client, member, monkeypatch):
    # Rates are bound on the class at import (DRF #6030): patch the class, not the settings.
    monkeypatch.setattr(LoginThrottle, "THROTTLE_RATES", {**LoginThrottle.THROTTLE_RATES, "login": "10/min"})
    caches["default"].clear()
    statuses = [
        api_client.post(reverse("api:auth-login"), {"email": member.email, "password": "wrong"}, format="json").status_code
        for _ in range(11)
    ]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429
    last = api_client.post(reverse("api:auth-login"), {"email": member.email, "password": "wrong"}, format="json")
    assert int(last["Retry-After"]) > 0
    # The history lives in Redis, where every gunicorn worker reads it.
    import redis

    keys = redis.Redis.from_url(REDIS).keys("*throttle_login*")
    assert keys
    caches["default"].clear()
