"""Settings of the Tracing Command Center, all read from the environment (see tracing_center/env.py).

scripts/run.py and scripts/test.py set DATABASE_URL and REDIS_URL to the embedded servers when they
are not given; production sets them (and SECRET_KEY, ALLOWED_HOSTS) explicitly.
"""

from datetime import timedelta
from pathlib import Path

from .env import (
    env_bool,
    env_choice,
    env_database,
    env_int,
    env_list,
    env_redis,
    env_str,
    redis_for_test_worker,
    xdist_worker_index,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "insecure-development-key-never-use-in-production" if DEBUG else None)
if SECRET_KEY is None:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off.")
ALLOWED_HOSTS = (
    env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"]) if DEBUG else env_list("ALLOWED_HOSTS")
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "auditlog",
    "django_htmx",
    "django_otp",  # Security: two-factor login (TOTP)
    "django_otp.plugins.otp_totp",
    "axes",  # Security: login lockout
    "csp",  # Security: Content-Security-Policy header
    "tasks",
    "reviews",
    "monitoring",  # monitoring → reviews → tasks
    "notices",  # notices → monitoring → reviews → tasks
    "reports",
    "duty",  # duty operations: built on all of the above
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # Security
    "tracing_center.body_limits.BodyLimitMiddleware",  # before anything reads the body
    "tracing_center.input_guard.QueryStringGuardMiddleware",  # NUL / lone surrogates in a parameter: 400
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # Security: request.user.is_verified()
    "django.contrib.messages.middleware.MessageMiddleware",
    "tasks.security_middleware.IdleTimeoutMiddleware",  # Security
    "tasks.security_middleware.SecondFactorMiddleware",  # Security
    "tasks.security_middleware.PrivateResponseMiddleware",  # Security
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    "axes.middleware.AxesMiddleware",  # Security: last, turns a lockout into the lockout page
]

ROOT_URLCONF = "tracing_center.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tasks.context_processors.navigation",
                "monitoring.context_processors.monitoring",
            ],
        },
    },
]

WSGI_APPLICATION = "tracing_center.wsgi.application"
ASGI_APPLICATION = "tracing_center.asgi.application"

DATABASES = {"default": env_database("DATABASE_URL")}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})
# No JIT compilation. The statements here are short lookups, or set-based writes over many rows whose
# cost is index maintenance; the planner's row estimates for CTEs and trigger transition tables are rough
# and large enough to start JIT, which then compiles for about a second (measured: 0.9 s of a 100,000-task
# dispatch, 0.5 to 2 s per statement of an intake batch) to save nothing. A URL that sets jit wins.
_connection_options = DATABASES["default"]["OPTIONS"].get("options", "")
if "jit" not in _connection_options:
    DATABASES["default"]["OPTIONS"]["options"] = f"{_connection_options} -c jit=off".strip()
if env_bool("DATABASE_POOL", False):
    # Django's built-in psycopg pool: for gunicorn workers in production (see docker-compose.yml).
    DATABASES["default"]["OPTIONS"]["pool"] = {"min_size": 2, "max_size": env_int("DATABASE_POOL_MAX", 10)}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60, minimum=0)

# Read replica (tracing_center/db_router.py, docs/operations-reliability.md): statistics, dashboards and
# exports read from it while it answers and lags at most REPLICA_MAX_LAG_SECONDS; else from the primary.
REPLICA_MAX_LAG_SECONDS = env_int("REPLICA_MAX_LAG_SECONDS", 30, minimum=0)
REPLICA_CHECK_SECONDS = env_int("REPLICA_CHECK_SECONDS", 5, minimum=0)
if env_str("DATABASE_REPLICA_URL", ""):
    DATABASES["replica"] = env_database("DATABASE_REPLICA_URL")
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["replica"].setdefault("OPTIONS", {})
    DATABASES["replica"]["OPTIONS"].setdefault(
        "connect_timeout", env_int("REPLICA_CONNECT_TIMEOUT", 2, minimum=1)
    )
    DATABASES["replica"]["OPTIONS"]["options"] = DATABASES["default"]["OPTIONS"].get("options", "")
    DATABASES["replica"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60, minimum=0)
    # The test suite has no second server: the replica alias reads the test database.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["tracing_center.db_router.ReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "tasks.User"

