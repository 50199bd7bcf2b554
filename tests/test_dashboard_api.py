"""The endpoints the dashboard added: a page's details and /proc reports at any frame of a
run (live from its engine, rebuilt for finished runs), the scenario check the TOML/JSON
editor uses, and read-only API access for share links."""

import json

import pytest
from django.test import AsyncClient

import simulator
from pagemig_site.runs.models import Run
from tests.test_streaming import collect, finished, roomy_window, start, subscribe  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def engine_at(run, seq):
    sim = simulator.Simulation(
        simulator.Scenario.from_dict(run["scenario"]), seed=run["seed"], profile=run["profile"]
    )
    for _ in range(seq):
        sim.step(run["ticks_per_frame"])
    return sim


async def finished_run(user, **body):
    run, cookie, client = await start(user, **body)
    comm = await subscribe(run["id"], cookie)
    await collect(comm, finished)
    await comm.disconnect()
    run = (await client.get(f"/api/v1/runs/{run['id']}/")).json()
    return run, client


async def test_page_details_of_a_finished_run_are_the_engines_at_that_frame(teacher):
    run, client = await finished_run(teacher, preset="buggy_driver", seed=3)
    base = f"/api/v1/runs/{run['id']}/pages"
    for seq in (0, 7, run["last_seq"]):
        sim = engine_at(run, seq)
        states = sim.display_states()
        for pfn in (0, int(states.argmax()), run["total_pages"] - 1):
            r = await client.get(f"{base}/{pfn}?seq={seq}")
            assert r.status_code == 200, r.content
            body = r.json()
            assert body["seq"] == seq and body["live"] is False
            assert body["page"] == json.loads(json.dumps(sim.page_info(pfn), default=str))
    # Without seq: the last frame.
    r = await client.get(f"{base}/5")
    assert r.json()["seq"] == run["last_seq"]


async def test_bad_page_requests_name_the_field(teacher):
    run, client = await finished_run(teacher, preset="buggy_driver", seed=4)
    base = f"/api/v1/runs/{run['id']}/pages"
    r = await client.get(f"{base}/{run['total_pages']}")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "pfn"
    r = await client.get(f"{base}/1?seq={run['last_seq'] + 1}")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "seq"
    r = await client.get(f"{base}/1?seq=x")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "seq"


async def test_proc_reports_at_a_frame_are_the_engines(teacher):
    run, client = await finished_run(teacher, preset="lru_only", seed=5)
    for seq in (3, run["last_seq"]):
        sim = engine_at(run, seq)
        for name in ("buddyinfo", "vmstat", "pagetypeinfo"):
            r = await client.get(f"/api/v1/runs/{run['id']}/proc/{name}?seq={seq}")
            assert r.status_code == 200
            assert r.content.decode() == sim.report(name)
            assert r["X-Frame-Seq"] == str(seq)
    r = await client.get(f"/api/v1/runs/{run['id']}/proc/meminfo")
    assert r.status_code == 404


async def test_a_share_token_reads_its_runs_data_and_nothing_else(teacher, student):
    run, client = await finished_run(teacher, preset="lru_only", seed=6)
    other, _ = await finished_run(teacher, preset="lru_only", seed=7)
    r = await client.post(f"/api/v1/runs/{run['id']}/shares", "{}", content_type="application/json")
    token = r.json()["token"]
    anon = AsyncClient()
    assert (await anon.get(f"/api/v1/runs/{run['id']}/metrics")).status_code == 404
    headers = {"X-Share-Token": token}
    assert (await anon.get(f"/api/v1/runs/{run['id']}/metrics", headers=headers)).status_code == 200
    assert (await anon.get(f"/api/v1/runs/{run['id']}/pages/3", headers=headers)).status_code == 200
    # Another run of the same owner, or a write, are not what the link gives.
    assert (
        await anon.get(f"/api/v1/runs/{other['id']}/metrics", headers=headers)
    ).status_code == 404
    r = await anon.post(f"/api/v1/runs/{run['id']}/pause", headers=headers)
    assert r.status_code in (403, 404)


async def test_the_scenario_check_returns_toml_or_the_fields_at_fault(teacher):
    client = AsyncClient()
    await client.aforce_login(teacher)
    toml = simulator.load_preset("lru_only").to_toml()
    r = await client.post(
        "/api/v1/scenarios/check",
        json.dumps({"format": "toml", "text": toml}),
        content_type="application/json",
    )
    assert r.status_code == 200
    assert r.json()["scenario"] == simulator.load_preset("lru_only").to_dict()
    bad = toml.replace("fragmentation = 0.9", "fragmentation = 3")
    r = await client.post(
        "/api/v1/scenarios/check",
        json.dumps({"format": "toml", "text": bad}),
        content_type="application/json",
    )
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "layout.fragmentation"
    r = await client.post(
        "/api/v1/scenarios/check",
        json.dumps({"format": "toml", "text": "memory = ["}),
        content_type="application/json",
    )
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "toml"
    assert await Run.objects.acount() == 0
