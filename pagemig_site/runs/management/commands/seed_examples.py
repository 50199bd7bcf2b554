"""Create the public example runs, one per engine preset, and run them to the end."""

import asyncio

from django.core.management.base import BaseCommand

from pagemig_site.runs.models import Run


class Command(BaseCommand):
    help = "Create and run one public example per engine preset (skips existing ones)."

    def handle(self, **options):
        import simulator

        presets = getattr(simulator, "PRESETS", None)
        if not presets:
            self.stdout.write("The engine has no presets yet; no examples created.")
            return
        for name in sorted(presets):
            title = f"Example: {name}"
            if Run.objects.filter(
                is_example=True,
                title=title,
                engine_version=simulator.ENGINE_VERSION,
                status="succeeded",
            ).exists():
                continue
            Run.objects.filter(is_example=True, title=title).delete()
            scenario = simulator.Scenario.from_dict(presets[name])
            run = Run.objects.create(
                title=title,
                is_example=True,
                scenario=scenario.to_dict(),
                seed=int(scenario.data["seed"]),
                profile=scenario.data["profile"],
                engine_version=simulator.ENGINE_VERSION,
                total_pages=int(scenario.total_pages),
            )
            from pagemig_site.runs.runner import drive

            # Unpaced: the example only needs its log; replays are paced at run.fps.
            status = asyncio.run(drive(run.pk, worker="seed_examples", paced=False))
            self.stdout.write(f"{title}: {status}")
