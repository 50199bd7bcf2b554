"""Mark runs whose producer died (no heartbeat) interrupted, and optionally resume them."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from pagemig_site.runs.models import Run


class Command(BaseCommand):
    help = "Detect stale runs (scaled-out mode); --every N keeps sweeping every N seconds."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=0)
        parser.add_argument("--resume", action="store_true", default=settings.AUTO_RESUME)
        parser.add_argument("--no-resume", action="store_false", dest="resume")

    def handle(self, every, resume, **options):
        while True:
            close_old_connections()
            self.sweep(resume)
            if not every:
                return
            time.sleep(every)

    def sweep(self, resume):
        from pagemig_site.runs.tasks import run_simulation

        for run in Run.sweep_stale():
            self.stdout.write(f"run {run.code} interrupted (no heartbeat)")
            if resume and settings.RUN_EXECUTION == "worker" and run.requeue():
                run_simulation.enqueue(run.pk)
                self.stdout.write(f"run {run.code} queued to resume from its snapshot")
        self.stdout.flush()
