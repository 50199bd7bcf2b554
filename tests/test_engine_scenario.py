"""Scenario validation: every bad field named with its allowed range, before allocation."""

import json

import pytest

from simulator import PRESETS, Scenario, ScenarioError, Simulation, load_preset


def errors_of(raw) -> dict[str, str]:
    with pytest.raises(ScenarioError) as exc:
        Scenario.from_dict(raw)
    return {e.field: e.message for e in exc.value.errors}


def test_every_preset_is_valid_and_runs_in_its_profile():
    for name in PRESETS:
        sim = Simulation(load_preset(name), seed=2)
        sim.step(5)


def test_zone_size_is_bounded_and_named():
    errs = errors_of({"memory": {"zones": [{"name": "Normal", "pages": 1 << 25}]}})
    assert "memory.zones[0].pages" in errs and "16777216" in errs["memory.zones[0].pages"]
    errs = errors_of({"memory": {"zones": [{"name": "Normal", "pages": 1500}]}})
    assert "multiple of 512" in errs["memory.zones[0].pages"]


def test_total_memory_cap_is_64_gib():
    errs = errors_of(
        {
            "memory": {
                "zones": [{"name": "DMA32", "pages": 1 << 23}, {"name": "Normal", "pages": 1 << 24}]
            }
        }
    )
    assert "64 GiB" in errs["memory.zones"]


def test_rates_and_unknown_fields_are_reported_together():
    errs = errors_of(
        {
            "layout": {"free": 2, "bogus": 1},
            "drivers": [
                {
                    "name": "z",
                    "preset": "zsmalloc",
                    "migrate": {"EAGAIN": 1.5},
                    "injection": {"probability": 101},
                }
            ],
            "timeline": [{"at_ms": -1, "action": "explode"}],
        }
    )
    assert errs["layout.free"].startswith("must be from 0.0 to 0.95")
    assert "unknown field" in errs["layout.bogus"]
    assert "drivers[0].migrate.EAGAIN" in errs
    assert "drivers[0].injection.probability" in errs
    assert "timeline[0].at_ms" in errs and "timeline[0].action" in errs


def test_presets_that_do_not_exist_in_a_profile_are_explained():
    errs = errors_of({"profile": "v4.8", "drivers": [{"preset": "vmw_balloon"}]})
    assert "after 4.8" in errs["drivers[0].preset"]
    errs = errors_of({"profile": "v6.18", "drivers": [{"preset": "z3fold"}]})
    assert "removed before 6.18" in errs["drivers[0].preset"]


def test_forget_clear_movable_is_a_v48_only_bug():
    """§6: from 6.17 the movable_ops flag is sticky; there is nothing to forget."""
    errs = errors_of(
        {"profile": "v6.18", "drivers": [{"name": "d", "buggy": ["forget_clear_movable"]}]}
    )
    assert "sticky" in errs["drivers[0].buggy"]
    Scenario.from_dict(
        {
            "profile": "v4.8",
            "sysctl": {"compaction_proactiveness": 0},
            "drivers": [{"name": "d", "buggy": ["forget_clear_movable"]}],
        }
    )


def test_toml_and_json_round_trip():
    sc = load_preset("zsmalloc_eagain_storm")
    assert Scenario.from_json(sc.to_json()) == sc
    assert Scenario.from_toml(sc.to_toml()) == sc


def test_malformed_text_names_the_format():
    with pytest.raises(ScenarioError) as exc:
        Scenario.from_toml("this is = = not toml")
    assert exc.value.errors[0].field == "toml"
    with pytest.raises(ScenarioError) as exc:
        Scenario.from_json("{")
    assert exc.value.errors[0].field == "json"


def test_total_pages_is_known_before_building():
    sc = Scenario.from_dict(
        {"memory": {"zones": [{"name": "DMA32", "pages": 1024}, {"name": "Normal", "pages": 2048}]}}
    )
    assert sc.total_pages == 3072


def test_injection_can_change_while_running_and_is_validated():
    sim = Simulation(load_preset("zsmalloc_eagain_storm"), seed=1)
    with pytest.raises(ScenarioError) as exc:
        sim.set_injection("zsmalloc", probability=300)
    assert exc.value.errors[0].field == "injection.probability"
    with pytest.raises(ScenarioError):
        sim.set_injection("nope", probability=10)
    sim.set_injection("zsmalloc", probability=100, errno="EAGAIN")
    sim.step(40)
    assert sim.k.drivers[0].eagain > 0


def test_json_errors_are_serialisable():
    errs = [e.to_dict() for e in ScenarioError([]).errors]
    assert json.dumps(errs) == "[]"
