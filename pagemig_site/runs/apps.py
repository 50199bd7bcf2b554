from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "pagemig_site.runs"
    label = "runs"
