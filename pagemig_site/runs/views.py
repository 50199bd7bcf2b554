import uuid

from django.http import Http404
from django.shortcuts import render

from . import access
from .models import Run


def _get_run_for_user(request, code):
    """The run and whether the user may drive it, or 404 (never 403: no probing)."""
    try:
        code = uuid.UUID(str(code))
    except ValueError:
        raise Http404("no such run") from None
    found = access.get_run_for_user(request.user, code)
    if found is None:
        raise Http404("no such run")
    return found


def index(request):
    mine = Run.objects.filter(owner=request.user)[:50] if request.user.is_authenticated else []
    examples = Run.objects.filter(is_example=True).order_by("title")
    presets = []
    try:
        import simulator

        presets = sorted(getattr(simulator, "PRESETS", {}))
    except ImportError:
        pass
    return render(
        request, "runs/index.html", {"mine": mine, "examples": examples, "presets": presets}
    )


def detail(request, code):
    found = _get_run_for_user(request, code)
    return render(
        request,
        "runs/detail.html",
        {"run": found.run, "can_write": found.can_write, "ws_path": f"/ws/runs/{found.run.code}/"},
    )
