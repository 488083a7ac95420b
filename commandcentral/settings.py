"""CommandCentral settings. Every value comes from the environment (or `.env`), with safe local defaults."""

from datetime import timedelta
from pathlib import Path

import os
import sys

import environ

from core import durability  # plain functions and names: importing it loads no model

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# ENV_FILE points elsewhere (or at /dev/null, as the deploy-check test does); real env vars always win.
environ.Env.read_env(env.str("ENV_FILE", default=str(BASE_DIR / ".env")), overwrite=False)

VERSION = "0.1.0"
SERVICE_NAME = "commandcentral"

DEBUG = env.bool("DEBUG", default=False)
_DEV_SECRET_KEY = "django-insecure-dev-only-commandcentral-key-never-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY or SECRET_KEY == _DEV_SECRET_KEY:
    if not DEBUG:
        # One line on stderr, not a traceback: this is an operator's configuration mistake.
        sys.exit("CommandCentral refuses to start: set SECRET_KEY to a secret value (or DEBUG=1 for local use).")
    SECRET_KEY = _DEV_SECRET_KEY
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Addresses of reverse proxies whose X-Forwarded-For we believe (core.request_context.client_ip).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

INSTALLED_APPS = [
    "commandcentral.apps.CommandCentralConfig",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "rest_framework_api_key",  # its abstract key model; our keys are accounts.ServiceKey
    "corsheaders",
    "django_tasks",
    "django_tasks_db",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_structlog",
    "django_prometheus",
    "csp",  # its system checks catch a django-csp 3 style CSP_* setting, which 4.x would silently ignore
    "django_fsm",
    "auditlog",
    "accounts",
    "states",
    "projects",
    "decisions",
    "audit",
    "webhooks",
    "discussions",
    "notifications",
    "search",
    "live",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # early: every response, errors included, carries the policy
    "corsheaders.middleware.CorsMiddleware",  # before CommonMiddleware: preflights answered, redirects too
    "core.request_context.RequestContextMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "commandcentral.api.slashes.APITrailingSlashMiddleware",  # before CommonMiddleware's APPEND_SLASH redirect
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.request_context.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "commandcentral.null_characters.NullCharacterMiddleware",  # a NUL in the path or query string: 404/400
    "commandcentral.database_outage.DatabaseUnavailableMiddleware",  # 503 + Retry-After, not 500
    "django_structlog.middlewares.RequestMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "commandcentral.urls"
WSGI_APPLICATION = "commandcentral.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.web.undo.undo_offer",
                "commandcentral.context_processors.live",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# When a commit reaches the disk (core/durability.py). "sealed": a request's commit survives a crash of
# the process at once and a power loss once the ledger seals it (within AUDIT_SEAL_MIN_INTERVAL: the
# sequencer's commits wait for the disk, and so flush every commit before them). "every": each commit waits.
DATABASE_DURABILITY = env.str("DATABASE_DURABILITY", default=durability.SEALED)
if DATABASE_DURABILITY not in durability.CHOICES:
    sys.exit(f"CommandCentral refuses to start: DATABASE_DURABILITY is {' or '.join(map(repr, durability.CHOICES))}, "
             f"not {DATABASE_DURABILITY!r}.")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE: a writer waits for the lock instead of failing at once with "database is locked"
    # (a DEFERRED transaction that reads, then writes, cannot wait for the lock upgrade: SQLite refuses
    # it regardless of the timeout).
    # temp_store=MEMORY: the journal of a savepoint (every create runs its INSERT in one) stays in memory;
    # on the default, past 64 KiB it went to a new temp file per request (open, unlink, ~20 writes).
    # wal_autocheckpoint: the WAL is copied into the database every this many pages (SQLite's default is
    # 1,000, every ~35 creates); a hot page is copied once per checkpoint however often it changed, so
    # fewer, larger checkpoints copy less per write (bench/README.md, "Sixth round").
    synchronous = durability.sqlite_synchronous(DATABASE_DURABILITY, env.str("SQLITE_SYNCHRONOUS", default=""))
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env.int("SQLITE_TIMEOUT", default=20),
        "init_command": (f"PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous}; PRAGMA temp_store=MEMORY; "
                         f"PRAGMA wal_autocheckpoint={env.int('SQLITE_WAL_AUTOCHECKPOINT', default=10000)};"),
    }
    # A file, not shared-cache memory: the in-memory test database ignores the busy timeout. One per test
    # process (its id in the name), so two runs in one checkout never share, or delete, each other's.
    DATABASES["default"]["TEST"] = {
        "NAME": str(BASE_DIR / env.str("TEST_DB_NAME", default=f"test-db-{os.getpid()}.sqlite3"))
    }
