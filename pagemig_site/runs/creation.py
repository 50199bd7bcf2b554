"""Validating a request for a run, then creating it. Shared by the API and the pages."""

import json
import logging
import math

from django.conf import settings

from pagemig_site.accounts.models import Profile, TokenBucket

from .models import ACTIVE, PROFILES, Run

log = logging.getLogger(__name__)

MAX_SCENARIO_BYTES = 64 * 1024
MAX_SEED = 2**32 - 1  # the engine's seed range


class CreateError(Exception):
    def __init__(self, status, errors):
        super().__init__(errors)
        self.status = status
        self.errors = errors  # list of {"field", "message"}


def _err(field, message, status=400):
    return CreateError(status, [{"field": field, "message": message}])


def parse_request(data):
    """Check the request's own fields; returns (scenario dict, options) or raises."""
    import simulator

    if not isinstance(data, dict):
        raise _err(None, "the body must be a JSON object")
    errors = []
    known = {"scenario", "preset", "seed", "profile", "title", "fps"}
    for key in data:
        if key not in known:
            errors.append({"field": str(key)[:80], "message": "unknown field"})

    scenario = data.get("scenario")
    preset = data.get("preset")
    if scenario is None and preset is None:
        errors.append({"field": "scenario", "message": "give a scenario object or a preset name"})
    elif scenario is not None and preset is not None:
        errors.append({"field": "preset", "message": "give either scenario or preset, not both"})
    elif preset is not None:
        presets = getattr(simulator, "PRESETS", {})
        if not isinstance(preset, str) or preset not in presets:
            errors.append(
                {"field": "preset", "message": "must be one of " + ", ".join(sorted(presets))}
            )
        else:
            scenario = presets[preset]
    elif not isinstance(scenario, dict):
        errors.append({"field": "scenario", "message": "must be a JSON object"})
    elif len(json.dumps(scenario)) > MAX_SCENARIO_BYTES:
        errors.append(
            {"field": "scenario", "message": f"must be at most {MAX_SCENARIO_BYTES} bytes"}
        )

    # Seed and profile default to the scenario's own.
    seed = data.get("seed")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not (0 <= seed <= MAX_SEED)
    ):
        errors.append({"field": "seed", "message": f"must be an integer from 0 to {MAX_SEED}"})
    profile = data.get("profile")
    if profile is not None and profile not in PROFILES:
        errors.append({"field": "profile", "message": "must be one of " + ", ".join(PROFILES)})
    title = data.get("title", "")
    if not isinstance(title, str) or len(title) > 200:
        errors.append({"field": "title", "message": "must be a string of at most 200 characters"})
    fps = data.get("fps", settings.MAX_FPS)
    if (
        isinstance(fps, bool)
        or not isinstance(fps, int | float)
        or not math.isfinite(fps)
        or not (0.1 <= fps <= settings.MAX_FPS)
    ):
        errors.append(
            {"field": "fps", "message": f"must be a number from 0.1 to {settings.MAX_FPS}"}
        )
    if errors:
        raise CreateError(400, errors)
    return scenario, {"seed": seed, "profile": profile, "title": title, "fps": float(fps)}


def validate_scenario(scenario):
    """The engine's own validation; its field errors come back prefixed `scenario.`."""
    import simulator

    try:
        return simulator.Scenario.from_dict(scenario)
    except simulator.ScenarioError as e:
        raise CreateError(
            400,
            [{"field": f"scenario.{fe.field}", "message": fe.message} for fe in e.errors]
            or [{"field": "scenario", "message": str(e)}],
        ) from None
    except Exception as e:
        # The engine should answer every bad scenario with ScenarioError; if some input
        # slips through, the user still gets a 400 and we get a log line to fix it.
        log.warning("scenario validation raised %r", e)
        raise _err("scenario", f"invalid scenario ({type(e).__name__})") from None


def create_run(user, data, client_ip=""):
    """Validate everything, apply the caps, and create a queued run (sync)."""
    import simulator

    if not user.is_authenticated:
        raise _err(None, "sign in to start runs", status=401)
    scenario_dict, options = parse_request(data)
    if options["profile"]:
        # The profile is part of the scenario; validate the two together.
        scenario_dict = {**scenario_dict, "profile": options["profile"]}
    scenario = validate_scenario(scenario_dict)
    role = Profile.role_of(user)
    cap = settings.PAGES_CAP.get(role, settings.PAGES_CAP["student"])
    total = int(scenario.total_pages)
    seed = options["seed"] if options["seed"] is not None else int(scenario.data["seed"])
    profile = options["profile"] or scenario.data["profile"]
    if total > cap:
        raise _err("scenario", f"{total} pages is over the {cap} pages a {role} may simulate")
    if Run.objects.filter(owner=user, status__in=ACTIVE).count() >= settings.RUNS_PER_USER:
        raise _err(
            None,
            f"you already have {settings.RUNS_PER_USER} runs queued or running; "
            "wait for one to finish or cancel one",
            status=429,
        )
    if not TokenBucket.authorize("run_create", f"user:{user.pk}"):
        raise _err(None, "too many runs started recently; try again in a minute", status=429)
    return Run.objects.create(
        owner=user,
        title=options["title"],
        scenario=scenario.to_dict(),
        seed=seed,
        profile=profile,
        fps=options["fps"],
        engine_version=simulator.ENGINE_VERSION,
        total_pages=total,
    )
