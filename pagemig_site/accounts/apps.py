from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "pagemig_site.accounts"
    label = "accounts"
