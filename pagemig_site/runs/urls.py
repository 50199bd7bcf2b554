from django.urls import path

from . import views

app_name = "runs"

urlpatterns = [
    path("", views.index, name="index"),
    path("runs/<str:code>/", views.detail, name="detail"),
]
