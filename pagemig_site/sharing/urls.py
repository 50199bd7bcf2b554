from django.urls import path

from . import views

app_name = "sharing"

urlpatterns = [
    path("<str:token>/", views.view, name="view"),
    path("<str:token>/copy", views.copy, name="copy"),
]
