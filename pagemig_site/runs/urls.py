from django.urls import path

from . import dashboard, views

app_name = "runs"

urlpatterns = [
    path("", dashboard.home, name="index"),
    path("new/", dashboard.new_run, name="new"),
    path("compare/", dashboard.compare, name="compare"),
    path("runs/<str:code>/", views.detail, name="detail"),
]
