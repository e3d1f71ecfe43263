"""Settings shared by every environment. Everything that differs between machines comes from the environment."""

import json
import os
from pathlib import Path
from typing import Any

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("RULECENTER_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return default if value in (None, "") else float(value)


# The tests' key; `make run` keeps its own random one in var/ (local.py), production refuses this one.
DEVELOPMENT_SECRET_KEY = "insecure-development-key-change-me"  # noqa: S105 - public on purpose, refused in production
SECRET_KEY = os.environ.get("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks_db",
    # ninja: its Swagger UI from our own static files, not a CDN; csp: the Content-Security-Policy header.
    "ninja",
    "csp",
    "axes",
    "health_check",
    "rulecenter.common",
    "rulecenter.accounts",
    "rulecenter.announcements",
    "rulecenter.rules",
    "rulecenter.search",
    "rulecenter.ingest",
    "rulecenter.consultations",
    "rulecenter.cases",
    "rulecenter.notifications",
    "rulecenter.audit",
    "rulecenter.site",
]

MIDDLEWARE = [
    # First: a request's latency, by route, for /metrics (common/metrics.py).
    "rulecenter.common.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Early, so error pages raised by the middleware below carry the policy too.
    "rulecenter.common.csp.SitePolicyMiddleware",
    # Where this request reads: a streaming replica, or the primary for writes and a writer's next reads
    # (common/replicas.py). Before the session, which it may read.
    "rulecenter.common.replicas.ReadRoutingMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Sessions, the signed-in user and messages are for pages: the JSON API (bearer tokens, no cookies) skips
    # them (rulecenter/common/middleware.py).
    "rulecenter.common.middleware.PageSessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # A reader who chose a language in the header gets pages that vary on that cookie (site/language.py).
    "rulecenter.site.language.LanguageCookieVary",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "rulecenter.common.middleware.PageAuthenticationMiddleware",
    "rulecenter.common.middleware.PageMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a locked-out sign-in into rulecenter's 429 page (AXES_LOCKOUT_CALLABLE).
    "axes.middleware.AxesMiddleware",
    # Inner-most: a page whose database is unreachable answers 503, not 500 (common/middleware.py).
    "rulecenter.common.middleware.DatabaseUnavailableMiddleware",
]
# AxesBackend first: a locked-out account or address is refused before any password is checked. Then
# Django's ModelBackend, reading the signed-in user (and their member row) from memory on a warm process.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesBackend", "rulecenter.accounts.backends.SignedInBackend"]

ROOT_URLCONF = "config.urls"
# Members sign in on the site (the admin's login takes staff only).
LOGIN_URL = "consultations:sign_in"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        # Public pages: Jinja2 renders the listing ~5x faster than the Django engine (docs/performance.md).
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"environment": "rulecenter.common.jinja.environment"},
    },
    {
        # The admin and Django's own pages.
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# SQLite file under var/ by default; postgres://… at scale.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'rulecenter.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at BEGIN so concurrent writers
    # queue on busy_timeout instead of failing with "database is locked" mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }

# PostgreSQL streaming replicas (issue 14, docs/deployment.md#replicas): safe-method requests read from them,
# writes and transactions go to the primary, and a writer reads from the primary until a replica has replayed
# their write (common/replicas.py).
DATABASE_REPLICA_URLS = [
    url.strip() for url in os.environ.get("DATABASE_REPLICA_URLS", "").split(",") if url.strip()
]
if DATABASE_REPLICA_URLS and DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(
        "DATABASE_REPLICA_URLS 只用于 PostgreSQL 的流复制备库（DATABASE_URL 须为 postgres://）"
    )
for number, url in enumerate(DATABASE_REPLICA_URLS, start=1):
    DATABASES[f"replica{number}"] = dj_database_url.parse(
        url, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 600), conn_health_checks=True
    )
    # Tests run against one database: the replica is the test database itself.
    DATABASES[f"replica{number}"]["TEST"] = {"MIRROR": "default"}
for database in DATABASES.values():
    if database["ENGINE"] == "django.db.backends.postgresql":
        # A host that does not answer (a primary failing over) costs seconds, not the OS's minutes.
        database.setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
