"""Random messages at the socket: each gets a clear error, the socket stays usable."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pagemig_site.asgi import application
from tests.helpers import make_run, session_cookie, ws_headers

pytestmark = pytest.mark.django_db(transaction=True)

OPS = [
    "subscribe",
    "ack",
    "keyframe",
    "pause",
    "resume",
    "step",
    "cancel",
    "inject",
    "speed",
    "tile",
    "seek",
    "ping",
    "nonsense",
    "",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
op_messages = st.fixed_dictionaries(
    {"op": st.sampled_from(OPS) | st.integers() | st.none()},
    optional={
        "seq": json_values,
        "from_seq": json_values,
        "pfn": json_values,
        "count": json_values,
        "fps": json_values,
        "ticks_per_frame": json_values,
        "driver": json_values,
        "params": json_values
        | st.dictionaries(
            st.sampled_from(["probability", "errno", "interval", "times", "bogus"]), json_values
        ),
    },
).map(json.dumps)
messages = st.one_of(
    op_messages,
    json_values.map(json.dumps),
    st.text(min_size=1, max_size=200),
    st.binary(min_size=1, max_size=100),
    st.just("x" * 10_000),
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(messages, min_size=1, max_size=6))
def test_random_messages_get_clear_errors_and_the_socket_stays_healthy(teacher, batch):
    # Not a live run (nothing would answer controls), so only validation is exercised:
    # succeeded runs replay nothing here because they have no frames.
    run = make_run(teacher, status="cancelled")
    cookie = session_cookie(Client(), teacher)
    channel_layers.backends.clear()

    async def exercise():
        comm = WebsocketCommunicator(
            application, f"/ws/runs/{run.code}/", headers=ws_headers(cookie)
        )
        assert (await comm.connect(timeout=5))[0]
        await comm.receive_from()
        for message in batch:
            if isinstance(message, bytes):
                await comm.send_to(bytes_data=message)
            else:
                await comm.send_to(text_data=message)
            await comm.send_to(text_data=json.dumps({"op": "ping"}))
            while True:
                out = await comm.receive_output(3)
                assert out["type"] == "websocket.send", out
                if out.get("text") is None:
                    continue
                reply = json.loads(out["text"])
                if reply["type"] == "pong":
                    break
                if reply["type"] == "error":
                    assert set(reply) == {"type", "op", "field", "message"}
                    assert reply["message"]
        await comm.disconnect()

    async_to_sync(exercise)()


async def _errors_for(comm, message):
    await comm.send_to(text_data=json.dumps(message))
    return json.loads(await comm.receive_from())


def test_errors_name_the_field_and_its_range(teacher):
    run = make_run(teacher, status="running")
    cookie = session_cookie(Client(), teacher)

    async def exercise():
        comm = WebsocketCommunicator(
            application, f"/ws/runs/{run.code}/", headers=ws_headers(cookie)
        )
        await comm.connect(timeout=5)
        await comm.receive_from()
        e = await _errors_for(comm, {"op": "ack", "seq": -1})
        assert e["field"] == "seq" and "0" in e["message"] and str(2**32 - 1) in e["message"]
        e = await _errors_for(comm, {"op": "speed", "fps": 1000})
        assert e["field"] == "fps" and "30" in e["message"]
        e = await _errors_for(comm, {"op": "inject", "driver": "d", "params": {"probability": [2]}})
        assert e["field"] == "params.probability" and "number" in e["message"]
        e = await _errors_for(comm, {"op": "tile", "pfn": 0, "count": 10**9})
        assert e["field"] == "count"
        e = await _errors_for(comm, {"op": "launch"})
        assert e["field"] == "op" and "subscribe" in e["message"]
        await comm.send_to(text_data="{")
        e = json.loads(await comm.receive_from())
        assert e["type"] == "error" and "JSON" in e["message"]
        await comm.send_to(text_data="y" * 5000)
        e = json.loads(await comm.receive_from())
        assert "4096" in e["message"]
        await comm.disconnect()

    async_to_sync(exercise)()