AUTHENTICATION_BACKENDS = [
    "tasks.security.LockoutBackend",  # Security: django-axes, first
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ["username", "full_name", "email", "phone"]},
    },
    # Security (issue 9): 12 characters from at least 3 of 4 classes (GB/T 22239 "complexity").
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "tasks.security.CharacterClassesValidator", "OPTIONS": {"min_classes": 3}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
ACTIVATION_CODE_TTL = timedelta(hours=env_int("ACTIVATION_CODE_TTL_HOURS", 72, minimum=1))
# API tokens (tasks/tokens.py): a personal token lasts one duty shift by default; machine integration
# tokens are made by an administrator and renewed before they end.
API_TOKEN_LIFETIME = timedelta(hours=env_int("API_TOKEN_LIFETIME_HOURS", 12, minimum=1))
INTEGRATION_TOKEN_LIFETIME = timedelta(days=env_int("INTEGRATION_TOKEN_LIFETIME_DAYS", 90, minimum=1))

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# STATIC_COMPRESS=false keeps the hashed names and the manifest but skips the gzip/brotli copies (the
# suite's production-static run: compressing the API docs' bundles takes minutes on a busy machine).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            (
                "whitenoise.storage.CompressedManifestStaticFilesStorage"
                if env_bool("STATIC_COMPRESS", True)
                else "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
            )
            if env_bool("STATIC_MANIFEST", not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Without the manifest (development, tests) files are served straight from the app and static dirs.
WHITENOISE_USE_FINDERS = not env_bool("STATIC_MANIFEST", not DEBUG)
WHITENOISE_AUTOREFRESH = DEBUG
# Request bodies (tracing_center/body_limits.py, docs/operations-reliability.md): Django's default 2.5 MB
# everywhere, except the lead API, whose limit fits its maximum of 10,000 leads per request (about
# 0.5-1 KB a realistic row; 2 KB a row of every field at its longest).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440, minimum=1024)
LEAD_API_PATH = "/api/v1/leads/"
# The lab results feed takes as many rows a request as the lead API, and gets the same body limit.
LARGE_BODY_API_PATHS = (LEAD_API_PATH, "/api/v1/test-results/")
LEAD_API_MAX_BODY_BYTES = env_int("LEAD_API_MAX_BODY_BYTES", 20 * 1024 * 1024, minimum=1024)
# Lead files uploaded in the browser (tasks/uploads.py): above UPLOAD_INLINE_BYTES the preview and the
# import run as Celery jobs with a progress page; an upload stops past UPLOAD_MAX_ROWS rows; an XLSX
# must not unpack to more than UPLOAD_XLSX_MAX_UNCOMPRESSED_MB; at most UPLOAD_MAX_COLUMNS are read a row.
UPLOAD_INLINE_BYTES = env_int("UPLOAD_INLINE_BYTES", 1024 * 1024, minimum=0)
UPLOAD_MAX_ROWS = env_int("UPLOAD_MAX_ROWS", 500_000, minimum=1)
UPLOAD_XLSX_MAX_UNCOMPRESSED_MB = env_int("UPLOAD_XLSX_MAX_UNCOMPRESSED_MB", 256, minimum=1)
UPLOAD_MAX_COLUMNS = env_int("UPLOAD_MAX_COLUMNS", 64, minimum=1)
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tracing_center.api_auth.SessionAuthentication",  # 401 + WWW-Authenticate when not logged in
        "tasks.api.auth.ExpiringTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "tracing_center.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # JSON that PostgreSQL cannot store (NUL, lone surrogates) or nested too deep: 400 naming the value.
    "DEFAULT_PARSER_CLASSES": [
        "tracing_center.input_guard.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "tracing_center.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tracing Command Center API",
    "DESCRIPTION": "Leads in; tasks, clocks, reviews, reports and statistics out. All data is scoped "
    "to the caller's territory: objects outside it answer 404.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation documents the error answers it can give (tracing_center/api_schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tracing_center.api_schema.add_error_responses",
    ],
    # Several models have a `status`/`state`/`source` with different choices: name each enum.
    "ENUM_NAME_OVERRIDES": {
        "TaskStatusEnum": "tasks.models.tracing.TaskStatus",
        "LeadSourceEnum": "tasks.models.intake.Source",
        "BatchStatusEnum": "tasks.models.intake.IntakeBatch.Status",
        "TransferStatusEnum": "tasks.models.workflow.Transfer.Status",
        "ReviewStateEnum": "reviews.models.ReviewState",
        "NoticeStateEnum": "notices.models.NoticeState",
        "NoticeSourceEnum": "notices.models.NoticeSource",
        "TaskKindEnum": "tasks.models.tracing.TaskKind",
        "TaskOutcomeEnum": "tasks.models.tracing.TaskOutcome",
        "PersonMeasureEnum": "reviews.models.PersonMeasure",
        "RadiusMeasureEnum": "tasks.models.fieldwork.RadiusControl.Measure",
        "TaskPriorityEnum": "tasks.models.tracing.Priority",
        "OrderPriorityEnum": "duty.models.orders.OrderPriority",
        "OrderStateEnum": "duty.models.orders.OrderState",
        "PeriodStateEnum": "monitoring.models.periods.PeriodState",
        "SampleStateEnum": "monitoring.models.periods.SampleState",
        "TestResultValueEnum": "tasks.models.fieldwork.TestResult.Result",
        "LabResultValueEnum": "monitoring.models.labs.LabResultValue",
    },
}