else:
    # A server that stops answering must fail /ready and requests quickly, not at gunicorn's timeout.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=5))
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        options = DATABASES["default"]["OPTIONS"]
        options["options"] = durability.postgresql_options(DATABASE_DURABILITY, options.get("options", ""))
# The same backends with django-prometheus' query counts, latencies and errors on /metrics
# (commandcentral.db_backends: its metrics, with the cursor class and the metric children built once).
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["ENGINE"] = "commandcentral.db_backends.sqlite3"
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "commandcentral.db_backends.postgresql"
# Persistent connections: a new one per request (SQLite: open + pragmas; PostgreSQL: TCP + auth) cost
# more than most of the queries it served (bench/README.md). The health check is a no-op on SQLite and
# one round trip on PostgreSQL per request; it replaces a connection the server dropped.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
# ATOMIC_REQUESTS stays off: a refused attempt's audit row must survive the error response.
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------
_REDIS_URL = env.str("REDIS_URL", default="") or env.str("CACHE_URL", default="")
if _REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {
        "default": {
            # While Redis is unreachable, calls are answered from process memory (per-worker throttles),
            # and /ready says "degraded". Then Redis is left alone for RETRY_SECONDS between two tries.
            "BACKEND": "commandcentral.cache.FallbackRedisCache",
            "LOCATION": _REDIS_URL,
            "RETRY_SECONDS": env.float("REDIS_RETRY_SECONDS", default=5),
            # Fail fast when Redis hangs: then one call per RETRY_SECONDS waits these 2 s, not every call.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "commandcentral.metrics.InstrumentedLocMemCache", "LOCATION": "commandcentral"}}

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Who may create an account: "open" (anyone, through auth/register/) or "invite" (only an address that
# holds a pending project invitation; accounts.invitations). Development is open, production by invitation.
SIGNUP = env.str("SIGNUP", default="open" if DEBUG else "invite")
if SIGNUP not in ("open", "invite"):
    sys.exit(f"CommandCentral refuses to start: SIGNUP is 'open' or 'invite', not {SIGNUP!r}.")
INVITATION_DAYS = 7

# Mail (invitations, password resets) is sent by the task worker, never inside a request (accounts.mail).
# EMAIL_URL: consolemail:// (printed), smtp+tls://user:password@host:587, filemail:///path (one file per
# message); django-environ turns it into EMAIL_BACKEND, EMAIL_HOST, EMAIL_FILE_PATH...
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
if vars().get("EMAIL_FILE_PATH") and not EMAIL_FILE_PATH.startswith("/"):  # noqa: F821 - set just above
    # django-environ drops the path's leading slash: filemail:///var/mail/cc is /var/mail/cc.
    EMAIL_FILE_PATH = "/" + EMAIL_FILE_PATH  # noqa: F821
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="CommandCentral <commandcentral@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 3600)

# --- Audit (django-auditlog) -----------------------------------------------------------------
AUDITLOG_LOGENTRY_MODEL = "audit.AuditEntry"
# Our middleware validates or generates the correlation id; auditlog reads it from here.
AUDITLOG_CID_GETTER = "core.request_context.get_correlation_id"
# Soft-deleted rows must be diffed against their real previous state: auditlog reads the old row with
# the default manager, which hides them, so a restore would look like a create.
AUDITLOG_USE_BASE_MANAGER = True
AUDITLOG_STORE_JSON_CHANGES = True
# auditlog 3.4.1 still creates its own unused `auditlog_logentry` table even with a custom entry
# model, which breaks PostgreSQL flush (auditlog #804). Skip its migrations entirely.
MIGRATION_MODULES = {"auditlog": None}
# The ledger (docs/audit.md, "The audit ledger"). The Ed25519 signing key of the checkpoints, in the
# signed-note private form `manage.py audit_keygen` prints, or a file holding it. Neither set: a
# development key derived from SECRET_KEY (check audit.W001 warns under --deploy).
AUDIT_SIGNING_KEY = env.str("AUDIT_SIGNING_KEY", default="")
AUDIT_SIGNING_KEY_FILE = env.str("AUDIT_SIGNING_KEY_FILE", default="")
# Name of a key audit_keygen makes (and of the development key): the checkpoints' origin line.
AUDIT_LEDGER_ORIGIN = env.str("AUDIT_LEDGER_ORIGIN", default="commandcentral/audit")
# The signer's own record of the last tree it signed, outside the database, next to its key: a file
# path (written atomically and fsynced). Empty: `<AUDIT_SIGNING_KEY_FILE>.state`, or
# `audit-signer.state` in the project folder (check audit.W003 warns under --deploy).
AUDIT_SIGNER_STATE = env.str("AUDIT_SIGNER_STATE", default="")
# Seconds between checkpoints: the maintenance task seals what is left, signs a checkpoint when the
# tree has grown and submits it to the witnesses this often. A proof of a newer row is a 409 with
# Retry-After until then.
AUDIT_CHECKPOINT_INTERVAL = env.float("AUDIT_CHECKPOINT_INTERVAL", default=5.0)
# Seal right after each audited transaction commits (group sealing). Off: only the sweep seals
# (the maintenance task, or `manage.py audit_seal --loop 2`).
AUDIT_SEAL_ON_COMMIT = env.bool("AUDIT_SEAL_ON_COMMIT", default=True)
# Seconds between two after-commit seals of one process (0: after every commit). Rows a commit
# leaves for later are sealed by this process's one deferred seal when the interval is up; one seal
# then covers many requests' rows (bench/README.md, "Ledger"). Half a second, not one: the live event
# stream sends a row once it is sealed, and its target is a second from commit to receipt
# (bench/README.md, "Live event stream").
AUDIT_SEAL_MIN_INTERVAL = env.float("AUDIT_SEAL_MIN_INTERVAL", default=0.5)
# Seconds an unsealed row may wait before /ready answers 503.
AUDIT_SEAL_LAG_BOUND = env.int("AUDIT_SEAL_LAG_BOUND", default=60)
# Witnesses of this log: "<add-checkpoint URL> <cosigner verifier key>", one per line or ';'-separated.
AUDIT_WITNESSES = env.str("AUDIT_WITNESSES", default="")
# As a witness of other logs: their verifier keys (one per line or ';'-separated), and this witness's
# cosigner key (`manage.py audit_keygen --witness`) and name. No key: one derived from SECRET_KEY.
AUDIT_WITNESS_LOGS = env.str("AUDIT_WITNESS_LOGS", default="")
AUDIT_WITNESS_KEY = env.str("AUDIT_WITNESS_KEY", default="")
AUDIT_WITNESS_KEY_FILE = env.str("AUDIT_WITNESS_KEY_FILE", default="")
AUDIT_WITNESS_NAME = env.str("AUDIT_WITNESS_NAME", default="commandcentral/witness")

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    # JWT first: its WWW-Authenticate header turns missing credentials into 401, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.JWTAuthentication",
        "accounts.authentication.APIKeyAuthentication",  # services: Authorization: Api-Key <key>
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON in; the browsable API's "Raw data" form sends JSON too. Form encodings cannot carry
    # the typed JSON fields (options, settings, metadata) faithfully.
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.JSONParser"],  # + depth and surrogate checks
    "DEFAULT_PAGINATION_CLASS": "core.api.support.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "core.api.support.FilterBackend",  # DjangoFilterBackend, skipped when no filter is named
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.support.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "accounts.throttles.AnonRateThrottle",  # keyed on request.client_ip (TRUSTED_PROXIES), not DRF's NUM_PROXIES
        "accounts.throttles.UserRateThrottle",
        "accounts.throttles.ServiceKeyRateThrottle",  # per API key, instead of the user rate
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="120/min"),
        "user": env.str("THROTTLE_USER", default="1200/min"),
        "login": env.str("THROTTLE_LOGIN", default="10/min"),
        # Invitations sent, and tries at an invitation's page, per client address: like logins unless set.
        "invitation": env.str("THROTTLE_INVITATION", default=env.str("THROTTLE_LOGIN", default="10/min")),
        "service": env.str("THROTTLE_SERVICE", default="1200/min"),
        "comment": env.str("THROTTLE_COMMENT", default="30/min"),  # new comments per person (discussions.throttles)
        # Failed API authentications (bad, expired or revoked tokens, wrong keys) per client address,
        # counted by the authenticators themselves (accounts.throttles.FailedAuthThrottle). Room for a
        # client whose token expired with a few requests in flight; a guesser gets 30 tries a minute.
        "auth_failed": env.str("THROTTLE_AUTH_FAILED", default="30/min"),
    },
    # No NUM_PROXIES: throttles key on request.client_ip, which believes X-Forwarded-For only from a
    # proxy in TRUSTED_PROXIES (accounts/throttles.py); DRF's NUM_PROXIES believed it from anyone.
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    # A key of its own (>= 32 bytes): rotating SECRET_KEY must not silently change token validity.
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default="") or (SECRET_KEY + "-jwt-signing-key-derivation"),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "UPDATE_LAST_LOGIN": False,
}

