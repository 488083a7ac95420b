"""The app's settings, each with its default (docs/notifications.md, "Settings")."""

from django.conf import settings


def lease_seconds() -> float:
    """How long a builder or mail run holds its lease between two renewals (a dead run's lease runs out)."""
    return max(float(getattr(settings, "NOTIFICATIONS_LEASE_SECONDS", 60)), 1.0)


def email_retry_delays() -> list[float]:
    """Seconds before each retry of a failed mail; after the last one the mail is given up (the
    notification stays on the site)."""
    return [float(delay) for delay in getattr(settings, "NOTIFICATIONS_EMAIL_RETRY_DELAYS",
                                              [30, 120, 600, 1800, 7200, 21600])]


def digest_hour() -> int:
    """The hour of the day (TIME_ZONE) from which each person's daily digest is due."""
    return int(getattr(settings, "NOTIFICATIONS_DIGEST_HOUR", 8))


def site_url() -> str:
    """The address links in mail point at: NOTIFICATIONS_SITE_URL, else the first CSRF_TRUSTED_ORIGINS
    entry (the site's public origin), else the development server's."""
    site = getattr(settings, "NOTIFICATIONS_SITE_URL", "") or next(iter(getattr(settings, "CSRF_TRUSTED_ORIGINS", []) or []), "")
    return (site or "http://127.0.0.1:8000").rstrip("/")
