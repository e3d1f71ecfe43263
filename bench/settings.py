"""The benchmark's settings: the local (production-shaped) settings plus bench-only URLs.

Only `bench.run` starts servers with this module; the bench URLs are never reachable in `make run`.
"""

from config.settings.local import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