from commandcentral.api.docs import DESCRIPTION as API_DESCRIPTION  # noqa: E402 - plain text, no Django

SPECTACULAR_SETTINGS = {
    "TITLE": "CommandCentral API",
    "DESCRIPTION": API_DESCRIPTION,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "commandcentral.api.docs.add_summaries"],
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # The schema and docs are public; every operation in them still needs credentials.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Named choice sets: several fields are called `state` or `role`, with different choices.
    "ENUM_NAME_OVERRIDES": {
        "ProjectStateEnum": "projects.models.ProjectState",
        "DecisionStateEnum": "decisions.models.DecisionState",
        "InvitationStateEnum": "accounts.models.InvitationState",
        "MembershipRoleEnum": "projects.models.MembershipRole",
        "TeamRoleEnum": ["owner", "member", "viewer"],
    },
}

# --- I18N / static --------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Bodies above this are refused with 400 before a view sees them.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)

# --- Security (production when DEBUG is off) -------------------------------------------------
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if TRUSTED_PROXIES:
    # Only a proxy we trust may tell us the original scheme.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# /health must answer plain HTTP probes from the load balancer.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^metrics$"]

# --- Tasks (django-tasks, database backend) and webhooks ------------------------------------------
# Webhook deliveries and their retries run as tasks stored in the database (SQLite or PostgreSQL: no
# extra server); `manage.py db_worker --queue-name '*'` runs them (`make run` starts one). Several workers on
# several machines share a PostgreSQL database safely (SELECT … FOR UPDATE SKIP LOCKED).
TASKS = {
    "default": {
        "BACKEND": env.str("TASKS_BACKEND", default="django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default", "webhooks", "maintenance"],
    }
}
# Deliveries to private, loopback and link-local addresses (also inside an IPv6 address: IPv4-mapped,
# NAT64, 6to4...) are refused unless this is on (local receivers). On, it also lifts the port check below:
# a local receiver listens on whatever port it was given. On by default under DEBUG, so a developer can
# try a receiver on 127.0.0.1 (the webhooks page says when it is on).
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=DEBUG)
# The only ports a webhook URL may name (a URL without one uses 80 or 443): a user-given URL must not
# reach whatever else listens on a host (mail, databases, admin consoles), reachable or not from outside.
WEBHOOK_ALLOWED_PORTS = [int(port) for port in env.list("WEBHOOK_ALLOWED_PORTS", default=["80", "443"])]
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=3)
WEBHOOK_READ_TIMEOUT = env.float("WEBHOOK_READ_TIMEOUT", default=10)
# Seconds before each retry of a failed delivery (±20 % jitter); after the last, the subscription pauses.
# The default spans about a day: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (Standard Webhooks' schedule).
WEBHOOK_RETRY_DELAYS = [float(delay) for delay in env.list(
    "WEBHOOK_RETRY_DELAYS", default=["5", "300", "1800", "7200", "18000", "36000", "36000"])]
