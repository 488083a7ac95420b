"""Settings for the test suite: the real settings with test-friendly env defaults."""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-for-the-commandcentral-suite-0123456789")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SESSION_COOKIE_SECURE", "0")
os.environ.setdefault("CSRF_COOKIE_SECURE", "0")
os.environ.setdefault("THROTTLE_ANON", "100000/min")
os.environ.setdefault("THROTTLE_USER", "100000/min")
os.environ.setdefault("THROTTLE_LOGIN", "100000/min")
os.environ.setdefault("THROTTLE_AUTH_FAILED", "100000/min")
os.environ.setdefault("THROTTLE_COMMENT", "100000/min")
os.environ.setdefault("LOG_FORMAT", "json")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("SIGNUP", "open")  # the tests of invite-only sign-up set it themselves
# live_server and the test client are WSGI, which does not serve the event stream: pages stay static
# (no connection that would fail on every page). commandcentral/tests/test_live_browser.py runs the
# stream's ASGI server and sets it.
os.environ.setdefault("LIVE_STREAM_URL", "")

from .settings import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; never outside tests
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Serve static files from the finders: the suite never runs collectstatic.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

# Seal after every commit, so a test sees its rows sealed as soon as its transaction commits (the
# grouped default is tested on its own, audit/tests/test_ledger_surfaces.py).
AUDIT_SEAL_MIN_INTERVAL = 0
