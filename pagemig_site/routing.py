from django.urls import path

from pagemig_site.runs.consumers import RunConsumer

websocket_urlpatterns = [
    path("ws/runs/<str:code>/", RunConsumer.as_asgi()),
    path("ws/share/<str:token>/", RunConsumer.as_asgi()),
]
