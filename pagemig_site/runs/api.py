"""JSON API v1 (described in openapi.py, served at /api/v1/openapi.json)."""

import csv
import io
import json
import uuid
from functools import wraps

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import access, execution
from .creation import CreateError, create_run
from .models import Run, control_group_name
from .openapi import SPEC

REPORTS = ("buddyinfo", "pagetypeinfo", "vmstat", "extfrag", "unusable", "trace")


def error(status, message, field=None, errors=None):
    body = {"error": message}
    body["errors"] = errors if errors is not None else [{"field": field, "message": message}]
    return JsonResponse(body, status=status)


def _access(user, code, share_token=None):
    try:
        code = uuid.UUID(str(code))
    except ValueError:
        return None
    found = access.get_run_for_user(user, code)
    if found is None and share_token:
        # A share link's viewers read its run's data (read-only) with the link's token
        # in a header, never in the URL, so it stays out of access logs.
        shared = access.get_run_for_share(share_token)
        if shared is not None and shared.run.code == code:
            return shared
    return found


def run_view(write=False):
    """Resolve <code> to a run the user may see (and drive, if write), else 404/403."""

    def decorator(view):
        @wraps(view)
        def sync_wrapper(request, code, *args, **kwargs):
            found = _access(request.user, code, request.headers.get("X-Share-Token"))
            if found is None:
                return error(404, "no such run")
            if write and not found.can_write:
                return error(403, "this run is read-only for you")
            return view(request, found.run, *args, **kwargs)

        return sync_wrapper

    return decorator


def async_run_view(write=False):
    def decorator(view):
        @wraps(view)
        async def async_wrapper(request, code, *args, **kwargs):
            user = await request.auser()
            found = await sync_to_async(_access)(user, code, request.headers.get("X-Share-Token"))
            if found is None:
                return error(404, "no such run")
            if write and not found.can_write:
                return error(403, "this run is read-only for you")
            return await view(request, found.run, *args, **kwargs)

        return async_wrapper

    return decorator


def openapi(request):
    return JsonResponse(SPEC)


@require_http_methods(["GET", "POST"])
async def runs(request):
    if request.method == "GET":
        return await sync_to_async(list_runs)(request)
    user = await request.auser()
    if not user.is_authenticated:
        return error(401, "sign in to start runs")
    try:
        data = json.loads(request.body or b"null")
    except ValueError:
        return error(400, "the body is not valid JSON")
    try:
        run = await sync_to_async(create_run)(user, data, request.META.get("REMOTE_ADDR", ""))
    except CreateError as e:
        return error(e.status, e.errors[0]["message"], errors=e.errors)
    await execution.launch(run)
    await run.arefresh_from_db()
    return JsonResponse(run.to_dict(), status=201)


def list_runs(request):
    if not request.user.is_authenticated:
        return error(401, "sign in to list your runs")
    qs = Run.objects.filter(owner=request.user)
    status = request.GET.get("status")
    if status:
        qs = qs.filter(status=status)
    return JsonResponse({"runs": [r.to_dict() for r in qs[:200]]})


@require_GET
@run_view()
def run_detail(request, run):
    return JsonResponse(run.to_dict())


async def _control(run, op):
    await get_channel_layer().group_send(
        control_group_name(run.code), {"type": "run.control", "op": op}
    )


@require_POST
@async_run_view(write=True)
async def cancel(request, run):
    if not await sync_to_async(run.cancel)():
        return error(409, f"the run is already {run.status}", field="status")
    await _control(run, "cancel")
    await run.arefresh_from_db()
    return JsonResponse(run.to_dict())


@require_POST
@async_run_view(write=True)
async def pause(request, run):
    if run.status != "running":
        return error(409, f"only a running run can be paused; this one is {run.status}", "status")
    await _control(run, "pause")
    return JsonResponse(run.to_dict(), status=202)


@require_POST
@async_run_view(write=True)
async def resume(request, run):
    """Resume a paused run, or restart an interrupted one from its last snapshot."""
    if run.status == "paused":
        await _control(run, "resume")
        return JsonResponse(run.to_dict(), status=202)
    if run.status == "interrupted" and await sync_to_async(run.requeue)():
        await execution.launch(run)
        await run.arefresh_from_db()
        return JsonResponse(run.to_dict(), status=202)
    return error(409, f"only paused or interrupted runs resume; this one is {run.status}", "status")


@require_GET
@run_view()
def metrics(request, run):
    samples = run.metrics.order_by("seq").values("seq", "tick", "time_ns", "data")
    return JsonResponse(
        {
            "run": str(run.code),
            "samples": [
                {"seq": s["seq"], "tick": s["tick"], "time_ns": s["time_ns"], **s["data"]}
                for s in samples
            ],
        }
    )


def _flat(prefix, value, out):
    """Flatten nested metrics into CSV columns: free_per_order.3, eagain.drvA, ..."""
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _flat(f"{prefix}.{i}", v, out)
    else:
        out[prefix] = value


@require_GET
@run_view()
def metrics_csv(request, run):
    rows = []
    columns = ["seq", "tick", "time_ns"]
    for s in run.metrics.order_by("seq").values("seq", "tick", "time_ns", "data"):
        row = {"seq": s["seq"], "tick": s["tick"], "time_ns": s["time_ns"]}
        _flat("", s["data"], row)
        for key in row:
            if key not in columns:
                columns.append(key)
        rows.append(row)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows(rows)
    response = HttpResponse(buf.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="run-{run.code}-metrics.csv"'
    return response


@require_GET
@run_view()
def scenario(request, run):
    fmt = request.GET.get("format", "json")
    body = {
        "scenario": run.scenario,
        "seed": run.seed,
        "profile": run.profile,
        "engine_version": run.engine_version,
    }
    if fmt == "json":
        response = JsonResponse(body)
    elif fmt == "toml":
        import simulator

        # The engine writes its own TOML (it knows how to leave out unset knobs).
        text = simulator.Scenario.from_dict(run.scenario).to_toml()
        response = HttpResponse(text, content_type="application/toml")
    else:
        return error(400, "format must be json or toml", field="format")
    response["Content-Disposition"] = f'attachment; filename="run-{run.code}-scenario.{fmt}"'
    return response


@require_GET
@run_view()
def report(request, run, name):
    if name not in REPORTS:
        return error(404, "report must be one of " + ", ".join(REPORTS), field="name")
    if name not in run.reports:
        return error(409, "reports exist once a run has succeeded", field="status")
    return HttpResponse(run.reports[name], content_type="text/plain; charset=utf-8")


@require_GET
@run_view()
def events(request, run):
    try:
        after = int(request.GET.get("after", -1))
    except ValueError:
        return error(400, "after must be an integer", field="after")
    out = []
    for block in run.blocks.filter(last_seq__gt=after).only("events", "controls"):
        out.extend(e for e in block.events if e.get("seq", 0) > after)
        out.extend({"event": "control", **c} for c in block.controls if c["seq"] > after)
        if len(out) > 5000:
            break
    return JsonResponse({"run": str(run.code), "events": out[:5000]})