# Celery: Redis broker; the periodic jobs are CELERY_BEAT_SCHEDULE at the end of this file.
# In a parallel test run (pytest-xdist) each worker takes its own Redis database: redis_for_test_worker.
REDIS_URL = redis_for_test_worker("REDIS_URL", env_redis("REDIS_URL"))
CELERY_BROKER_URL = redis_for_test_worker(
    "CELERY_BROKER_URL", env_redis("CELERY_BROKER_URL", env_redis("REDIS_URL"))
)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# A publish from a request (tracing_center/enqueue.py) gives up quickly when the broker is down: the
# write has committed, the failure is logged, and the periodic job that owns the work catches up.
CELERY_BROKER_CONNECTION_TIMEOUT = env_int("CELERY_BROKER_CONNECTION_TIMEOUT", 2, minimum=1)
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = env_str(
    "CELERY_BEAT_SCHEDULE_FILENAME", str(BASE_DIR / ".local" / "celerybeat-schedule")
)
if xdist_worker_index() is not None:  # parallel test workers: a beat schedule file each
    CELERY_BEAT_SCHEDULE_FILENAME += f"-gw{xdist_worker_index()}"

# Guardian: anonymous users get no object permissions at all.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

AUDITLOG_INCLUDE_ALL_MODELS = False

# The clocks of the closed loop (DESIGN.md); durations in minutes, configurable per deployment.
INTAKE_INTERVAL_MINUTES = env_int("INTAKE_INTERVAL_MINUTES", 10, minimum=1)
DISPATCH_WINDOW_MINUTES = env_int("DISPATCH_WINDOW_MINUTES", 30, minimum=1)
RADIUS_WINDOW_MINUTES = env_int("RADIUS_WINDOW_MINUTES", 180, minimum=1)
TRACE_WINDOW_MINUTES = env_int("TRACE_WINDOW_MINUTES", 600, minimum=1)
# Work types (docs/worktypes.md): a verification is answered within VERIFY_WINDOW_MINUTES of dispatch, a
# returnee registered within REGISTER_WINDOW_MINUTES; a closed task may be reopened for REOPEN_DAYS.
VERIFY_WINDOW_MINUTES = env_int("VERIFY_WINDOW_MINUTES", 240, minimum=1)
REGISTER_WINDOW_MINUTES = env_int("REGISTER_WINDOW_MINUTES", 1440, minimum=1)
REOPEN_DAYS = env_int("REOPEN_DAYS", 14, minimum=1)
# Database connections a large deadline sweep may use at once (tasks/sweep.py): one per core the
# database server can give it.
SWEEP_WORKERS = env_int("SWEEP_WORKERS", 2, minimum=1)
CLOCK_WARNING_FRACTION = 0.8
# Who gets a dispatched task (tasks/dispatch.py): the sub-unit member with the fewest open tasks
# ("least_load"), or nobody, the sub-unit leader assigning it ("leader").
DISPATCH_ASSIGN_MODE = env_choice("DISPATCH_ASSIGN_MODE", "least_load", ["least_load", "leader"])

# Outgoing e-mail (Django's settings, here with Django's defaults so that a deployment sets them by env).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "webmaster@localhost")

