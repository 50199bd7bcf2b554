from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "pagemig_site.sharing"
    label = "sharing"
