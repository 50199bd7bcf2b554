import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAGEMIG_", "DJANGO_"))}
    env.update(
        PAGEMIG_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="pagemig.example.org",
        **extra,
    )
    return env


def test_check_deploy_is_clean_with_production_settings():
    r = run_manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no issues" in r.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = production_env()
    del env["SECRET_KEY"]
    r = run_manage("check", env=env)
    assert r.returncode != 0 and "SECRET_KEY" in r.stderr


def test_production_disables_the_local_user():
    code = "from django.conf import settings; print(settings.LOCAL_USER_ENABLED, settings.DEBUG)"
    r = run_manage("shell", "-c", code, env=production_env())
    assert r.stdout.strip().splitlines()[-1] == "False False", r.stdout + r.stderr