# Outbox (tasks/outbox/, docs/outbox.md): staff notifications leave through these channels (the in-app
# row is always written). ADDRESS is the account field holding the address; KINDS / LEVELS (optional)
# restrict what a channel carries. BACKEND: tasks.notify.ConsoleBackend, FileBackend, LocMemBackend,
# DjangoEmailBackend (sends through EMAIL_BACKEND) or HttpGatewayBackend (the signed SMS gateway).
NOTIFICATION_SMS_BACKEND = env_str("NOTIFICATION_SMS_BACKEND", "tasks.notify.ConsoleBackend")
NOTIFICATION_EMAIL_BACKEND = env_str("NOTIFICATION_EMAIL_BACKEND", "tasks.notify.ConsoleBackend")
NOTIFICATION_CHANNELS = {
    "sms": {
        "BACKEND": NOTIFICATION_SMS_BACKEND,
        "ADDRESS": "phone",
        "KINDS": ["escalation", "transfer_requested", "monitoring"],
        "LEVELS": ["breach"],
        "OPTIONS": (
            {
                "url": env_str("NOTIFICATION_SMS_GATEWAY_URL", ""),
                "secret": env_str("NOTIFICATION_SMS_GATEWAY_SECRET", ""),
                "timeout": env_int("NOTIFICATION_SMS_GATEWAY_TIMEOUT", 5, minimum=1),
            }
            if NOTIFICATION_SMS_BACKEND.endswith("HttpGatewayBackend")
            else {}
        ),
    },
    "email": {"BACKEND": NOTIFICATION_EMAIL_BACKEND, "ADDRESS": "email"},
}
# A failing delivery is retried with backoff, then failed for good; one older than the cut-off is not sent.
NOTIFICATION_MAX_ATTEMPTS = env_int("NOTIFICATION_MAX_ATTEMPTS", 5, minimum=1)
NOTIFICATION_LATE_CUTOFF_MINUTES = env_int("NOTIFICATION_LATE_CUTOFF_MINUTES", 360, minimum=1)

# A keyed hash of identity numbers and phones is what persons are matched on; the key must not be the
# SECRET_KEY so that rotating one does not silently re-key the other.
PERSON_HASH_KEY = env_str("PERSON_HASH_KEY", "development-person-hash-key" if DEBUG else SECRET_KEY)

# Encryption at rest of resident ID numbers and phones (tasks/crypto.py, docs/encryption.md): comma-separated
# 32-byte urlsafe-base64 keys, the first encrypts, all decrypt (rotation: put the new key first, run
# `manage.py rotate_encryption_keys`, then drop the old one). Separate from PERSON_HASH_KEY (the blind
# index) and from SECRET_KEY. In DEBUG a development key derived from SECRET_KEY is used when unset.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", [])
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is required when DEBUG is off (docs/encryption.md). Generate a key with: "
            'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
        )
    import base64 as _b64
    import hashlib as _hashlib

    FIELD_ENCRYPTION_KEYS = [
        _b64.urlsafe_b64encode(_hashlib.sha256(f"field-encryption|{SECRET_KEY}".encode()).digest()).decode()
    ]
for _key in FIELD_ENCRYPTION_KEYS:
    import base64 as _b64

    try:
        _ok = len(_b64.urlsafe_b64decode(_key + "=" * (-len(_key) % 4))) == 32
    except ValueError:
        _ok = False
    if not _ok:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS: each key must be 32 bytes in urlsafe base64 (Fernet.generate_key())."
        )

# Error pages and mails show URL settings (REDIS_URL, DATABASE_URL, ...) without their passwords.
DEFAULT_EXCEPTION_REPORTER_FILTER = "tracing_center.error_reporting.SafeExceptionReporterFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Reviews ------------------------------------------------------------------------------------------
# Expert review (issue 6, reviews/): the return clock, the tile server of the review map, and the
# thresholds of the automatic consistency findings (reviews/findings.py).

# A task returned to the field team must be resubmitted within this many minutes.
REVIEW_RETURN_WINDOW_MINUTES = env_int("REVIEW_RETURN_WINDOW_MINUTES", 120, minimum=1)
# Tile URL template for the review map, e.g. "https://tiles.example.gov.cn/{z}/{x}/{y}.png" (a server
# the deployment runs or licenses). Empty: no tiles, the trajectory points still show on a plain grid.
MAP_TILE_URL = env_str("MAP_TILE_URL", "")
MAP_TILE_ATTRIBUTION = env_str("MAP_TILE_ATTRIBUTION", "")
# Investigated window: from REVIEW_WINDOW_DAYS before the task's reference date (the earliest
# reported_at of its leads, else its creation) until the submission.
REVIEW_WINDOW_DAYS = env_int("REVIEW_WINDOW_DAYS", 14, minimum=1)
# A stretch of the window with no trajectory entry longer than this is an "unexplained gap".
REVIEW_GAP_HOURS = env_int("REVIEW_GAP_HOURS", 12, minimum=1)
# A positive test needs a trajectory for each of the 24-hour stretches this many days before its sample.
REVIEW_POSITIVE_LOOKBACK_DAYS = env_int("REVIEW_POSITIVE_LOOKBACK_DAYS", 3, minimum=1)
# Highest plausible speed per declared means of transport (km/h), checked between consecutive located
# entries. Override with REVIEW_SPEED_LIMITS_KMH="walk=8,car=150,..." (merged over these defaults);
# "default" applies to a mode that is not listed.
REVIEW_SPEED_LIMITS_KMH = {
    # The keys are TrajectoryEntry.Transport values (tasks/models/fieldwork.py).
    "walk": 8,
    "bicycle": 45,  # bicycle / e-bike
    "private_car": 150,
    "taxi": 150,
    "bus": 100,
    "metro": 120,
    "train": 380,  # includes high-speed rail
    "flight": 1000,
    "ship": 60,
    "other": 150,
    "default": 150,  # none declared ("none / stayed") or not listed here
}
for _pair in env_list("REVIEW_SPEED_LIMITS_KMH", []):
    _mode, _sep, _limit = _pair.partition("=")
    if not _sep or not _limit.strip().isdigit() or int(_limit) <= 0:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"REVIEW_SPEED_LIMITS_KMH: {_pair!r} is not mode=positive integer km/h.")
    REVIEW_SPEED_LIMITS_KMH[_mode.strip()] = int(_limit)
