"""Serve the site with Daphne (HTTP + WebSockets) and print its URL."""

import asyncio
import contextvars
import os

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve pagemig with Daphne; on the embedded default runs execute in this process."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.getenv("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.getenv("PORT", "8000")))

    def handle(self, host, port, **options):
        # Importing daphne.server installs Twisted's asyncio reactor; it must come first.
        from channels.routing import get_default_application
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        from pagemig_site.runs import execution

        inprocess = settings.RUN_EXECUTION == "inprocess"
        if inprocess:
            # Nothing else can be running this process's runs: whatever was live when
            # it last stopped was interrupted, and resumes from its snapshot.
            execution.recover_after_restart()

        def ready():
            shown = f"[{host}]" if ":" in host else host
            self.stdout.write(f"pagemig is serving on http://{shown}:{port}/", ending="\n")
            self.stdout.flush()
            if inprocess:
                loop = asyncio.get_event_loop()
                loop.create_task(execution.start_queued(), context=contextvars.Context())

        server = Server(
            application=get_default_application(),
            endpoints=build_endpoint_description_strings(host=host, port=port),
            ready_callable=ready,
            # Clients send small JSON ops; anything big is an attack or a bug.
            websocket_max_message_size=64 * 1024,
            websocket_max_frame_size=64 * 1024,
            verbosity=0,
        )
        profile = os.getenv("PAGEMIG_PROFILE")
        if profile:
            # Developer aid for benchmarks: cProfile of the whole process, written on exit.
            import cProfile

            cProfile.runctx("server.run()", globals(), {"server": server}, profile)
        else:
            server.run()
