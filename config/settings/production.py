"""Behind a load balancer: a real secret key, HTTPS and hosts must come from the environment.

These settings refuse to start rather than run unsafely: the development key, DEBUG on, no host named, or
four eyes off each stop the process with ImproperlyConfigured and a message that says what to set.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import DEVELOPMENT_SECRET_KEY, env_bool, env_int

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY or SECRET_KEY == DEVELOPMENT_SECRET_KEY or SECRET_KEY.startswith("django-insecure"):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a long random value in production (not the development key); generate one "
        'with: python -c "import secrets; print(secrets.token_urlsafe(50))"'
    )
if DEBUG:  # noqa: F405
    raise ImproperlyConfigured("DEBUG is on: production never shows debug pages; unset DEBUG.")
# No default here: the development hosts would silently answer nothing behind a real domain.
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is empty: name the site's host(s), e.g. ALLOWED_HOSTS=rules.example.com."
    )

SECURE_SSL_REDIRECT = env_bool("RULECENTER_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("RULECENTER_HSTS_SECONDS", 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("RULECENTER_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("RULECENTER_HSTS_PRELOAD", False)
if not SECURE_HSTS_PRELOAD:
    # Preloading commits the domain and all its subdomains to HTTPS in browsers for months: the operator's
    # decision, not a default. Without it check --deploy would warn (W021) on every correct deployment.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SECURE = True
LANGUAGE_COOKIE_HTTPONLY = True
# X-Forwarded-Proto is only believed from a proxy the operator vouches for: anyone can send the header.
if RULECENTER_TRUSTED_PROXY:  # noqa: F405
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Four eyes is the law's second pair of eyes on what the platform notices (issue 11): never off in production.
if not RULECENTER_FOUR_EYES:  # noqa: F405
    raise ImproperlyConfigured("RULECENTER_FOUR_EYES=false is a demo mode; production keeps four eyes on.")