# Two located entries closer than this (km) are never "impossible travel" (geocoding noise).
REVIEW_SPEED_MIN_DISTANCE_KM = env_int("REVIEW_SPEED_MIN_DISTANCE_KM", 2, minimum=0)


# Security (issue 9) ---------------------------------------------------------------------------------
# Two-factor login, lockout, idle timeout, HTTP hardening, access log, watermark, retention.
# docs/security.md explains each choice. Production defaults apply whenever DEBUG is off.
from csp.constants import NONE as _CSP_NONE  # noqa: E402
from csp.constants import SELF as _CSP_SELF  # noqa: E402

# -- Two-factor login (django-otp, TOTP). These roles must enrol a TOTP device and enter a code after
# the password; superusers always must. Pages redirect to the code page, session API calls answer 403,
# and the API token endpoint wants `otp_token` for them (tasks/security_middleware.py, tasks/api/security.py).
OTP_REQUIRED_ROLES = env_list(
    "OTP_REQUIRED_ROLES", ["duty_officer", "cdc_expert", "commander", "auditor", "admin"]
)
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "流调指挥中心")
# After a wrong code the device waits 1, 2, 4, ... seconds before it accepts the next one.
OTP_TOTP_THROTTLE_FACTOR = 1

# -- Lockout (django-axes): 5 wrong passwords for one username from one address lock that pair out for
# 15 minutes (a shared office address does not lock every colleague; one account cannot be locked by
# strangers elsewhere). The token endpoint goes through the same check.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "tasks.security.lockout_response"  # 429: the lockout page, or JSON for the API
AXES_CLIENT_IP_CALLABLE = "tasks.security.client_ip"
AXES_USERNAME_CALLABLE = "tasks.security.lockout_username"
AXES_ENABLE_ADMIN = True
AXES_VERBOSE = False  # lockouts are still logged; not the banner at every process start
# Behind a reverse proxy: how many proxies append to X-Forwarded-For (0 = use REMOTE_ADDR only). The
# client address feeds the lockout and the access log; never trust the header without a proxy.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)

# -- Sessions: idle timeout (sliding; any request but a passive poll counts as activity) and an
# absolute limit of one shift; the cookie dies with the browser.
SESSION_IDLE_TIMEOUT = timedelta(minutes=env_int("SESSION_IDLE_TIMEOUT_MINUTES", 30, minimum=1))
SESSION_COOKIE_AGE = env_int("SESSION_MAX_AGE_HOURS", 12, minimum=1) * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# -- HTTPS (production: whenever DEBUG is off). TLS ends at the reverse proxy, which must set the
# header named here, e.g. SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https".
_proxy_ssl_header = env_list("SECURE_PROXY_SSL_HEADER", [])
if _proxy_ssl_header:
    if len(_proxy_ssl_header) != 2 or not _proxy_ssl_header[0].startswith("HTTP_"):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            'SECURE_PROXY_SSL_HEADER must be "HTTP_<HEADER>,<value>", e.g. "HTTP_X_FORWARDED_PROTO,https".'
        )
    SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header[0], _proxy_ssl_header[1])
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
PERMISSIONS_POLICY = (
    "camera=(self), geolocation=(self), microphone=(), payment=(), usb=(), interest-cohort=()"
)

