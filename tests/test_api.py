"""JSON API: create/list/get/cancel/pause/resume, caps, exports, share links."""

import asyncio
import csv
import io
import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simulator
from pagemig_site.accounts.models import TokenBucket
from pagemig_site.runs.models import Run
from pagemig_site.sharing.models import ShareLink
from tests.helpers import make_run

pytestmark = pytest.mark.django_db


def post(client, path, body=None):
    return client.post(
        path, json.dumps(body) if body is not None else "", content_type="application/json"
    )


@pytest.fixture(autouse=True)
def worker_mode(settings):
    # Sync tests only create rows; nothing executes (the "worker" is not running). The
    # task backend's dummy keeps enqueue from touching a real queue.
    settings.RUN_EXECUTION = "worker"
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}


def test_anonymous_visitors_cannot_create_runs(client):
    r = post(client, "/api/v1/runs/", {"preset": "lru_only"})
    assert r.status_code == 401


def test_it_creates_a_queued_run_from_a_preset(teacher_client):
    r = post(teacher_client, "/api/v1/runs/", {"preset": "lru_only", "seed": 5})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "queued" and body["seed"] == 5
    assert body["engine_version"] == simulator.ENGINE_VERSION
    assert body["scenario"] == simulator.Scenario.from_dict(simulator.PRESETS["lru_only"]).to_dict()
    assert Run.objects.get(code=body["id"]).owner.username == "alice"


def test_it_reports_engine_field_errors_as_400(teacher_client):
    scenario = dict(simulator.PRESETS["lru_only"])
    scenario["memory"] = {**scenario.get("memory", {}), "zones": "lots"}
    r = post(teacher_client, "/api/v1/runs/", {"scenario": scenario})
    assert r.status_code == 400
    fields = [e["field"] for e in r.json()["errors"]]
    assert any(f.startswith("scenario.") for f in fields), r.json()


def test_it_names_each_bad_request_field(teacher_client):
    r = post(
        teacher_client,
        "/api/v1/runs/",
        {"preset": "nope", "seed": -1, "profile": "v9", "fps": 0, "colour": "red"},
    )
    assert r.status_code == 400
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"preset", "seed", "profile", "fps", "colour"}


def test_students_have_a_lower_page_cap(client, student, settings):
    settings.PAGES_CAP = {"student": 10000, "teacher": 10**7}
    client.force_login(student)
    r = post(client, "/api/v1/runs/", {"preset": "direct_compaction"})  # 32768 pages
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "scenario"
    assert "10000" in r.json()["errors"][0]["message"]
    assert post(client, "/api/v1/runs/", {"preset": "buggy_driver"}).status_code == 201


def test_concurrent_runs_per_user_are_capped(teacher_client, settings):
    settings.RUNS_PER_USER = 2
    for _ in range(2):
        assert post(teacher_client, "/api/v1/runs/", {"preset": "lru_only"}).status_code == 201
    r = post(teacher_client, "/api/v1/runs/", {"preset": "lru_only"})
    assert r.status_code == 429


def test_run_creation_is_rate_limited_through_the_database(teacher_client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "run_create": (2, 60)}
    settings.RUNS_PER_USER = 100
    codes = [
        post(teacher_client, "/api/v1/runs/", {"preset": "lru_only"}).status_code for _ in range(3)
    ]
    assert codes == [201, 201, 429]
    assert TokenBucket.objects.filter(value__startswith="run_create-").count() == 1


def test_invalid_json_is_a_400(teacher_client):
    r = teacher_client.post("/api/v1/runs/", "{nope", content_type="application/json")
    assert r.status_code == 400


def test_list_and_get_show_only_your_runs(teacher_client, teacher, student):
    mine = make_run(teacher)
    theirs = make_run(student)
    listed = [r["id"] for r in teacher_client.get("/api/v1/runs/").json()["runs"]]
    assert listed == [str(mine.code)]
    assert teacher_client.get(f"/api/v1/runs/{mine.code}/").status_code == 200
    assert teacher_client.get(f"/api/v1/runs/{theirs.code}/").status_code == 404
    assert teacher_client.get("/api/v1/runs/not-a-uuid/").status_code == 404


