from django.apps import AppConfig


class CommandCentralConfig(AppConfig):
    """The site package itself, installed only for its start-up wiring (it has no models)."""

    name = "commandcentral"
    verbose_name = "CommandCentral"

    def ready(self) -> None:
        from django.contrib import admin

        from . import request_logging  # noqa: F401  (django-structlog signal receivers)

        admin.site.site_header = "CommandCentral administration"
        admin.site.site_title = "CommandCentral admin"
        admin.site.index_title = "Operators' console"