# -- Content-Security-Policy (django-csp 4): no inline script, no inline style, nothing from other
# hosts. Map tiles (MAP_TILE_URL) and CSP_EXTRA_IMG_SRC are the only outside image sources.
_img_src = [_CSP_SELF, "data:"]
_map_tiles = globals().get("MAP_TILE_URL", "")  # the review map's tile server (Reviews section above)
if _map_tiles:
    from urllib.parse import urlsplit as _urlsplit

    _tiles = _urlsplit(_map_tiles.replace("{s}", "*"))
    _img_src.append(f"{_tiles.scheme}://{_tiles.netloc}")
_img_src += env_list("CSP_EXTRA_IMG_SRC", [])
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [_CSP_SELF],
        "script-src": [_CSP_SELF],
        "style-src": [_CSP_SELF],
        "img-src": _img_src,
        "font-src": [_CSP_SELF],
        "connect-src": [_CSP_SELF],
        "worker-src": [_CSP_SELF],
        "manifest-src": [_CSP_SELF],
        "object-src": [_CSP_NONE],
        "base-uri": [_CSP_NONE],
        "frame-ancestors": [_CSP_NONE],
        "form-action": [_CSP_SELF],
        **({"upgrade-insecure-requests": True} if SECURE_SSL_REDIRECT else {}),
    },
}

# -- Access log and audit (tasks/access_log.py, /audit/).
AUDIT_PAGE_SIZE = 200

# -- Retention: personal data of a person whose tasks all ended (closed, cancelled, merged) more than
# RETENTION_DAYS ago, none on legal hold, is anonymised by a nightly job (tasks/retention.py).
RETENTION_DAYS = env_int("RETENTION_DAYS", 180, minimum=1)
RETENTION_HOUR = env_int("RETENTION_HOUR", 3, minimum=0)


# Reports (issue 7) ------------------------------------------------------------------------------------
# Upstream platforms that receive every approved report version: comma-separated URLs; each POST body
# is signed with HMAC-SHA256 of UPSTREAM_SECRET in the X-TC-Signature header ("sha256=<hex>").
UPSTREAM_ENDPOINTS = env_list("UPSTREAM_ENDPOINTS", [])
UPSTREAM_SECRET = env_str("UPSTREAM_SECRET", "")
if UPSTREAM_ENDPOINTS and not UPSTREAM_SECRET:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("UPSTREAM_ENDPOINTS is set: set UPSTREAM_SECRET (the shared HMAC key) too.")
# Source feedback (docs/worktypes.md): per source, the URL told what became of each of its leads when
# the task ends: "big_data=https://…,red_code=https://…"; signed with UPSTREAM_SECRET like the push.
SOURCE_FEEDBACK_ENDPOINTS = dict(
    item.split("=", 1) for item in env_list("SOURCE_FEEDBACK_ENDPOINTS", []) if "=" in item
)
if SOURCE_FEEDBACK_ENDPOINTS and not UPSTREAM_SECRET:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("SOURCE_FEEDBACK_ENDPOINTS is set: set UPSTREAM_SECRET (the HMAC key) too.")
UPSTREAM_TIMEOUT_SECONDS = env_int("UPSTREAM_TIMEOUT_SECONDS", 10, minimum=1)
UPSTREAM_RETRY_BASE_SECONDS = env_int("UPSTREAM_RETRY_BASE_SECONDS", 30, minimum=1)
UPSTREAM_RETRY_MAX_SECONDS = env_int("UPSTREAM_RETRY_MAX_SECONDS", 3600, minimum=1)
UPSTREAM_MAX_ATTEMPTS = env_int("UPSTREAM_MAX_ATTEMPTS", 20, minimum=1)
# Source feedback is the outbox's "source_feedback" flow (reports/feedback.py): its rows are retried with
# the upstream backoff and attempts above, and dropped as too late this long after the task ended.
SOURCE_FEEDBACK_LATE_CUTOFF_MINUTES = env_int("SOURCE_FEEDBACK_LATE_CUTOFF_MINUTES", 4320, minimum=1)
# The absolute address of this site, for the PDF link sent upstream.
REPORTS_BASE_URL = env_str("REPORTS_BASE_URL", "http://localhost:8000")
# The dashboard polls its data endpoint every DASHBOARD_POLL_SECONDS.
DASHBOARD_POLL_SECONDS = env_int("DASHBOARD_POLL_SECONDS", 15, minimum=1)
# The dashboard data of one territory is computed at most once per DASHBOARD_CACHE_SECONDS (0 = always live).
DASHBOARD_CACHE_SECONDS = env_int("DASHBOARD_CACHE_SECONDS", 2, minimum=0)
# The workload API answer of one territory is computed at most once per WORKLOAD_CACHE_SECONDS (0 = always live).
WORKLOAD_CACHE_SECONDS = env_int("WORKLOAD_CACHE_SECONDS", 5, minimum=0)


