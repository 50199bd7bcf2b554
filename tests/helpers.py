"""Helpers shared by the tests (fixtures live in conftest.py)."""

# AllowedHostsOriginValidator reads ALLOWED_HOSTS when asgi.py is imported, before the
# test environment adds "testserver"; localhost is in the default list.
ORIGIN = (b"origin", b"http://localhost")


def session_cookie(client, user):
    """A Cookie header that authenticates a WebsocketCommunicator as `user`."""
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


def ws_headers(cookie=None, origin=True):
    headers = []
    if origin:
        headers.append(ORIGIN)
    if cookie:
        headers.append(cookie)
    return headers


def make_run(owner, **kw):
    """A run row for access tests (no simulation behind it)."""
    from pagemig_site.runs.models import Run

    kw.setdefault("status", "succeeded")
    kw.setdefault("scenario", {})
    kw.setdefault("engine_version", "test")
    return Run.objects.create(owner=owner, **kw)


async def acookie(user):
    from asgiref.sync import sync_to_async
    from django.test import Client

    return await sync_to_async(session_cookie)(Client(), user)


async def amake_run(owner, **kw):
    from asgiref.sync import sync_to_async

    return await sync_to_async(make_run)(owner, **kw)
