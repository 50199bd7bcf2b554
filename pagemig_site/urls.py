from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    # Browsers ask for /favicon.ico whatever the page links; a 404 there is a console error.
    path("favicon.ico", RedirectView.as_view(url=static("img/favicon.svg"), permanent=True)),
    path("accounts/", include("pagemig_site.accounts.urls")),
    path("api/v1/", include("pagemig_site.runs.api_urls")),
    path("s/", include("pagemig_site.sharing.urls")),
    path("", include("pagemig_site.runs.urls")),
]
