from django.urls import include, path

urlpatterns = [
    path("accounts/", include("pagemig_site.accounts.urls")),
    path("api/v1/", include("pagemig_site.runs.api_urls")),
    path("s/", include("pagemig_site.sharing.urls")),
    path("", include("pagemig_site.runs.urls")),
]