WEBHOOK_DELIVERY_RETENTION_DAYS = env.int("WEBHOOK_DELIVERY_RETENTION_DAYS", default=30)
# Seconds a delivery run's hold on its subscription lasts without a heartbeat (a live run renews it every
# third of this): a worker killed mid-delivery holds its subscription up to this long, then another takes
# over. At least 1 s, so the heartbeat never spins.
WEBHOOK_LEASE_SECONDS = max(env.float("WEBHOOK_LEASE_SECONDS", default=60), 1.0)

# --- CORS (django-cors-headers) --------------------------------------------------------------
from corsheaders.defaults import default_headers as cors_default_headers  # noqa: E402

# Browser apps on these origins may call the API (e.g. https://app.example.com); none by default.
# Only the API: pages, admin and docs stay same-origin. Credentials (cookies) only for listed origins,
# which is all django-cors-headers ever answers for.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = True
CORS_EXPOSE_HEADERS = ["Retry-After", "X-Correlation-ID", "Location"]
CORS_ALLOW_HEADERS = (*cors_default_headers, "x-correlation-id")

# --- Content-Security-Policy (django-csp) ----------------------------------------------------
from csp.constants import NONE, SELF  # noqa: E402

# One policy for every response: pages, admin, browsable API and the API docs (docs/configuration.md, "Content-Security-
# Policy"). Nothing inline runs and no inline <style> or style="" applies: every script and stylesheet is
# a file under /static/ (Swagger UI's init script is a URL of its own), so no nonce is needed. The API
# docs widen it on their own pages only, for data: icons and ReDoc's styles and worker (api/urls.py,
# DOCS_CSP). commandcentral/tests/test_csp.py and test_browser.py pin the policy.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],  # spelled out although default-src says it: the docs' csp_update adds to it
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],  # as X_FRAME_OPTIONS = "DENY", for browsers that only read CSP
    },
}

