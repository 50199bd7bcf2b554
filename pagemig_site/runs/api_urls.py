from django.urls import path

from pagemig_site.sharing import views as sharing_views

from . import api, dashboard

app_name = "api"

urlpatterns = [
    path("openapi.json", api.openapi, name="openapi"),
    path("runs/", api.runs, name="runs"),
    path("scenarios/check", dashboard.check_scenario, name="scenario_check"),
    path("runs/<str:code>/", api.run_detail, name="run"),
    path("runs/<str:code>/cancel", api.cancel, name="cancel"),
    path("runs/<str:code>/pause", api.pause, name="pause"),
    path("runs/<str:code>/resume", api.resume, name="resume"),
    path("runs/<str:code>/metrics", api.metrics, name="metrics"),
    path("runs/<str:code>/metrics.csv", api.metrics_csv, name="metrics_csv"),
    path("runs/<str:code>/scenario", api.scenario, name="scenario"),
    path("runs/<str:code>/events", api.events, name="events"),
    path("runs/<str:code>/reports/<str:name>", api.report, name="report"),
    path("runs/<str:code>/pages/<int:pfn>", dashboard.page_info, name="page_info"),
    path("runs/<str:code>/proc/<str:name>", dashboard.proc, name="proc"),
    path("runs/<str:code>/shares", sharing_views.api_shares, name="shares"),
    path("shares/<str:token>/revoke", sharing_views.api_revoke, name="revoke"),
]
