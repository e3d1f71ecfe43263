"""The votes benchmark's settings: the local (production-shaped) settings plus its bench-only URLs.

Only `bench.votes` starts servers with this module; the bench URLs are never reachable in `make run`.
"""

from config.settings.local import *  # noqa: F403

ROOT_URLCONF = "bench.votes_urls"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
