"""Bench-only views: the framework's own ceiling, and a look at the database connection a worker holds."""

import json
import os
import threading

from django.db import connection
from django.http import HttpRequest, HttpResponse

# About the size of the listing page, so both measure the same bytes on the wire.
CONSTANT_BODY = ("<!doctype html><title>constant</title>" + "规则中心 " * 780).encode()


def constant(request: HttpRequest) -> HttpResponse:
    return HttpResponse(CONSTANT_BODY)


def sqlite_settings(request: HttpRequest) -> HttpResponse:
    """What the worker's connection really runs with: WAL, IMMEDIATE, and whether it is reused."""
    with connection.cursor() as cursor:
        journal_mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        synchronous = cursor.execute("PRAGMA synchronous").fetchone()[0]
        foreign_keys = cursor.execute("PRAGMA foreign_keys").fetchone()[0]
    raw = connection.connection
    facts = {
        "vendor": connection.vendor,
        "pid": os.getpid(),
        "thread": threading.get_ident(),
        "connection_id": id(raw),
        "journal_mode": journal_mode,
        "synchronous": synchronous,
        "foreign_keys": foreign_keys,
        "transaction_mode": connection.settings_dict.get("OPTIONS", {}).get("transaction_mode"),
        "isolation_level": getattr(raw, "isolation_level", None),
        "conn_max_age": connection.settings_dict.get("CONN_MAX_AGE"),
    }
    return HttpResponse(json.dumps(facts), content_type="application/json")
