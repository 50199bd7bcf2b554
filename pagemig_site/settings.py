"""pagemig site settings: one module, configured from the environment.

With no environment at all the site runs on the embedded default (SQLite under data/,
the in-memory channel layer, runs executed inside the Daphne process). DATABASE_URL and
REDIS_URL switch to the scaled-out mode; nothing else changes. See docs/deploy.md.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name, default):
    return os.getenv(name, default).lower() in ("1", "true", "yes", "on")


def envint(name, default):
    return int(os.getenv(name, default))


def envfloat(name, default):
    return float(os.getenv(name, default))


def envlist(name, default):
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


PAGEMIG_ENV = os.getenv("PAGEMIG_ENV", "development")
PRODUCTION = PAGEMIG_ENV == "production"

if PRODUCTION:
    # Production must bring its own secret: fail loudly rather than run with a known one.
    SECRET_KEY = os.environ["SECRET_KEY"]
else:
    SECRET_KEY = os.getenv(
        "SECRET_KEY", "pagemig-development-key-not-for-production-use-0123456789"
    )

# DEBUG stays off by default even in development: with DEBUG on Django records every
# SQL query in memory, which a long-running simulation loop turns into a leak.
DEBUG = envbool("DEBUG", "False")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
SITE_ROOT = os.getenv("SITE_ROOT", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    # daphne first so that `runserver` also serves WebSockets.
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks_db",
    "pagemig_site.accounts",
    "pagemig_site.runs",
    "pagemig_site.sharing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "pagemig_site.urls"
ASGI_APPLICATION = "pagemig_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "pagemig_site.accounts.context_processors.site",
            ],
        },
    },
]

# The default is SQLite so that a fresh checkout runs with one command and nothing else.
# WAL lets readers proceed while the run loop writes; the busy timeout and IMMEDIATE
# transactions make concurrent writers queue for the lock instead of failing with
# "database is locked" halfway through a transaction.
DATA_DIR = Path(os.getenv("PAGEMIG_DATA_DIR", BASE_DIR / "data"))
DATABASE_URL = os.getenv("DATABASE_URL", "")
if DATABASE_URL:
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.getenv("SQLITE_PATH", str(DATA_DIR / "pagemig.sqlite3")),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            "TEST": {
                # Channels' live-server tests and the runner's threads need a file, not
                # an in-memory database that each connection would see empty; one per
                # test process so two test runs in one checkout cannot collide.
                "NAME": str(DATA_DIR / f"test-pagemig-{os.getpid()}.sqlite3"),
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channel layer and run execution: Redis means several processes, so frames travel
# through channels_redis and runs are queued for `manage.py db_worker`; otherwise one
# process holds everything in memory and runs execute on its event loop.
REDIS_URL = os.getenv("REDIS_URL", "")
# Keys and pub/sub topics of this site in Redis start with this (several sites, or test
# runs, can share one Redis).
REDIS_PREFIX = os.getenv("PAGEMIG_REDIS_PREFIX", "pagemig")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": REDIS_PREFIX,
                # Frames are published once per process-local hub, not per viewer, so a
                # modest capacity is plenty; an overflow drops frames, which keyframes heal.
                "capacity": envint("PAGEMIG_REDIS_CAPACITY", "200"),
                "expiry": 60,
            },
        }
    }
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    RUN_EXECUTION = "worker"
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    RUN_EXECUTION = "inprocess"
RUN_EXECUTION = os.getenv("PAGEMIG_RUN_EXECUTION", RUN_EXECUTION)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "runs:index"
LOGOUT_REDIRECT_URL = "runs:index"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Daphne serves /static/ itself unless a proxy in front does (docs/deploy.md).
SERVE_STATIC = envbool("PAGEMIG_SERVE_STATIC", "True")

# Security. The WebSocket Origin check (AllowedHostsOriginValidator) is the CSRF defence
# for sockets; CSP forbids inline scripts, so every page script is a file under static/js.
from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
}
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if PRODUCTION:
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "True")
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "31536000")
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"pagemig_site": {"handlers": ["console"], "level": "INFO"}},
}

# pagemig: limits and run tuning ---------------------------------------------------
# On the embedded default a "local" user may start runs without signing up (a button on
# the login page, accepted only from loopback addresses). Off in production.
LOCAL_USER_ENABLED = envbool("PAGEMIG_LOCAL_USER", "False" if PRODUCTION else "True")
# Pages per run by role; anonymous visitors cannot create runs at all.
PAGES_CAP = {
    "student": envint("PAGEMIG_PAGES_CAP_STUDENT", "262144"),
    "teacher": envint("PAGEMIG_PAGES_CAP_TEACHER", "4194304"),
}
RUNS_PER_USER = envint("PAGEMIG_RUNS_PER_USER", "3")
MAX_CONCURRENT_RUNS = envint("PAGEMIG_MAX_CONCURRENT_RUNS", "4")
MAX_FPS = envfloat("PAGEMIG_MAX_FPS", "30")
MAX_FRAMES_PER_RUN = envint("PAGEMIG_MAX_FRAMES", "100000")
RUN_WALL_CLOCK_LIMIT = envfloat("PAGEMIG_RUN_WALL_CLOCK_LIMIT", "3600")
KEYFRAME_EVERY = envint("PAGEMIG_KEYFRAME_EVERY", "60")
DISPLAY_MAX_CELLS = envint("PAGEMIG_DISPLAY_MAX_CELLS", "262144")
HEARTBEAT_INTERVAL = envfloat("PAGEMIG_HEARTBEAT_INTERVAL", "2")
HEARTBEAT_TIMEOUT = envfloat("PAGEMIG_HEARTBEAT_TIMEOUT", "10")
AUTO_RESUME = envbool("PAGEMIG_AUTO_RESUME", "True")
SOCKETS_PER_USER = envint("PAGEMIG_SOCKETS_PER_USER", "8")
WS_MAX_MESSAGE_BYTES = envint("PAGEMIG_WS_MAX_MESSAGE_BYTES", "4096")
FLOW_WINDOW = envint("PAGEMIG_FLOW_WINDOW", "4")
# Token buckets: (requests, per seconds), shared by all processes through the database.
RATE_LIMITS = {
    "login": (envint("PAGEMIG_RATE_LOGIN", "20"), 60),
    "signup": (envint("PAGEMIG_RATE_SIGNUP", "5"), 3600),
    "run_create": (envint("PAGEMIG_RATE_RUN_CREATE", "30"), 60),
}