# Monitoring ---------------------------------------------------------------------------------------
# Health monitoring after the decision (monitoring/, docs/monitoring.md): periods, daily check-ins,
# their clocks, sample schedules, lab results and case status.
RETURNEE_MONITOR_DAYS = env_int("RETURNEE_MONITOR_DAYS", 14, minimum=1)  # after a completed registration
CHECKIN_DUE_HOUR = env_int("CHECKIN_DUE_HOUR", 10, minimum=0)  # local hour a day's check-in is due by
if CHECKIN_DUE_HOUR > 23:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"CHECKIN_DUE_HOUR: {CHECKIN_DUE_HOUR} is not an hour of the day (0-23).")
CHECKIN_GRACE_HOURS = env_int("CHECKIN_GRACE_HOURS", 4, minimum=1)  # missed → the sub-unit leader after this
LOST_CONTACT_MISSES = env_int("LOST_CONTACT_MISSES", 2, minimum=1)  # consecutive misses → lost contact
# A check-in at or above this temperature (°C, tenths) is abnormal, as is any symptom.
CHECKIN_FEVER_TENTHS = env_int("CHECKIN_FEVER_TENTHS", 373, minimum=350)
# The person's check-in link stays valid this many days after the period's last day.
CHECKIN_LINK_GRACE_DAYS = env_int("CHECKIN_LINK_GRACE_DAYS", 1, minimum=0)


# Notices ------------------------------------------------------------------------------------------
# Notices to people (notices/, docs/notices.md): two-level review, timed push,
# acknowledgement, one reminder, follow-up, feedback.
NOTICE_PUSH_MINUTES = env_int("NOTICE_PUSH_MINUTES", 120, minimum=1)  # push within 2 h of approval (daytime)
NOTICE_URGENT_PUSH_MINUTES = env_int(
    "NOTICE_URGENT_PUSH_MINUTES", 30, minimum=1
)  # urgent: 30 min, night or day
# No normal pushes (nor reminders) in the quiet hours, nor in the margin before them ("HH:MM", local time).
NOTICE_QUIET_START = env_str("NOTICE_QUIET_START", "22:00")
NOTICE_QUIET_END = env_str("NOTICE_QUIET_END", "07:00")
for _name in ("NOTICE_QUIET_START", "NOTICE_QUIET_END"):
    _value = globals()[_name]
    _hh, _sep, _mm = _value.partition(":")
    if not (_sep and _hh.isdigit() and _mm.isdigit() and int(_hh) < 24 and int(_mm) < 60):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"{_name}: {_value!r} is not HH:MM.")
