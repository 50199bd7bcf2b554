from django.conf import settings


def site(request):
    return {"local_user_enabled": settings.LOCAL_USER_ENABLED}
