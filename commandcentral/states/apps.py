from django.apps import AppConfig


class StatesConfig(AppConfig):
    name = "commandcentral.states"
    label = "states"
    verbose_name = "Entity states"
