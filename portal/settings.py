"""Callbridge settings: every value comes from the environment (or an optional `.env`).

The README's configuration table lists each variable with its default. Development defaults
(DEBUG on, generated keys) are written to `var/dev.env` by `make run`, never assumed here: with
DEBUG off the portal refuses to start without real secrets.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

# Values that only make sense on a developer's laptop; refused in production.
_INSECURE_PREFIX = "insecure-"


def _require_secret(name: str, development_default: str) -> str:
    value = env.str(name, default="")
    if not DEBUG and (not value or value.startswith(_INSECURE_PREFIX)):
        raise ImproperlyConfigured(
            f"{name} must be set to a real secret when DEBUG is off "
            f"(see the configuration table in README.md)."
        )
    return value or development_default


SECRET_KEY = _require_secret("SECRET_KEY", f"{_INSECURE_PREFIX}secret-key-for-development-only")
# A fixed, public Fernet key: only ever used with DEBUG on and no ENCRYPTION_KEYS given.
_DEVELOPMENT_FERNET_KEY = "aW5zZWN1cmUtZGV2ZWxvcG1lbnQta2V5LTMyYnl0ZXM="
ENCRYPTION_KEYS = [
    key.strip()
    for key in _require_secret("ENCRYPTION_KEYS", _DEVELOPMENT_FERNET_KEY).split(",")
    if key.strip()
]

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = [
    "{0.scheme}://{0.netloc}".format(urlsplit(PUBLIC_BASE_URL)),
    *env.list("CSRF_TRUSTED_ORIGINS", default=[]),
]

OUTREACH_API_URL = env.str("OUTREACH_API_URL", default="https://api.outreach.io/api/v2")
OUTREACH_OAUTH_URL = env.str("OUTREACH_OAUTH_URL", default="https://api.outreach.io/oauth")
OUTREACH_CLIENT_ID = env.str("OUTREACH_CLIENT_ID", default="")
OUTREACH_CLIENT_SECRET = env.str("OUTREACH_CLIENT_SECRET", default="")
# How long to wait for Outreach's answer before treating it as lost (integrations/outreach/
# transport.py); the pipeline's lease is derived from it (calls/pipeline.py).
OUTREACH_TIMEOUT_SECONDS = env.float("OUTREACH_TIMEOUT_SECONDS", default=10.0)
# A call with no final state this long after its last event is asked of its provider (when the
# provider can say: the `fetch_call_state` capability), at most once per this period.
RECONCILE_AFTER_SECONDS = env.int("RECONCILE_AFTER_SECONDS", default=300)

# Click-to-dial (calls/dialling/): how long a dial waits for the provider to accept the call
# (transient refusals are tried again meanwhile; `initiated` never waits for it), and how long
# a dial the provider did not answer in time waits for the provider's events before it counts
# as failed.
DIAL_DEADLINE_SECONDS = env.float("DIAL_DEADLINE_SECONDS", default=8.0)
DIAL_CONFIRM_SECONDS = env.int("DIAL_CONFIRM_SECONDS", default=30)
# How long /readyz keeps the broker's answer in the shared cache: a probe (or someone hammering
# it) must not open a broker connection per request.
READYZ_BROKER_ANSWER_SECONDS = env.int("READYZ_BROKER_ANSWER_SECONDS", default=5)

# Twilio's REST API (integrations/twilio/rest.py): placing calls, asking how a call is doing and
# fetching recordings. The tests point it at a fake on loopback.
TWILIO_API_URL = env.str("TWILIO_API_URL", default="https://api.twilio.com").rstrip("/")

# Where a CCAI Platform connection's API is, from its subdomain and domain. Only the tests'
# local fake of the platform changes it.
CCAI_API_URL = env.str("CCAI_API_URL", default="https://{subdomain}.{domain}/apps/api/v1")

# Telephony provider classes beyond integrations/registry.py's, as dotted paths; each class's
# `kind` is its key (integrations/registry.py).
EXTRA_PROVIDERS = [path.strip() for path in env.list("EXTRA_PROVIDERS", default=[]) if path.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "portal",  # project-wide management commands (rotate_encryption_keys)
    "portal.audit",
    "portal.tenancy",
    "portal.accounts",
    "integrations",
    "integrations.outreach",
    "integrations.outreach.authorization",
    "integrations.ccai",
    "calls",
    "calls.retention",
]
# The Outreach sandbox (`manage.py outreach_sandbox`) is a development tool beside the product:
# present in a checkout, absent from the installed package.
if importlib.util.find_spec("outreach_sandbox") is not None:
    INSTALLED_APPS.append("outreach_sandbox")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Answers the browser extension's cross-origin requests to /api/ (portal/api_cors.py).
    "portal.api_cors.ExtensionCorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
                "portal.tenancy.context_processors.organizations",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'callbridge.db'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The quick start runs web, worker and beat against one SQLite file: WAL lets readers work
    # beside a writer, the busy timeout makes writers queue instead of failing, and IMMEDIATE
    # transactions take the write lock up front so two writers cannot deadlock on an upgrade.
    # Ordering and locking guarantees are only promised on PostgreSQL (README).
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ------------------------------------------------------------------------------------
# Sign-in limits (allauth's rate limits) and the readiness answer live here, so every web process
# must share it: Redis in production (`redis://host:6379/1`, another database than the broker's).
# The quick start's default is a file cache under var/, shared by its processes on one machine.
CACHES = {"default": env.cache_url("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}")}
# Refused webhooks an address may send per minute before it is answered 429 and no longer
# recorded (a correctly signed request is never limited: only refusals count).
WEBHOOK_REFUSALS_PER_MINUTE = env.int("WEBHOOK_REFUSALS_PER_MINUTE", default=60)

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # max_retries 0: a publish tries to connect once. Otherwise kombu sleeps 2 s before giving up
    # on a broker that refuses connections, and a webhook would wait that long per call it
    # touches (the fault tests saw it); the sweeper sends what could not be published.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "max_retries": 0}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes the database connection before and after every task unless told
# to reuse it: each task then opened a new PostgreSQL connection (a backend forked, its caches
# cold), which was most of a worker's time under load. Reuse it; portal/celery.py closes it
# between tasks when it is broken or older than CONN_MAX_AGE, as Django does between requests.
CELERY_DB_REUSE_MAX = 1000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # The database, not the broker, guarantees delivery: this re-sends whatever is due and was
    # not picked up (a task lost with a killed worker, or never sent while the broker was away).
    "sweep-due-calls": {"task": "calls.tasks.sweep_due_calls", "schedule": 5.0},
    # The reconciliation loop: quiet calls are asked of their provider, when it can say.
    "ask-providers-about-quiet-calls": {
        "task": "calls.tasks.ask_providers_about_quiet_calls",
        "schedule": 60.0,
    },
    # Providers whose webhooks may be lost (`polling`): their calls are asked about until final.
    "poll-providers": {"task": "calls.tasks.poll_providers", "schedule": 2.0},
    # Dials the provider did not confirm in time: placed once it reports them, else failed.
    "settle-unconfirmed-dials": {"task": "calls.tasks.settle_unconfirmed_dials", "schedule": 5.0},
    # Calls whose provider went quiet past the organisation's give-up deadline are closed.
    "close-unfinished-calls": {"task": "calls.tasks.close_unfinished_calls", "schedule": 60.0},
    # Outreach refresh tokens die after 14 days unused; keep idle connections alive.
    "outreach-refresh-idle-connections": {
        "task": "integrations.outreach.tasks.refresh_idle_connections",
        "schedule": 6 * 3600.0,
    },
    "outreach-prune-rate-windows": {
        "task": "integrations.outreach.tasks.prune_rate_windows",
        "schedule": 3600.0,
    },
    # Every table that grows has an end: each organisation's policy, in batches (calls/retention/).
    "apply-retention": {"task": "calls.retention.tasks.apply_retention", "schedule": 3600.0},
}
# Retention of what belongs to no organisation (per organisation: its Settings page). Audit
# entries are kept at least 30 days whatever is set here (the database's trigger says so).
RETENTION_PLATFORM_AUDIT_DAYS = env.int("RETENTION_PLATFORM_AUDIT_DAYS", default=365)
RETENTION_WEBHOOK_RECEIPT_DAYS = env.int("RETENTION_WEBHOOK_RECEIPT_DAYS", default=14)
# Outbound calls' first update has its own queue, so it never waits behind other calls' backlog.
# Workers consume both: `celery -A portal worker --queues urgent,celery`.
CELERY_TASK_DEFAULT_QUEUE = "celery"
# A webhook must not hang on a broker that is away: publish once, fail fast, the sweeper follows.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_CONNECTION_TIMEOUT = 2.0
CELERY_TIMEZONE = "UTC"

# --- Accounts (django-allauth) ----------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# Verified addresses matter: invitations are matched to people by email.
ACCOUNT_EMAIL_VERIFICATION = "optional" if DEBUG else "mandatory"
ACCOUNT_DEFAULT_HTTP_PROTOCOL = urlsplit(PUBLIC_BASE_URL).scheme or "https"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Callbridge] "
# Outreach is connected through allauth, which never signs anyone in with it
# (integrations/outreach/authorization/connect.py).
SOCIALACCOUNT_ADAPTER = "integrations.outreach.authorization.connect.OutreachConnectFlow"
SOCIALACCOUNT_PROVIDERS = {
    "outreach": {"APPS": [{"client_id": OUTREACH_CLIENT_ID, "secret": OUTREACH_CLIENT_SECRET}]}
}
# Behind a proxy every request comes from the proxy's address: allauth's per-IP limits then need
# to know how many proxies of ours append to X-Forwarded-For (the client is the address that
# many from the right), or which header a proxy puts the client's address in. Both are ignored
# when unset, because a client can write those headers itself.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("ALLAUTH_TRUSTED_PROXY_COUNT", default=0)
ALLAUTH_TRUSTED_CLIENT_IP_HEADER = env.str("ALLAUTH_TRUSTED_CLIENT_IP_HEADER", default="") or None
LOGIN_REDIRECT_URL = "home"
LOGIN_URL = "account_login"

EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Callbridge <noreply@localhost>")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
}

# --- Static files, i18n -----------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Production hardening (manage.py check --deploy is clean with DEBUG off) ------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # httpx logs every request at INFO, with its URL; our own attempt records say more.
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
