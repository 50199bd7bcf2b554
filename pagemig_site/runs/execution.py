"""Starting runs: on this process's event loop (embedded) or through the task queue."""

import asyncio
import contextvars
import logging

from asgiref.sync import sync_to_async
from django.conf import settings

from .models import LIVE, Run

log = logging.getLogger(__name__)

# Strong references: the event loop keeps only weak ones, and a run task collected
# mid-run would silently stop its simulation.
_tasks = {}


async def launch(run):
    """Hand a queued run to whatever executes runs in this mode."""
    if settings.RUN_EXECUTION == "worker":
        from .tasks import run_simulation

        await run_simulation.aenqueue(run.pk)
    else:
        await start_queued()


async def start_queued():
    """Start queued runs on this loop while fewer than MAX_CONCURRENT_RUNS are live."""
    loop = asyncio.get_running_loop()
    for pk in list(_tasks):
        if _tasks[pk].done():
            del _tasks[pk]
    room = settings.MAX_CONCURRENT_RUNS - len(_tasks)
    if room <= 0:
        return
    pks = await sync_to_async(_oldest_queued)(room)
    from .runner import drive

    for pk in pks:
        if pk in _tasks:
            continue
        # A fresh Context: a task inheriting the request's context would keep that
        # request's thread executor alive for the whole run.
        task = loop.create_task(_drive_then_next(pk, drive), context=contextvars.Context())
        _tasks[pk] = task


async def _drive_then_next(pk, drive):
    try:
        await drive(pk)
    except Exception:
        log.exception("run %s crashed", pk)
    finally:
        _tasks.pop(pk, None)
        # A slot is free: the oldest queued run (if any) goes next.
        await start_queued()


def _oldest_queued(n):
    return list(
        Run.objects.filter(status="queued").order_by("created").values_list("pk", flat=True)[:n]
    )


def running_here():
    return {pk for pk, t in _tasks.items() if not t.done()}


async def wait_all(timeout=None):
    """Wait for this loop's runs to finish (tests and shutdown)."""
    tasks = [t for t in _tasks.values() if not t.done()]
    if tasks:
        await asyncio.wait(tasks, timeout=timeout)


def recover_after_restart():
    """Embedded mode, at start-up: runs that were live when the process died are
    interrupted (nothing else could be running them), and requeued if AUTO_RESUME."""
    stale = Run.objects.filter(status__in=LIVE)
    stale.update(status="interrupted", error="The site stopped while this run was live.")
    if settings.AUTO_RESUME:
        for run in Run.objects.filter(status="interrupted"):
            run.requeue()
