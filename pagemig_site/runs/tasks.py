"""The task db_worker executes in the scaled-out mode."""

from django.tasks import task

from .runner import drive, worker_name


@task()
async def run_simulation(run_pk):
    # db_worker calls this through async_to_sync: one event loop for the whole run, so
    # the channel layer keeps one Redis connection instead of opening one per frame.
    return await drive(run_pk, worker=worker_name())