NOTICE_QUIET_MARGIN_MINUTES = env_int("NOTICE_QUIET_MARGIN_MINUTES", 60, minimum=0)
NOTICE_ACK_REMINDER_MINUTES = env_int(
    "NOTICE_ACK_REMINDER_MINUTES", 120, minimum=1
)  # not acknowledged → one reminder
NOTICE_ESCALATE_MINUTES = env_int(
    "NOTICE_ESCALATE_MINUTES", 120, minimum=1
)  # still not → village sub-unit follow-up
NOTICE_FEEDBACK_TARGET_HOURS = env_int("NOTICE_FEEDBACK_TARGET_HOURS", 24, minimum=1)
NOTICE_LINK_TTL_DAYS = env_int("NOTICE_LINK_TTL_DAYS", 30, minimum=1)
NOTICE_GENERATE_LOOKBACK_DAYS = env_int("NOTICE_GENERATE_LOOKBACK_DAYS", 7, minimum=1)
# Length of the health monitoring a notice announces when its rule names none.
NOTICE_DEFAULT_MONITORING_DAYS = env_int("NOTICE_DEFAULT_MONITORING_DAYS", 14, minimum=1)
NOTICE_HOTLINE = env_str("NOTICE_HOTLINE", "12320")
# The personal links are derived with this key (not stored in the database); default: SECRET_KEY.
NOTICE_TOKEN_KEY = env_str("NOTICE_TOKEN_KEY", "")
NOTICE_PUBLIC_BASE_URL = env_str("NOTICE_PUBLIC_BASE_URL", "")  # e.g. https://tc.example.gov.cn (SMS links)
# SMS to persons, through the outbox (notices/delivery.py): notices.sms.HttpGatewayBackend (production),
# ConsoleBackend / FileBackend (development). A separate gateway account from the staff notifications'.
NOTICE_SMS_BACKEND = env_str("NOTICE_SMS_BACKEND", "notices.sms.ConsoleBackend")
NOTICE_SMS_OPTIONS = (
    {
        "url": env_str("NOTICE_SMS_GATEWAY_URL", ""),
        "secret": env_str("NOTICE_SMS_GATEWAY_SECRET", ""),
        "timeout": env_int("NOTICE_SMS_GATEWAY_TIMEOUT", 5, minimum=1),
    }
    if NOTICE_SMS_BACKEND.endswith("HttpGatewayBackend")
    else {}
)
NOTICE_SMS_SIGNATURE = env_str("NOTICE_SMS_SIGNATURE", "疫情防控")
NOTICE_SMS_MAX_ATTEMPTS = env_int("NOTICE_SMS_MAX_ATTEMPTS", 5, minimum=1)
NOTICE_SMS_LATE_CUTOFF_MINUTES = env_int("NOTICE_SMS_LATE_CUTOFF_MINUTES", 720, minimum=1)
# Inbound SMS webhook: X-Notice-Signature = sha256=HMAC-SHA256(secret, X-Notice-Timestamp + "." + body).
NOTICE_SMS_INBOUND_SECRET = env_str("NOTICE_SMS_INBOUND_SECRET", "")
NOTICE_SMS_INBOUND_MAX_AGE_SECONDS = env_int("NOTICE_SMS_INBOUND_MAX_AGE_SECONDS", 300, minimum=1)


# Periodic jobs (Celery beat), all in one place; every job is idempotent and safe to run twice at once.
from celery.schedules import crontab  # noqa: E402

CELERY_BEAT_SCHEDULE = {
    # Unified intake: the pending leads become one batch (tasks/intake.py).
    "intake-batch": {"task": "tasks.run_intake", "schedule": INTAKE_INTERVAL_MINUTES * 60.0},
    # Deadline sweep (tasks/sweep.py), the same step as `manage.py sweep_deadlines`.
    "sweep-deadlines": {"task": "tasks.sweep_deadlines", "schedule": 60.0, "options": {"expires": 55}},
    # SMS / e-mail delivery of staff notifications (tasks/notify.py, the outbox's "notifications" flow).
    "deliver-notifications": {
        "task": "tasks.deliver_notifications",
        "schedule": 20.0,
        "options": {"expires": 18},
    },
    # Retention: nightly purge of personal data past RETENTION_DAYS (tasks/retention.py).
    "purge-personal-data": {
        "task": "tasks.purge_personal_data",
        "schedule": crontab(hour=RETENTION_HOUR, minute=17),
    },
    # Links without a database constraint (the intake's bulk path) still resolve (tasks/integrity.py).
    "check-integrity": {"task": "tasks.check_integrity", "schedule": crontab(hour=RETENTION_HOUR, minute=47)},
    # Likely duplicates among the open persons, proposed for review (tasks/duplicates.py).
    "find-duplicates": {"task": "tasks.find_duplicates", "schedule": crontab(hour=RETENTION_HOUR, minute=57)},
    # Reports: upstream pushes whose retry message was lost (reports/tasks.py).
    "reports-resend-deliveries": {
        "task": "reports.resend_due_deliveries",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Work types: what became of each lead, to the platforms that sent them: the outbox's
    # "source_feedback" flow (reports/feedback.py).
    "reports-source-feedback": {
        "task": "tasks.outbox_deliver",
        "args": ["source_feedback"],
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Notices (notices/tasks.py); each is also a `notices_*` command. The deliver job is the outbox's
    # "notice_sms" flow.
    "notices-generate": {"task": "notices.notices_generate", "schedule": 300.0, "options": {"expires": 290}},
    "notices-push": {"task": "notices.notices_push", "schedule": 30.0, "options": {"expires": 28}},
    "notices-deliver": {"task": "notices.notices_deliver", "schedule": 30.0, "options": {"expires": 28}},
    "notices-remind": {"task": "notices.notices_remind", "schedule": 60.0, "options": {"expires": 55}},
    # The check-in reminder SMS of monitored persons (notices/checkin_sms.py): the outbox's "checkin_sms" flow.
    "notices-checkin-sms": {
        "task": "tasks.outbox_deliver",
        "args": ["checkin_sms"],
        "schedule": 30.0,
        "options": {"expires": 28},
    },
}
