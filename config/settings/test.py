"""pytest: the database comes from DATABASE_URL like everywhere else (SQLite by default)."""

import tempfile
from pathlib import Path

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Each test run keeps uploaded files in a folder of its own, removed with the machine's temporary files.
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="rulecenter-media-"))
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "test"}}
LANGUAGE_CODE = "zh-hans"
# Serve static files from the apps' folders; tests never run collectstatic.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# Every request reads the listing state: tests change the listing and look at once, from any thread.
RULECENTER_LISTING_STATE_SECONDS = 0.0
# Every search looks for changes: tests publish and search at once, from any thread.
RULECENTER_SEARCH_CATCH_UP_MS = 0
# Limits (issue 12) never trip in the suite; tests/security/test_limits.py lowers them with the settings fixture.
RULECENTER_SIGNIN_FAILURES = 10_000
RULECENTER_API_RATE = "1000000/min"
RULECENTER_API_ANON_RATE = "1000000/min"
RULECENTER_VOTE_RATE = "1000000/min"
RULECENTER_SEARCH_RATE = "1000000/min"
RULECENTER_CASE_RATE = "1000000/min"
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# Each process reads the grants' generation on its first token or sign-in after a test begins (conftest
# forgets it) and not again within the test: query counts do not depend on how long a test takes. Tests of
# the once-a-second reading set 1.0 themselves (accounts/tests/test_token_cache.py).
RULECENTER_TOKEN_MEMO_SECONDS = 3600.0
