"""Dashboard pages (home, new run, compare) and the scenario check the editor uses.

The run page itself is views.detail; these views only gather what the templates and the
scripts under static/js need, so the pages stay plain templates.
"""

import json
import uuid

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from . import access, inspect
from .api import REPORTS, async_run_view, error
from .models import PROFILES, Run

MAX_TEXT_BYTES = 256 * 1024


def _engine():
    try:
        import simulator
    except ImportError:  # the site still serves pages while the engine is being built
        return None
    return simulator


def preset_list():
    """[{name, description, total_pages, drivers}] for the engine's scenario presets."""
    sim = _engine()
    out = []
    for name, data in sorted((getattr(sim, "PRESETS", None) or {}).items()):
        zones = (data.get("memory") or {}).get("zones") or []
        total = (
            sum(z.get("pages", 0) for z in zones)
            or (data.get("memory") or {}).get("total_mib", 0) * 256
        )
        out.append(
            {
                "name": name,
                "description": data.get("description", ""),
                "total_pages": total,
                "drivers": [d.get("name") or d.get("preset") for d in data.get("drivers", [])],
            }
        )
    return out


def engine_choices():
    """What the new-run form offers: driver presets, buggy modes, errnos, actions."""
    sim = _engine()
    drivers = scenario_mod = None
    if sim is not None:
        try:
            from simulator import drivers
            from simulator import scenario as scenario_mod
        except ImportError:
            drivers = scenario_mod = None
    return {
        "profiles": PROFILES,
        "presets": getattr(sim, "PRESETS", {}) if sim else {},
        "driver_presets": {
            name: sorted(profiles) for name, profiles in getattr(drivers, "PRESETS", {}).items()
        },
        "buggy_modes": list(getattr(drivers, "BUGGY_MODES", ())),
        "buggy_rules": dict(getattr(drivers, "RULES", {})),
        "errnos": list(getattr(drivers, "ERRNO_ORDER", ("EAGAIN", "EBUSY", "EINVAL", "ENOMEM"))),
        "actions": list(getattr(scenario_mod, "ACTIONS", ())),
        "alloc_types": list(getattr(scenario_mod, "ALLOC_TYPES", ("movable",))),
        "sysctls": list(getattr(scenario_mod, "SYSCTLS", {})),
        "zone_names": list(getattr(getattr(sim, "constants", None), "ZONE_NAMES", ()))
        or ["DMA", "DMA32", "Normal", "Movable"],
    }


def home(request):
    mine = Run.objects.filter(owner=request.user)[:20] if request.user.is_authenticated else []
    examples = Run.objects.filter(is_example=True).order_by("title")
    return render(
        request,
        "runs/index.html",
        {
            "mine": mine,
            "examples": examples,
            "presets": preset_list(),
            "profiles": PROFILES,
        },
    )


@login_required
def new_run(request):
    return render(
        request,
        "runs/new.html",
        {"choices": engine_choices(), "from_run": _copy_source(request)},
    )


def _copy_source(request):
    """?from=<run code>: prefill the form with a run the user may see."""
    code = request.GET.get("from")
    if not code:
        return None
    try:
        found = access.get_run_for_user(request.user, uuid.UUID(code))
    except ValueError:
        return None
    if found is None:
        return None
    run = found.run
    return {"scenario": run.scenario, "seed": run.seed, "profile": run.profile, "title": run.title}


def compare(request):
    """?runs=a,b,c (2 to 4 run codes the user may see). Unknown codes are reported."""
    codes = [c for c in request.GET.get("runs", "").split(",") if c][:4]
    runs, missing = [], []
    for code in codes:
        try:
            found = access.get_run_for_user(request.user, uuid.UUID(code))
        except ValueError:
            found = None
        if found is None:
            missing.append(code)
        else:
            runs.append(found.run)
    choices = []
    if request.user.is_authenticated:
        choices = list(Run.objects.filter(owner=request.user)[:50])
    choices += list(Run.objects.filter(is_example=True).order_by("title"))
    cfg = [
        {
            "run": str(r.code),
            "title": r.title or f"{r.scenario.get('name', 'run')} (seed {r.seed})",
            "ws": f"/ws/runs/{r.code}/",
            "status": r.status,
            "last_seq": r.last_seq,
            "fps": r.fps,
            "seed": r.seed,
            "profile": r.profile,
            "engine_version": r.engine_version,
            "scenario": r.scenario,
            "counters": r.counters,
            "url": r.get_absolute_url(),
            "api": {"metrics": f"/api/v1/runs/{r.code}/metrics"},
        }
        for r in runs
    ]
    return render(
        request,
        "runs/compare.html",
        {"runs": runs, "missing": missing, "choices": choices, "cfg": cfg},
    )


@require_POST
def check_scenario(request):
    """Validate a scenario given as TOML or JSON text (or an object) with the engine's
    own rules, and return it normalised with its TOML and JSON texts.

    Body: {"format": "toml"|"json", "text": "..."} or {"scenario": {...}}.
    200: {"scenario", "toml", "json", "total_pages"}; 400: {"errors": [{field, message}]}.
    """
    sim = _engine()
    if sim is None or not hasattr(sim, "Scenario"):
        return error(503, "the engine is not available")
    if len(request.body) > MAX_TEXT_BYTES:
        return error(400, f"at most {MAX_TEXT_BYTES} bytes", "text")
    try:
        data = json.loads(request.body or b"null")
    except ValueError:
        return error(400, "the body is not valid JSON")
    if not isinstance(data, dict):
        return error(400, "the body must be a JSON object")
    try:
        if "scenario" in data:
            scenario = sim.Scenario.from_dict(data["scenario"])
        else:
            fmt, text = data.get("format"), data.get("text")
            if fmt not in ("toml", "json"):
                return error(400, "format must be toml or json", "format")
            if not isinstance(text, str):
                return error(400, "text must be a string", "text")
            scenario = (sim.Scenario.from_toml if fmt == "toml" else sim.Scenario.from_json)(text)
    except sim.ScenarioError as e:
        errors = [{"field": fe.field, "message": fe.message} for fe in e.errors]
        return error(400, errors[0]["message"] if errors else str(e), errors=errors)
    return JsonResponse(
        {
            "scenario": scenario.to_dict(),
            "toml": scenario.to_toml(),
            "json": scenario.to_json(),
            "total_pages": int(scenario.total_pages),
        }
    )


def _seq_param(request):
    raw = request.GET.get("seq")
    if raw in (None, ""):
        return None
    try:
        seq = int(raw)
    except ValueError:
        raise inspect.InspectError(400, "seq must be an integer", "seq") from None
    if seq < 0:
        raise inspect.InspectError(400, "seq must be 0 or more", "seq")
    return seq


@require_GET
@async_run_view()
async def page_info(request, run, pfn):
    """The engine's details of one page (pfn, zone, pageblock and migratetype, kind,
    flags, owner, history) at frame ?seq= (default: the newest)."""
    try:
        return JsonResponse(await inspect.page_info(run, pfn, _seq_param(request)))
    except inspect.InspectError as e:
        return error(e.status, e.message, e.field)


@require_GET
@async_run_view()
async def proc(request, run, name):
    """A /proc-style report (buddyinfo, pagetypeinfo, vmstat, extfrag, unusable, trace)
    at frame ?seq= (default: the newest), live or rebuilt."""
    if name not in REPORTS:
        return error(404, "report must be one of " + ", ".join(REPORTS), "name")
    try:
        seq, text = await inspect.report(run, name, _seq_param(request))
    except inspect.InspectError as e:
        return error(e.status, e.message, e.field)
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["X-Frame-Seq"] = str(seq)
    return response
