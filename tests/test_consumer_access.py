"""Who may open a run's socket: checked on connect and again on every subscribe."""

import json

import pytest
from channels.testing import WebsocketCommunicator

from pagemig_site.asgi import application
from pagemig_site.sharing.models import ShareLink
from tests.helpers import acookie, amake_run, ws_headers

pytestmark = pytest.mark.django_db(transaction=True)


async def connect(path, headers):
    comm = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await comm.connect(timeout=5)
    return comm, connected, code


async def test_owner_connects_and_is_told_it_may_control(teacher):
    run = await amake_run(teacher)
    cookie = await acookie(teacher)
    comm, ok, _ = await connect(f"/ws/runs/{run.code}/", ws_headers(cookie))
    assert ok
    hello = json.loads(await comm.receive_from())
    assert hello["type"] == "hello" and hello["can_control"] is True
    await comm.disconnect()


async def test_a_foreign_run_is_refused(teacher, student):
    run = await amake_run(teacher)
    cookie = await acookie(student)
    comm, ok, code = await connect(f"/ws/runs/{run.code}/", ws_headers(cookie))
    assert not ok and code == 4403


async def test_an_anonymous_visitor_is_refused_a_private_run(teacher):
    run = await amake_run(teacher)
    _, ok, _ = await connect(f"/ws/runs/{run.code}/", ws_headers())
    assert not ok


async def test_anyone_may_watch_a_public_example_read_only(teacher):
    run = await amake_run(None, is_example=True, title="Example")
    comm, ok, _ = await connect(f"/ws/runs/{run.code}/", ws_headers())
    assert ok
    assert json.loads(await comm.receive_from())["can_control"] is False
    await comm.send_to(text_data=json.dumps({"op": "pause"}))
    err = json.loads(await comm.receive_from())
    assert err["type"] == "error" and err["field"] == "op" and "read-only" in err["message"]
    await comm.disconnect()


async def test_a_missing_origin_is_refused(teacher):
    run = await amake_run(teacher)
    cookie = await acookie(teacher)
    _, ok, _ = await connect(f"/ws/runs/{run.code}/", ws_headers(cookie, origin=False))
    assert not ok


async def test_a_foreign_origin_is_refused(teacher):
    run = await amake_run(teacher)
    cookie = await acookie(teacher)
    headers = [(b"origin", b"http://evil.example"), cookie]
    _, ok, _ = await connect(f"/ws/runs/{run.code}/", headers)
    assert not ok


async def test_a_malformed_run_id_is_refused(teacher):
    cookie = await acookie(teacher)
    _, ok, _ = await connect("/ws/runs/not-a-uuid/", ws_headers(cookie))
    assert not ok


async def test_a_share_link_opens_the_run_read_only(teacher):
    run = await amake_run(teacher)
    link = await ShareLink.objects.acreate(
        run=run, created_by=teacher, engine_version="test", scenario={}, seed=1, profile="v6.18"
    )
    comm, ok, _ = await connect(f"/ws/share/{link.token}/", ws_headers())
    assert ok
    assert json.loads(await comm.receive_from())["can_control"] is False
    await comm.disconnect()


async def test_a_bad_share_token_is_refused(teacher):
    _, ok, code = await connect("/ws/share/" + "x" * 43 + "/", ws_headers())
    assert not ok and code == 4403


async def test_a_revoked_share_link_is_refused_on_the_next_subscribe(teacher):
    run = await amake_run(teacher)
    link = await ShareLink.objects.acreate(
        run=run, created_by=teacher, engine_version="test", scenario={}, seed=1, profile="v6.18"
    )
    comm, ok, _ = await connect(f"/ws/share/{link.token}/", ws_headers())
    assert ok
    await comm.receive_from()
    from asgiref.sync import sync_to_async

    await sync_to_async(link.revoke)()
    await comm.send_to(text_data=json.dumps({"op": "subscribe"}))
    err = json.loads(await comm.receive_from())
    assert err["type"] == "error" and err["op"] == "subscribe"
    assert (await comm.receive_output())["type"] == "websocket.close"


async def test_sockets_per_user_are_capped(teacher, settings):
    settings.SOCKETS_PER_USER = 2
    run = await amake_run(teacher)
    cookie = await acookie(teacher)
    open_ = []
    for _ in range(2):
        comm, ok, _ = await connect(f"/ws/runs/{run.code}/", ws_headers(cookie))
        assert ok
        open_.append(comm)
    _, ok, code = await connect(f"/ws/runs/{run.code}/", ws_headers(cookie))
    assert not ok and code == 4429
    await open_[0].disconnect()
    comm, ok, _ = await connect(f"/ws/runs/{run.code}/", ws_headers(cookie))
    assert ok
    for c in [comm, *open_[1:]]:
        await c.disconnect()
