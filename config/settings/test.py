"""pytest: the database comes from DATABASE_URL like everywhere else (SQLite by default)."""

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
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
