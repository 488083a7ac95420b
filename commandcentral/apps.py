from django.apps import AppConfig


class CommandCentralConfig(AppConfig):
    """The site package itself, installed only for its start-up wiring (it has no models)."""

    name = "commandcentral"
    verbose_name = "CommandCentral"

    def ready(self) -> None:
        from . import request_logging  # noqa: F401  (django-structlog signal receivers)
