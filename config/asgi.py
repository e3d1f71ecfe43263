"""The ASGI application. Production settings unless told otherwise: `rulecenter serve` and `make run` pass
DJANGO_SETTINGS_MODULE (config.settings.local by default), a bare server here gets the safe ones."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_asgi_application()
