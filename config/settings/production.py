"""Behind a load balancer: a real secret key, HTTPS and hosts must come from the environment."""

import os

from .base import *  # noqa: F403

SECRET_KEY = os.environ["SECRET_KEY"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True

# Four eyes is the law's second pair of eyes on what the platform notices (issue 11): never off in production.
if not RULECENTER_FOUR_EYES:  # noqa: F405
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("RULECENTER_FOUR_EYES=false is a demo mode; production keeps four eyes on.")
