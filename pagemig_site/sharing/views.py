import json

from asgiref.sync import sync_to_async
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from pagemig_site.runs import access, execution
from pagemig_site.runs.api import error, run_view
from pagemig_site.runs.models import Run

from .models import ShareLink

MAX_VIEW_STATE_BYTES = 8192


def _get_link(token):
    found = access.get_run_for_share(token)
    if found is None:
        raise Http404("this link does not exist or was revoked")
    return found


def view(request, token):
    found = _get_link(token)
    return render(
        request,
        "sharing/view.html",
        {
            "run": found.run,
            "link": found.share_link,
            "view_state": json.dumps(found.share_link.view_state),
            "ws_path": f"/ws/share/{token}/",
        },
    )


@require_POST
async def copy(request, token):
    """ "Run again": an editable copy of the shared run, owned by the visitor."""
    user = await request.auser()
    if not user.is_authenticated:
        return redirect("accounts:login")
    found = await sync_to_async(_get_link)(token)
    link = found.share_link
    from pagemig_site.runs.creation import CreateError, create_run

    data = {
        "scenario": link.scenario,
        "seed": link.seed,
        "profile": link.profile,
        "title": f"Copy of {found.run.title or 'a shared run'}"[:200],
    }
    try:
        run = await sync_to_async(create_run)(user, data)
    except CreateError as e:
        return JsonResponse({"error": e.errors[0]["message"], "errors": e.errors}, status=e.status)
    await Run.objects.filter(pk=run.pk).aupdate(copied_from=found.run)
    await execution.launch(run)
    return redirect(run.get_absolute_url())


@require_http_methods(["GET", "POST"])
@run_view(write=True)
def api_shares(request, run):
    if request.method == "GET":
        links = ShareLink.objects.filter(run=run)
        return JsonResponse({"links": [link.to_dict() for link in links]})
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return error(400, "the body is not valid JSON")
    if not isinstance(data, dict):
        return error(400, "the body must be a JSON object")
    view_state = data.get("view_state", {})
    if not isinstance(view_state, dict) or len(json.dumps(view_state)) > MAX_VIEW_STATE_BYTES:
        return error(
            400, f"must be an object of at most {MAX_VIEW_STATE_BYTES} bytes", "view_state"
        )
    link = ShareLink.objects.create(
        run=run,
        created_by=request.user,
        view_state=view_state,
        engine_version=run.engine_version,
        scenario=run.scenario,
        seed=run.seed,
        profile=run.profile,
    )
    return JsonResponse(link.to_dict(), status=201)


@require_POST
def api_revoke(request, token):
    link = ShareLink.objects.filter(token=token).select_related("run").first()
    if link is None or not request.user.is_authenticated or link.run.owner_id != request.user.id:
        return error(404, "no such share link")
    link.revoke()
    return JsonResponse(link.to_dict())
