"""Settings for the SCRM backend. Only this module reads the environment.

With no DATABASE_URL / REDIS_URL the embedded defaults serve (a SQLite file, a filesystem
Celery broker, a file-based cache), so `make run` works on a bare machine. Production sets
DEBUG=false, and then SECRET_KEY and FIELD_ENCRYPTION_KEY are required.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from scrm.queues import TASK_QUEUES, TASK_ROUTES

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(str(BASE_DIR / ".env"))

# Runtime state of the embedded defaults (SQLite file, file broker and cache, collected static).
VAR_DIR = Path(env.str("SCRM_VAR_DIR", default="") or BASE_DIR / "var")

DEBUG = env.bool("DEBUG", default=False)
TESTING = env.bool("SCRM_TESTING", default=False)

_DEV_SECRET = "dev-insecure-secret-key-change-me"


def _required(name: str, dev_default: str) -> str:
    value = env.str(name, default="")
    if value:
        return value
    if DEBUG or TESTING:
        return dev_default
    raise ImproperlyConfigured(f"{name} must be set when DEBUG is off (see .env.example).")


SECRET_KEY = _required("SECRET_KEY", _DEV_SECRET)
if not DEBUG and not TESTING and (
    len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure-") or SECRET_KEY == _DEV_SECRET
):
    # Signs sessions, password resets and tracked links: a guessable key forges them.
    raise ImproperlyConfigured(
        "SECRET_KEY is too weak for production: use at least 50 characters, at least 5 of them different, "
        "not Django's 'django-insecure-' kind. Generate one: "
        "python -c \"import secrets; print(secrets.token_urlsafe(50))\""
    )
# Fernet keys, comma separated; the first encrypts, all decrypt (key rotation).
_dev_fernet = base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()
FIELD_ENCRYPTION_KEYS = [
    key.strip() for key in _required("FIELD_ENCRYPTION_KEY", _dev_fernet).split(",") if key.strip()
]
# Keyed hash for exact lookup of encrypted values (phones); independent of the Fernet key rotation.
LOOKUP_HASH_KEY = env.str("LOOKUP_HASH_KEY", default="") or hashlib.sha256(
    ("lookup:" + FIELD_ENCRYPTION_KEYS[-1]).encode()
).hexdigest()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"] if DEBUG or TESTING else ["localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Public base URL of this deployment; used to build callback URLs and tracked links.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # The console's theme: its templates override the admin's, so it comes before it. Its site is the
    # console's (audit/sites.py), installed by audit.sites.ConsoleAdminConfig in the admin's place.
    "unfold.apps.BasicAppConfig",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "audit.sites.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our own static files: no CDN
    "django_celery_beat",
    "audit",
    "accounts",
    "customers",
    "messaging",
    "campaigns",
    "menus",
    "console",
    # Project-wide management commands (scrm/management/commands: bench).
    "scrm",
    "devtools",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Operator writes through /api/v1/ into the audit trail (the admin's are recorded by audit.admin).
    "audit.middleware.ApiAuditMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "scrm.urls"
WSGI_APPLICATION = "scrm.wsgi.application"
ASGI_APPLICATION = "scrm.asgi.application"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default="")
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
else:
    _sqlite_path = Path(env.str("SQLITE_PATH", default="") or VAR_DIR / "scrm.sqlite3")
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": _sqlite_path}}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the web server, the worker and beat share the file without "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, Celery broker, WeChat token store, rate limiter ------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if TESTING and REDIS_URL and env.str("PYTEST_XDIST_WORKER", default=""):
    # Parallel test workers each get their own Redis database after the one REDIS_URL names
    # (db n: gw0 → n+1, gw1 → n+2), so two checkouts testing with dbs far enough apart never meet.
    _worker = int(env.str("PYTEST_XDIST_WORKER").lstrip("gw") or 0)
    _prefix, _slash, _db = REDIS_URL.rpartition("/")  # not `_`: that is gettext_lazy below
    REDIS_URL = f"{_prefix}/{(int(_db) if _db.isdigit() else 0) + 1 + _worker}"
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="scrm"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# The console's cached page chrome (console/templatetags/console_fragments.py): in each process's
# memory; everything a fragment shows is in its key, and a deploy restarts the processes.
CACHES["fragments"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "console-fragments",
    "OPTIONS": {"MAX_ENTRIES": 500},
}

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
if not REDIS_URL:
    _broker_dir = str(VAR_DIR / "broker")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": _broker_dir,
        "data_folder_out": _broker_dir,
        "processed_folder": str(VAR_DIR / "broker-processed"),
        # Without it kombu keeps its exchange table in ./control, wherever the process started.
        "control_folder": str(VAR_DIR / "broker-control"),
        "store_processed": False,
    }
    # Whichever process publishes first (seed_demo's history, a web request) finds the folders:
    # kombu's filesystem transport does not create them.
    for _folder in ("broker", "broker-processed", "broker-control"):
        (VAR_DIR / _folder).mkdir(parents=True, exist_ok=True)
else:
    # visibility_timeout: a task unacknowledged this long (worker died) is redelivered. It stays long
    # so that a legitimately long task (a large plan, a follower sync) is never run twice; campaign
    # dispatch does not wait for it: leases and the pump watchdog recover a dead worker's campaign in
    # seconds (campaigns/dispatch/liveness.py).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 600
# A cold shutdown (Ctrl-C, SIGQUIT, or SIGTERM with REMAP_SIGTERM=SIGQUIT as `make run` starts the
# worker) gives running tasks this long, then hands them back to their queue (acks_late).
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = env.float("CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT", default=3.0)
CELERY_TASK_SOFT_TIME_LIMIT = 540
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# django-celery-beat's DatabaseScheduler without the tasks the database cannot run (scrm/beat.py).
CELERY_BEAT_SCHEDULER = "scrm.beat:Scheduler"
CELERY_TASK_DEFAULT_QUEUE = "default"
# Queues per concern and which tasks go where (README "Scaling out").
CELERY_TASK_QUEUES, CELERY_TASK_ROUTES = TASK_QUEUES, TASK_ROUTES

# --- Auth, API ------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["scrm.permissions.OperatorModelPermissions"],
    "DEFAULT_PAGINATION_CLASS": "scrm.pagination.DefaultPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "scrm.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "mp_token": env.str("MP_THROTTLE_TOKEN", default="120/min"),
        "mp_ip": env.str("MP_THROTTLE_IP", default="600/min"),
        "mp_login_ip": env.str("MP_THROTTLE_LOGIN_IP", default="30/min"),
    },
}
# Mini-program API (/api/mp/v1/): customer sessions and the preference centre's topics.
MP_ACCESS_TOKEN_TTL_SECONDS = env.int("MP_ACCESS_TOKEN_TTL_SECONDS", default=2 * 3600)
MP_REFRESH_TOKEN_TTL_SECONDS = env.int("MP_REFRESH_TOKEN_TTL_SECONDS", default=30 * 24 * 3600)
# Tag groups (by name, case-insensitive) whose tags the preference centre offers as topics.
MP_TOPIC_TAG_GROUPS = env.list("MP_TOPIC_TAG_GROUPS", default=["topics"])
SPECTACULAR_SETTINGS = {
    "TITLE": "SCRM API",
    "DESCRIPTION": "Operator API (/api/v1/) and mini-program API (/api/mp/v1/).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # /api/docs/ must work on a deployment without internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    # Several models have a `kind`: name each choice set after its model, not KindE12Enum.
    "ENUM_NAME_OVERRIDES": {
        "ChannelCodeKindEnum": "messaging.channels.models.ChannelCodeKind",
        "SyncJobKindEnum": "messaging.channels.models.SyncJobKind",
        "MediaKindEnum": "messaging.channels.models.MediaKind",
        "SegmentKindEnum": "customers.segments.models.SegmentKind",
    },
    # Open in development, a login in production (settings.API_DOCS_PUBLIC, read per request).
    "SERVE_PERMISSIONS": ["scrm.permissions.ApiDocsPermission"],
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- i18n, time -----------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
# The operators' time zone: every console page shows times in it. Customers' own times (quiet
# hours, best send hour) use the customer's zone.
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
# Customers without a known time zone use their account's, which defaults to this.
DEFAULT_CUSTOMER_TIMEZONE = env.str("DEFAULT_CUSTOMER_TIMEZONE", default="Asia/Shanghai")

from scrm.console_navigation import UNFOLD  # noqa: E402,F401  (lazy URLs only, no models)

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# Development and tests serve static files straight from the apps (finders) without collectstatic,
# so STATIC_ROOT may not exist; production scans the collected files once at start.
WHITENOISE_AUTOREFRESH = DEBUG or TESTING

# --- WeChat ---------------------------------------------------------------------------------
WECHAT_API_BASE_URL = env.str("WECHAT_API_BASE_URL", default="https://api.weixin.qq.com/")
WECOM_API_BASE_URL = env.str("WECOM_API_BASE_URL", default="https://qyapi.weixin.qq.com/")
# Where `make run` starts the sandbox; demo accounts point here.
SANDBOX_BASE_URL = env.str("SANDBOX_BASE_URL", default="http://127.0.0.1:8900/")
# Sandboxes an account's API base URL may point at (comma separated base URLs). Only these receive
# sandbox registrations (app secret, token, EncodingAESKey) and API calls besides WeChat's own
# hosts (messaging/channels/hosts.py). Development: the local sandbox; production: none unless set.
WECHAT_SANDBOX_URLS = env.list("WECHAT_SANDBOX_URLS", default=[SANDBOX_BASE_URL] if DEBUG or TESTING else [])
# WeChat's daily API quotas (接口调用频次限制说明, "每日限额") count per day of the platform's own clock,
# Beijing time: a quota day ends at midnight Asia/Shanghai whatever the account's time zone.
WECHAT_QUOTA_TIMEZONE = "Asia/Shanghai"
WECHAT_HTTP_TIMEOUT = env.float("WECHAT_HTTP_TIMEOUT", default=5.0)
# Callback replay window in seconds; 0 disables the check (tests with WeChat's old sample vectors).
CALLBACK_REPLAY_WINDOW_SECONDS = env.int("CALLBACK_REPLAY_WINDOW_SECONDS", default=300)
CALLBACK_MAX_BODY_BYTES = env.int("CALLBACK_MAX_BODY_BYTES", default=64 * 1024)
# Seconds a web process keeps a callback account (and its auto-reply rules) in memory.
CALLBACK_ACCOUNT_CACHE_SECONDS = env.int("CALLBACK_ACCOUNT_CACHE_SECONDS", default=10)
# Routes an empty view at /callbacks/_bench/empty/: only for the bench_callbacks baseline.
CALLBACKS_BENCH_EMPTY_VIEW = env.bool("CALLBACKS_BENCH_EMPTY_VIEW", default=False)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=10 * 1024 * 1024)

# --- Logging: secrets never reach the log (see scrm.logging_filters) ------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "scrm.logging_filters.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Security in production (README "Security settings for production") ----------------------
_PRODUCTION = not DEBUG and not TESTING
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=_PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=_PRODUCTION)
# Behind a TLS-terminating proxy: the header (as Django names it in META) and the value meaning
# HTTPS, e.g. "HTTP_X_FORWARDED_PROTO,https". Set it only when the proxy overwrites that header.
_proxy_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
if _proxy_header:
    if len(_proxy_header) != 2:
        raise ImproperlyConfigured('SECURE_PROXY_SSL_HEADER is "<META name>,<value>", e.g. "HTTP_X_FORWARDED_PROTO,https".')
    SECURE_PROXY_SSL_HEADER = (_proxy_header[0], _proxy_header[1])
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if _PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=_PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=_PRODUCTION)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_PRODUCTION)
# Never redirected to HTTPS: load balancers probe /healthz over plain HTTP. (The callback URLs skip
# the middleware altogether, messaging/callbacks/wsgi.py: WeChat calls the URL exactly as it is
# configured in its console and does not follow a redirect.)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^callbacks/"]
# /api/schema/ and /api/docs/ are open in development, need a login in production.
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=DEBUG or TESTING)
# Failed logins (admin and /api/v1/auth/token/) allowed per window for one username from one
# address (and 4x that for one username from anywhere) before logins are refused (scrm/login_throttle.py).
LOGIN_THROTTLE_FAILURES = env.int("LOGIN_THROTTLE_FAILURES", default=5)
LOGIN_THROTTLE_WINDOW_SECONDS = env.int("LOGIN_THROTTLE_WINDOW_SECONDS", default=900)
AUTHENTICATION_BACKENDS = ["scrm.login_throttle.LoginThrottleBackend"]


# --- Campaign dispatch ------------------------------------------------------------------------
# How long one dispatch task works before handing over to a fresh task (keeps tasks short).
CAMPAIGN_DISPATCH_SLICE_SECONDS = env.float("CAMPAIGN_DISPATCH_SLICE_SECONDS", default=20.0)
# Dispatch tasks started per campaign, and sending threads inside each.
CAMPAIGN_DISPATCH_CONCURRENCY = env.int("CAMPAIGN_DISPATCH_CONCURRENCY", default=2)
CAMPAIGN_DISPATCH_THREADS = env.int("CAMPAIGN_DISPATCH_THREADS", default=8)
# A claimed delivery is a lease of this long, renewed by its live pump every quarter of it; once it
# has lapsed (the worker died) the watchdog hands the row back (campaigns/dispatch/liveness.py).
CAMPAIGN_CLAIM_LEASE_SECONDS = env.float("CAMPAIGN_CLAIM_LEASE_SECONDS", default=20.0)
# A sending campaign whose pumps showed no life for this long (past their next slice's due time) is
# re-pumped by the watchdog (beat, every 10 s, scrm/celery.py): with the lease, a campaign resumes
# within about lease + watchdog period (30 s) of its worker's death.
CAMPAIGN_PUMP_STALL_SECONDS = env.float("CAMPAIGN_PUMP_STALL_SECONDS", default=20.0)
# The send rate limit as WeChat counts it (messaging/channels/ratelimit.py): a grant older than this
# when its request leaves is replaced; any 1 s + JITTER holds at most the limit's grants.
RATE_LIMIT_PERMIT_MAX_AGE = env.float("RATE_LIMIT_PERMIT_MAX_AGE", default=0.05)
RATE_LIMIT_JITTER_SECONDS = env.float("RATE_LIMIT_JITTER_SECONDS", default=0.1)
# The console wizard's link check: hosts (and their subdomains) campaign links may point to; empty
# accepts any https host.
CAMPAIGN_LINK_DOMAINS = env.list("CAMPAIGN_LINK_DOMAINS", default=[])

# --- Engagement ---------------------------------------------------------------------------------
# Raw engagement events older than this are rolled up into daily aggregates and deleted.
ENGAGEMENT_RETENTION_DAYS = env.int("ENGAGEMENT_RETENTION_DAYS", default=180)

# --- Benchmarks -----------------------------------------------------------------------------
# Population size for `make bench` (python manage.py bench); a small value makes a quick run.
BENCH_CUSTOMERS = env.int("BENCH_CUSTOMERS", default=1_000_000)