# --- Live event stream, notifications, search ---------------------------------------------------
# Where pages open the event stream: a path on this site (a proxy sends it to the ASGI server), or an
# absolute URL when another process serves it on another origin (`make run`: uvicorn on the next port).
# Pages may then connect to that origin (connect-src below), and the stream's process must list this
# site's origin in CORS_ALLOWED_ORIGINS (the session cookie goes with the request).
LIVE_STREAM_URL = env.str("LIVE_STREAM_URL", default="/api/v1/events/stream/")
if LIVE_STREAM_URL.startswith(("http://", "https://")):
    from urllib.parse import urlsplit  # noqa: E402

    _stream = urlsplit(LIVE_STREAM_URL)
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["connect-src"] = [SELF, f"{_stream.scheme}://{_stream.netloc}"]
# The stream itself (live/, docs/operations.md "The live event stream"): how often the process's one
# watcher looks for new leaves (seconds), the comment line that keeps idle connections open through
# proxies (seconds), the reconnection delay the stream asks clients for (milliseconds), how many recent
# events each process keeps for streams that fall behind (older ones are read from the database), and
# how often unread-notification counts are compared for the people with an open stream (seconds).
LIVE_STREAM_POLL_INTERVAL = env.float("LIVE_STREAM_POLL_INTERVAL", default=0.2)
LIVE_STREAM_HEARTBEAT = env.float("LIVE_STREAM_HEARTBEAT", default=15)
LIVE_STREAM_RETRY_MS = env.int("LIVE_STREAM_RETRY_MS", default=2000)
LIVE_STREAM_BUFFER = env.int("LIVE_STREAM_BUFFER", default=2000)
LIVE_STREAM_NOTIFICATION_RECHECK = env.float("LIVE_STREAM_NOTIFICATION_RECHECK", default=2)
# Notifications (docs/notifications.md, "Settings"): the origin links in their mail point at (empty: the
# first CSRF_TRUSTED_ORIGINS entry), the hour (TIME_ZONE) each day's digest is due from, the seconds
# before each retry of a failed mail (then it is given up), and a builder or mail run's lease.
NOTIFICATIONS_SITE_URL = env.str("NOTIFICATIONS_SITE_URL", default="")
NOTIFICATIONS_DIGEST_HOUR = env.int("NOTIFICATIONS_DIGEST_HOUR", default=8)
NOTIFICATIONS_EMAIL_RETRY_DELAYS = [float(delay) for delay in env.list(
    "NOTIFICATIONS_EMAIL_RETRY_DELAYS", default=["30", "120", "600", "1800", "7200", "21600"])]
NOTIFICATIONS_LEASE_SECONDS = max(env.float("NOTIFICATIONS_LEASE_SECONDS", default=60), 1.0)

# --- Logging (django-structlog) --------------------------------------------------------------
import structlog  # noqa: E402

# We bind our own validated client ip and correlation id; never django-ipware's XFF guess.
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="console" if DEBUG else "json")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": structlog.stdlib.ProcessorFormatter,
            "processor": structlog.processors.JSONRenderer(),
        },
        "console": {
            "()": structlog.stdlib.ProcessorFormatter,
            "processor": structlog.dev.ConsoleRenderer(colors=False),
        },
    },
    # On the console (development) one line per request: django-structlog's request_finished; its
    # request_started and runserver's own access line are dropped. JSON logs keep both events.
    "filters": {"one_line_per_request": {"()": "commandcentral.request_logging.OneLinePerRequest"}},
    "handlers": {"default": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT,
                             "filters": ["one_line_per_request"] if LOG_FORMAT == "console" else []}},
    "root": {"handlers": ["default"], "level": LOG_LEVEL},
    "loggers": {
        "django_structlog": {"handlers": ["default"], "level": LOG_LEVEL, "propagate": False},
        "commandcentral": {"handlers": ["default"], "level": LOG_LEVEL, "propagate": False},
        "django.request": {"handlers": ["default"], "level": "ERROR", "propagate": False},
        "django.server": {"handlers": ["default"], "level": "WARNING" if LOG_FORMAT == "console" else "INFO",
                          "propagate": False},
    },
}

structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.filter_by_level,
        structlog.processors.TimeStamper(fmt="iso"),
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        structlog.processors.UnicodeDecoder(),
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    cache_logger_on_first_use=True,
)