def test_cancel_a_queued_run(teacher_client, teacher):
    run = make_run(teacher, status="queued")
    r = teacher_client.post(f"/api/v1/runs/{run.code}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert teacher_client.post(f"/api/v1/runs/{run.code}/cancel").status_code == 409


def test_others_cannot_cancel_or_pause(client, teacher, student):
    run = make_run(teacher, status="running")
    client.force_login(student)
    assert client.post(f"/api/v1/runs/{run.code}/cancel").status_code == 404
    assert client.post(f"/api/v1/runs/{run.code}/pause").status_code == 404
    example = make_run(None, is_example=True, status="running")
    assert client.post(f"/api/v1/runs/{example.code}/pause").status_code == 403


def test_pause_needs_a_running_run(teacher_client, teacher):
    run = make_run(teacher, status="succeeded")
    assert teacher_client.post(f"/api/v1/runs/{run.code}/pause").status_code == 409


def test_resume_requeues_an_interrupted_run(teacher_client, teacher):
    run = make_run(teacher, status="interrupted")
    r = teacher_client.post(f"/api/v1/runs/{run.code}/resume")
    assert r.status_code == 202
    run.refresh_from_db()
    assert run.status == "queued" and run.resumes == 1


def test_openapi_describes_every_route(client):
    spec = client.get("/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/v1/runs/", "/api/v1/runs/{code}/metrics.csv", "/api/v1/runs/{code}/pause"):
        assert path in spec["paths"]


@pytest.fixture
def finished_run(teacher, transactional_db):
    """A real run of the lru_only preset, produced to the end (unpaced)."""
    from pagemig_site.runs.runner import drive

    sc = simulator.Scenario.from_dict(simulator.PRESETS["lru_only"])
    run = Run.objects.create(
        owner=teacher,
        scenario=sc.to_dict(),
        seed=3,
        profile=sc.data["profile"],
        engine_version=simulator.ENGINE_VERSION,
        total_pages=sc.total_pages,
    )
    assert asyncio.run(drive(run.pk, paced=False)) == "succeeded"
    run.refresh_from_db()
    return run


def test_exports_of_a_finished_run(teacher_client, finished_run):
    base = f"/api/v1/runs/{finished_run.code}"
    metrics = teacher_client.get(f"{base}/metrics").json()["samples"]
    assert metrics and "free_per_order" in metrics[0]
    rows = list(
        csv.DictReader(io.StringIO(teacher_client.get(f"{base}/metrics.csv").content.decode()))
    )
    assert len(rows) == len(metrics) and "free_per_order.0" in rows[0]
    scen = teacher_client.get(f"{base}/scenario").json()
    assert scen["seed"] == 3 and scen["scenario"] == finished_run.scenario
    assert teacher_client.get(f"{base}/scenario?format=toml").status_code == 200
    assert teacher_client.get(f"{base}/scenario?format=yaml").status_code == 400
    buddy = teacher_client.get(f"{base}/reports/buddyinfo")
    sim = simulator.Simulation(
        simulator.Scenario.from_dict(finished_run.scenario), seed=3, profile=finished_run.profile
    )
    sim.run()
    assert buddy.content.decode() == sim.report("buddyinfo")
    assert teacher_client.get(f"{base}/reports/passwd").status_code == 404
    assert teacher_client.get(f"{base}/events").status_code == 200


def test_share_links_are_read_only_revocable_and_pinned(teacher_client, finished_run):
    client = Client()  # an anonymous visitor (teacher_client is pytest-django's client)
    r = post(
        teacher_client,
        f"/api/v1/runs/{finished_run.code}/shares",
        {"view_state": {"position": 10, "zoom": 2}},
    )
    assert r.status_code == 201
    link = r.json()
    assert len(link["token"]) >= 43 and link["seed"] == 3
    assert link["engine_version"] == simulator.ENGINE_VERSION
    # An anonymous visitor opens it...
    page = client.get(link["url"])
    assert page.status_code == 200 and b"Run again" not in page.content
    # ...but the API stays private.
    assert client.get(f"/api/v1/runs/{finished_run.code}/").status_code == 404
    assert teacher_client.post(f"/api/v1/shares/{link['token']}/revoke").status_code == 200
    assert client.get(link["url"]).status_code == 404


def test_run_again_makes_an_editable_copy_for_the_visitor(client, student, finished_run):
    link = ShareLink.objects.create(
        run=finished_run,
        created_by=finished_run.owner,
        engine_version=finished_run.engine_version,
        scenario=finished_run.scenario,
        seed=finished_run.seed,
        profile=finished_run.profile,
    )
    client.force_login(student)
    r = client.post(f"/s/{link.token}/copy")
    assert r.status_code == 302
    copy = Run.objects.get(owner=student)
    assert copy.scenario == finished_run.scenario and copy.seed == finished_run.seed
    assert copy.copied_from == finished_run


scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)
json_values = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=10), c, max_size=3),
    max_leaves=8,
)


def mutate(base):
    """Scenarios near a valid one: the bugs live close to the happy path."""
    keys = sorted(base)
    return st.builds(
        lambda k, v, drop: {**{x: y for x, y in base.items() if x != drop}, k: v},
        st.sampled_from(keys) | st.text(max_size=8),
        json_values,
        st.sampled_from(keys + [None]),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=st.one_of(
        st.fixed_dictionaries(
            {"scenario": mutate(simulator.PRESETS["lru_only"])},
            optional={"seed": json_values, "profile": json_values},
        ),
        st.fixed_dictionaries({"scenario": json_values}),
        st.dictionaries(
            st.sampled_from(["scenario", "preset", "seed", "fps", "title", "x"]), json_values
        ),
        json_values,
    )
)
def test_random_bodies_get_201_or_field_errors_never_a_500(teacher_client, settings, body):
    settings.RUNS_PER_USER = 10**6
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "run_create": (10**6, 1)}
    r = post(teacher_client, "/api/v1/runs/", body)
    assert r.status_code in (201, 400), (r.status_code, r.content)
    if r.status_code == 400:
        errors = r.json()["errors"]
        assert errors and all("field" in e and e["message"] for e in errors)
    else:
        # Whatever was accepted really runs in the engine.
        run = Run.objects.get(code=r.json()["id"])
        sim = simulator.Simulation(
            simulator.Scenario.from_dict(run.scenario), seed=run.seed, profile=run.profile
        )
        sim.step(1)