DATABASE_ROUTERS = ["rulecenter.common.replicas.ReplicaRouter"]
RULECENTER_REPLICA_MAX_LAG_SECONDS = env_int("RULECENTER_REPLICA_MAX_LAG_SECONDS", 10)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES: dict[str, dict[str, Any]] = {
        # Django's Redis cache failing soft: with Redis down, pages answer from the database (common/cache.py).
        # Short socket timeouts bound the one wait a process pays before it leaves Redis alone for a while.
        "default": {
            "BACKEND": "rulecenter.common.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
        },
    }
    TASKS = {
        "default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]},
    }
    RQ_QUEUES = {"default": {"URL": REDIS_URL}}
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
else:
    # Each process's own. Room for the limits' counters of every client of a busy minute (two per voting
    # member): at LocMem's default of 300 entries it culled a third of them on every new key, which cost
    # more than the vote and let the limits forget their counts.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "rulecenter",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        },
    }
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Content Security Policy (django-csp, docs/deployment.md): the site's own scripts, styles and images only,
# nothing inline, no plugins, no framing; the pages and the admin pass it (tests/security/test_csp.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Staff sessions end sooner than members' (SESSION_COOKIE_AGE, two weeks): set when a staff user signs in.
RULECENTER_STAFF_SESSION_SECONDS = env_int("RULECENTER_STAFF_SESSION_SECONDS", 8 * 3600)

LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "zh-hans")
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "rulecenter" / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# Uploaded files (a case's attachments) are private: never served from MEDIA_URL, only through views that
# check who asks. A cluster names object storage in STORAGES["default"] instead (docs/deployment.md).
MEDIA_ROOT = Path(os.environ.get("RULECENTER_MEDIA_DIR", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# rulecenter's own settings; every one is documented in docs/settings.md (a test checks).
RULECENTER_NEWS_PAGE_SIZE = env_int("RULECENTER_NEWS_PAGE_SIZE", 12)
RULECENTER_EXCERPT_WIDTH = env_int("RULECENTER_EXCERPT_WIDTH", 300)
RULECENTER_PAGER_WINDOW = env_int("RULECENTER_PAGER_WINDOW", 5)
RULECENTER_API_MAX_PAGE_SIZE = env_int("RULECENTER_API_MAX_PAGE_SIZE", 100)
# A request body over this many bytes (uploaded files aside) is refused with 413 before it is parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
RULECENTER_FEED_ITEMS = env_int("RULECENTER_FEED_ITEMS", 50)
RULECENTER_PAGE_CACHE_SECONDS = env_int("RULECENTER_PAGE_CACHE_SECONDS", 300)
RULECENTER_HTTP_MAX_AGE = env_int("RULECENTER_HTTP_MAX_AGE", 60)
RULECENTER_LISTING_STATE_SECONDS = env_float("RULECENTER_LISTING_STATE_SECONDS", 1.0)
# The statutory clock: E-Commerce Law art. 34 (7 days) and the 2025 rules on platform rules (15 for major changes).
RULECENTER_HISTORY_PAGE_SIZE = env_int("RULECENTER_HISTORY_PAGE_SIZE", 20)
RULECENTER_NOTICE_DAYS = env_int("RULECENTER_NOTICE_DAYS", 7)
RULECENTER_MAJOR_NOTICE_DAYS = env_int("RULECENTER_MAJOR_NOTICE_DAYS", 15)
RULECENTER_RULE_NEWS_CATEGORY = os.environ.get("RULECENTER_RULE_NEWS_CATEGORY", "rule-changes")
RULECENTER_LIFECYCLE_GRACE_SECONDS = env_int("RULECENTER_LIFECYCLE_GRACE_SECONDS", 300)
# Four eyes (issue 11): scheduling or publishing needs an approval by someone other than the last author.
RULECENTER_FOUR_EYES = env_bool("RULECENTER_FOUR_EYES", True)
RULECENTER_SITE_URL = os.environ.get("RULECENTER_SITE_URL", "http://127.0.0.1:8000")

# Webhooks (docs/notifications.md): never to loopback, private or reserved addresses unless allowed (tests,
# a receiver on the same network); each attempt bounded; an endpoint failing this long is disabled.
RULECENTER_WEBHOOK_ALLOW_PRIVATE = env_bool("RULECENTER_WEBHOOK_ALLOW_PRIVATE", False)
RULECENTER_WEBHOOK_TIMEOUT_SECONDS = env_float("RULECENTER_WEBHOOK_TIMEOUT_SECONDS", 10.0)
RULECENTER_WEBHOOK_DISABLE_AFTER_DAYS = env_int("RULECENTER_WEBHOOK_DISABLE_AFTER_DAYS", 5)
# First attempts are sent in batches of this many per task (e-mails of a batch share one SMTP connection).
RULECENTER_DELIVERY_BATCH = env_int("RULECENTER_DELIVERY_BATCH", 200)
# `rulecenter loaddemo` schedules one rule change to be noticed this many seconds after it runs (make run).
RULECENTER_DEMO_NOTICE_SECONDS = env_int("RULECENTER_DEMO_NOTICE_SECONDS", 600)
# Members who have not acknowledged a change that asks for it are reminded this many hours before it takes effect.
RULECENTER_ACKNOWLEDGMENT_REMINDER_HOURS = env_int("RULECENTER_ACKNOWLEDGMENT_REMINDER_HOURS", 72)
# Complaints and appeals (docs/cases.md): the platform answers a case within this many days of receiving it,
# a human review within this many days of the member asking; a member may ask for one within this many days
# of the answer; sizes of what a member sends.
RULECENTER_CASE_ANSWER_DAYS = env_int("RULECENTER_CASE_ANSWER_DAYS", 7)
RULECENTER_CASE_REVIEW_DAYS = env_int("RULECENTER_CASE_REVIEW_DAYS", 15)
RULECENTER_CASE_ESCALATION_DAYS = env_int("RULECENTER_CASE_ESCALATION_DAYS", 15)
RULECENTER_CASE_TEXT_MAX_CHARS = env_int("RULECENTER_CASE_TEXT_MAX_CHARS", 5000)
RULECENTER_CASE_ATTACHMENTS_MAX = env_int("RULECENTER_CASE_ATTACHMENTS_MAX", 5)
RULECENTER_CASE_ATTACHMENT_MAX_BYTES = env_int("RULECENTER_CASE_ATTACHMENT_MAX_BYTES", 5_242_880)
# Daily digests go out at this hour (TIME_ZONE); weekly ones on Mondays at the same hour.
RULECENTER_DIGEST_HOUR = env_int("RULECENTER_DIGEST_HOUR", 8)
# E-mail (docs/notifications.md) through Django 6.1's mailers, set from the classic variables: SMTP unless
# EMAIL_BACKEND names another backend (a django-anymail provider such as
# anymail.backends.amazon_ses.EmailBackend, configured by the ANYMAIL JSON object).
EMAIL_BACKEND_PATH = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_SMTP = "django.core.mail.backends.smtp.EmailBackend"
MAILERS: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": EMAIL_BACKEND_PATH,
        "OPTIONS": {
            "host": os.environ.get("EMAIL_HOST", "localhost"),
            "port": env_int("EMAIL_PORT", 25),
            "username": os.environ.get("EMAIL_HOST_USER", ""),
            "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
            "use_tls": env_bool("EMAIL_USE_TLS", False),
            "use_ssl": env_bool("EMAIL_USE_SSL", False),
            "timeout": env_int("EMAIL_TIMEOUT", 10),
        }
        if EMAIL_BACKEND_PATH == EMAIL_SMTP
        else {},
    }
}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "规则中心 <rules@localhost>")
ANYMAIL = json.loads(os.environ.get("ANYMAIL") or "{}")
# Search (issue 5): each app node keeps its own tantivy replica, fed from the outbox (docs/search.md).
RULECENTER_SEARCH_NODE = os.environ.get("RULECENTER_SEARCH_NODE") or os.uname().nodename
RULECENTER_SEARCH_INDEX_DIR = Path(os.environ.get("RULECENTER_SEARCH_INDEX_DIR", VAR_DIR / "search"))
RULECENTER_SEARCH_PAGE_SIZE = env_int("RULECENTER_SEARCH_PAGE_SIZE", 12)
# Search pages reach this many results and no further: one request never ranks the whole corpus.
RULECENTER_SEARCH_MAX_RESULTS = env_int("RULECENTER_SEARCH_MAX_RESULTS", 1200)
RULECENTER_SEARCH_MAX_QUERY_CHARS = env_int("RULECENTER_SEARCH_MAX_QUERY_CHARS", 100)
RULECENTER_SEARCH_BATCH_SIZE = env_int("RULECENTER_SEARCH_BATCH_SIZE", 500)
RULECENTER_SEARCH_POLL_MS = env_int("RULECENTER_SEARCH_POLL_MS", 200)
RULECENTER_SEARCH_GAP_SECONDS = env_int("RULECENTER_SEARCH_GAP_SECONDS", 600)
RULECENTER_SEARCH_CATCH_UP_ON_READ = env_bool("RULECENTER_SEARCH_CATCH_UP_ON_READ", True)
RULECENTER_SEARCH_CATCH_UP_MS = env_int("RULECENTER_SEARCH_CATCH_UP_MS", 200)
RULECENTER_SEARCH_OUTBOX_RETENTION_DAYS = env_int("RULECENTER_SEARCH_OUTBOX_RETENTION_DAYS", 7)
# Consultations (issue 4): the window, who may vote, reasons, the tally and duplicate grouping.
RULECENTER_CONSULTATION_MIN_DAYS = env_int("RULECENTER_CONSULTATION_MIN_DAYS", 7)
RULECENTER_CONSULTATION_MIN_MEMBERSHIP_DAYS = env_int("RULECENTER_CONSULTATION_MIN_MEMBERSHIP_DAYS", 30)
RULECENTER_CONSULTATION_REASON_MAX_CHARS = env_int("RULECENTER_CONSULTATION_REASON_MAX_CHARS", 1000)
RULECENTER_CONSULTATION_TALLY_HIDDEN_UNTIL_CLOSE = env_bool(
    "RULECENTER_CONSULTATION_TALLY_HIDDEN_UNTIL_CLOSE", False
)
RULECENTER_CONSULTATION_DUPLICATE_SIMILARITY = env_int("RULECENTER_CONSULTATION_DUPLICATE_SIMILARITY", 60)
RULECENTER_CONSULTATION_NEWS_CATEGORY = os.environ.get(
    "RULECENTER_CONSULTATION_NEWS_CATEGORY", "consultations"
)
RULECENTER_CONSULTATION_PAGE_SIZE = env_int("RULECENTER_CONSULTATION_PAGE_SIZE", 20)
# The audit chain (issue 11, docs/audit.md): data kept as text up to this size, a checkpoint at least this often.
RULECENTER_AUDIT_DATA_MAX_BYTES = env_int("RULECENTER_AUDIT_DATA_MAX_BYTES", 65536)
RULECENTER_AUDIT_CHECKPOINT_HOURS = env_int("RULECENTER_AUDIT_CHECKPOINT_HOURS", 24)
RULECENTER_AUDIT_PAGE_SIZE = env_int("RULECENTER_AUDIT_PAGE_SIZE", 20)
# Text bounds (issue 12): an imported item's text, a rule version's text (docs/settings.md).
RULECENTER_INGEST_TEXT_MAX_CHARS = env_int("RULECENTER_INGEST_TEXT_MAX_CHARS", 200_000)
RULECENTER_RULE_TEXT_MAX_CHARS = env_int("RULECENTER_RULE_TEXT_MAX_CHARS", 200_000)
# Followed channels (issue 16, docs/ingest.md#channels): one fetch's bounds, the back-off's ceiling, and
# whether a channel may be on a private address (off: the SSRF guard of common.outbound, as for webhooks).
RULECENTER_CHANNEL_TIMEOUT_SECONDS = env_float("RULECENTER_CHANNEL_TIMEOUT_SECONDS", 10.0)
RULECENTER_CHANNEL_MAX_BYTES = env_int("RULECENTER_CHANNEL_MAX_BYTES", 5_000_000)
RULECENTER_CHANNEL_BACKOFF_MAX_MINUTES = env_int("RULECENTER_CHANNEL_BACKOFF_MAX_MINUTES", 1440)
RULECENTER_CHANNEL_ALLOW_PRIVATE = env_bool("RULECENTER_CHANNEL_ALLOW_PRIVATE", False)
# Health and metrics (issue 14, site/health.py): who may read /readyz and /metrics, and how far this node's
# search index may fall behind the outbox before it stops being ready.
RULECENTER_INTERNAL_NETWORKS = os.environ.get("RULECENTER_INTERNAL_NETWORKS", "127.0.0.0/8,::1")
RULECENTER_READY_SEARCH_LAG = env_int("RULECENTER_READY_SEARCH_LAG", 1000)
# Limits (issue 12, docs/settings.md): sign-in lockout by django-axes, rates counted in the cache per window.
RULECENTER_SIGNIN_FAILURES = env_int("RULECENTER_SIGNIN_FAILURES", 5)
RULECENTER_SIGNIN_COOLOFF_MINUTES = env_int("RULECENTER_SIGNIN_COOLOFF_MINUTES", 15)
RULECENTER_API_RATE = os.environ.get("RULECENTER_API_RATE", "600/min")
RULECENTER_API_ANON_RATE = os.environ.get("RULECENTER_API_ANON_RATE", "120/min")
RULECENTER_VOTE_RATE = os.environ.get("RULECENTER_VOTE_RATE", "10/min")
RULECENTER_SEARCH_RATE = os.environ.get("RULECENTER_SEARCH_RATE", "30/min")
# Subscribing an e-mail address without an account (each sends a confirmation e-mail), per client address.
RULECENTER_SUBSCRIBE_RATE = os.environ.get("RULECENTER_SUBSCRIBE_RATE", "10/h")
# Cases a member may file (each attempt counts, on the page and through the API), per member.
RULECENTER_CASE_RATE = os.environ.get("RULECENTER_CASE_RATE", "20/h")
# A proxy in front (nginx, deploy/nginx/) replaces X-Forwarded-For with the client's address: limits count that
# address instead of the proxy's. Off, the header is ignored (anyone can send it). Production also believes the
# proxy's X-Forwarded-Proto then (production.py).
RULECENTER_TRUSTED_PROXY = env_bool("RULECENTER_TRUSTED_PROXY", False)
# django-axes: N failures per account or per address lock that account/address for the cool-off. With Redis the
# counts are atomic INCRs shared by every node and a flood of bad passwords writes nothing to the database;
# without it the database is the only store all workers share (locmem is per process).
AXES_HANDLER = (
    "rulecenter.common.limits.SigninCacheHandler"
    if REDIS_URL
    else "axes.handlers.database.AxesDatabaseHandler"
)
AXES_FAILURE_LIMIT = "rulecenter.common.limits.signin_failure_limit"
AXES_COOLOFF_TIME = "rulecenter.common.limits.signin_cool_off"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "rulecenter.common.limits.signin_client_address"
AXES_LOCKOUT_CALLABLE = "rulecenter.common.limits.signin_locked_response"
AXES_RESET_ON_SUCCESS = True
# Attempts while locked are refused without being counted: the lock ends when it said it would.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_VERBOSE = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # The webhook client logs every request at INFO; the delivery log keeps what matters.
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}

# API tokens answered from memory (issue 17, rulecenter/accounts/token_cache.py, docs/settings.md): a process reads
# the grants' generation at most this often, so a revoked token stops on every node within it; what it read is
# kept (in the process, and in a shared cache) at most the second figure, while the generation stays the same.
RULECENTER_TOKEN_MEMO_SECONDS = env_float("RULECENTER_TOKEN_MEMO_SECONDS", 1.0)
RULECENTER_TOKEN_CACHE_SECONDS = env_int("RULECENTER_TOKEN_CACHE_SECONDS", 60)
