"""Idempotent API writes: the same `Idempotency-Key` from the same user answers with the first response.

Only successful writes are remembered: a refused request wrote nothing, so repeating it is already safe.
A key is kept for IDEMPOTENCY_TTL; after that it may be used afresh, and every remembered write deletes up
to PRUNE_BATCH expired ones.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import HeaderEx, P
from ninja.responses import Status
from pydantic import BaseModel

from .models import IdempotentRequest
from .problems import CONFLICT, VALIDATION, Problem, field_error

IDEMPOTENCY_TTL = timedelta(hours=24)
KEY_REUSED = "Idempotency-Key“{key}”已用于另一个不同的请求；请为新请求换一个键。"
KEY_IN_FLIGHT = "使用同一 Idempotency-Key“{key}”的请求正在处理，请稍后重试。"
REPLAYED_HEADER = "Idempotent-Replayed"


def fingerprint(operation: str, payload: BaseModel) -> str:
    canonical = json.dumps([operation, payload.model_dump(mode="json")], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _response(body: str, status: int, *, replayed: bool) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type="application/json; charset=utf-8")
    if replayed:
        response[REPLAYED_HEADER] = "true"
    return response


def _stored(user: User, key: str) -> IdempotentRequest | None:
    return IdempotentRequest.objects.select_for_update().filter(user=user, key=key).first()


PRUNE_BATCH = 100


def _prune() -> None:
    """Forget a batch of expired keys: each write clears more than it adds, so the table stays small.

    One statement (DELETE … WHERE id IN (SELECT id … LIMIT n)): nothing refers to these rows, so Django
    deletes without reading them first.
    """
    expired = IdempotentRequest.objects.filter(created_at__lt=timezone.now() - IDEMPOTENCY_TTL)
    IdempotentRequest.objects.filter(pk__in=expired.values("pk")[:PRUNE_BATCH]).delete()


def _conflicts_answered[T](
    write: Callable[[], T], conflicts: tuple[type[ValidationError], ...]
) -> Callable[[], T]:
    if not conflicts:
        return write

    def guarded() -> T:
        try:
            return write()
        except conflicts as error:
            raise Problem(CONFLICT, " ".join(error.messages)) from None

    return guarded


def idempotent_write[T: BaseModel](
    request: HttpRequest,
    *,
    user: User,
    key: str | None,
    operation: str,
    payload: BaseModel,
    status: int,
    write: Callable[[], T],
    conflicts: tuple[type[ValidationError], ...] = (),
) -> HttpResponse | Status[T]:
    """Run `write` once per (user, key); answer a repeat with the stored response, a misuse with a problem.

    Without a key (the header is optional) the write runs, in one transaction, and answers with `status`. An error of
    one of the `conflicts` types — the service's refusal of a step the object's state forbids (approving
    what is scheduled, editing what is published) — is a 409 problem with its message; nothing is written.
    """
    write = _conflicts_answered(write, conflicts)
    if key is None:
        with transaction.atomic():  # a write of several steps (create, then target) is one, or nothing
            return Status(status, write())
    digest = fingerprint(operation, payload)
    try:
        with transaction.atomic():
            stored = _stored(user, key)
            if stored is not None and stored.created_at < timezone.now() - IDEMPOTENCY_TTL:
                stored.delete()
                stored = None
            if stored is not None:
                if stored.fingerprint != digest:
                    message = _(KEY_REUSED).format(key=key)
                    error = field_error(["header", "Idempotency-Key"], message, "idempotency_key_reused")
                    raise Problem(VALIDATION, message, errors=[error])
                return _response(stored.response_body, stored.status, replayed=True)
            body = json.dumps(write().model_dump(mode="json"), ensure_ascii=False)
            IdempotentRequest.objects.create(
                user=user, key=key, operation=operation, fingerprint=digest, status=status, response_body=body
            )
            _prune()
    except IntegrityError:
        # Another request with this key committed first; this one's write was rolled back with it.
        if IdempotentRequest.objects.filter(user=user, key=key).exists():
            raise Problem(CONFLICT, _(KEY_IN_FLIGHT).format(key=key)) from None
        raise
    return _response(body, status, replayed=False)


# The optional header of every idempotent write endpoint, declared once for the OpenAPI schema.
IdempotencyKeyHeader = HeaderEx[
    str | None,
    P(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="可选。同一用户以同一个键重试时，返回第一次的结果而不会重复创建（24 小时内有效）",
    ),
]
