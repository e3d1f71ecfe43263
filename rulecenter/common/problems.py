"""RFC 7807 problem details: every API error answers `application/problem+json` in the user's language.

`ProblemAPI` is a NinjaAPI that installs the handlers, documents error responses with the problem media
type in the OpenAPI schema, and answers unknown URLs and wrong methods under its prefix with problems too.
Apps raise Django's own `Http404`, `PermissionDenied` and `ValidationError`, ninja's errors, or `Problem`.
"""

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, RequestDataTooBig, ValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.urls import URLPattern, URLResolver, re_path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, Throttled, ValidationErrorContext
from ninja.errors import ValidationError as NinjaValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.parser import Parser
from ninja.renderers import JSONRenderer
from ninja.types import DictStrAny
from pydantic import Field

from . import replicas

logger = logging.getLogger("rulecenter.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"

# Details; each is a msgid translated when the response is built (English in common/locale).
NOT_FOUND_DETAIL = "请求的资源不存在。"
URL_UNKNOWN = "API 中没有地址“{path}”。可用的接口见 {schema_url}。"
AUTHENTICATION_REQUIRED = "此操作需要 API 令牌：请在请求头中发送 Authorization: Bearer <令牌>。"
PERMISSION_DENIED_DETAIL = "你没有执行此操作的权限。"
VALIDATION_DETAIL = "请求中有 {count} 处错误，详见 errors。"
BODY_UNPARSABLE = "请求体不是有效的 JSON。"
BAD_REQUEST_DETAIL = "请求无效。"
METHOD_NOT_ALLOWED_DETAIL = "此地址不支持 {method} 方法；可用的方法：{allowed}。"
THROTTLED_DETAIL = "请求过于频繁，请稍后再试。"
THROTTLED_WAIT_DETAIL = "请求过于频繁，请在 {seconds} 秒后再试。"
SERVER_ERROR_DETAIL = "服务器出错了，我们已记录该问题，请稍后再试。"
BODY_TOO_LARGE_DETAIL = "请求内容过大：最多 {limit}，请缩小后再提交（大批内容请分批提交）。"
WRITE_UNAVAILABLE_DETAIL = "系统维护中，暂时无法提交，请稍后再试。"
READ_UNAVAILABLE_DETAIL = "系统维护中，暂时无法访问，请稍后再试。"
UNAVAILABLE_RETRY_SECONDS = 30
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Field error messages by pydantic error type; the placeholders come from the error's context.
FIELD_MESSAGES = {
    "missing": "缺少此字段。",
    "string_too_short": "至少需要 {min_length} 个字符。",
    "string_too_long": "最多 {max_length} 个字符。",
    "string_type": "必须是字符串。",
    "string_unicode": "不是有效的 Unicode 文本（含有无法编码的字符）。",
    "int_parsing": "必须是整数。",
    "int_type": "必须是整数。",
    "int_from_float": "必须是整数。",
    "greater_than_equal": "不能小于 {ge}。",
    "less_than_equal": "不能大于 {le}。",
    "greater_than": "必须大于 {gt}。",
    "less_than": "必须小于 {lt}。",
    "enum": "必须是以下之一：{expected}。",
    "literal_error": "必须是以下之一：{expected}。",
    "datetime_parsing": "不是有效的日期时间，请用 ISO 8601 格式，例如 2025-02-18T10:00:00+08:00。",
    "datetime_from_date_parsing": "不是有效的日期时间，请用 ISO 8601 格式，例如 2025-02-18T10:00:00+08:00。",
    "datetime_type": "不是有效的日期时间，请用 ISO 8601 格式，例如 2025-02-18T10:00:00+08:00。",
    "bool_parsing": "必须是 true 或 false。",
    "bool_type": "必须是 true 或 false。",
    "model_attributes_type": "必须是一个 JSON 对象。",
    "dict_type": "必须是一个 JSON 对象。",
    "model_type": "必须是一个 JSON 对象。",
    "list_type": "必须是一个数组。",
    "json_invalid": "不是有效的 JSON。",
    "extra_forbidden": "不认识的字段。",
    "url_parsing": "不是有效的网址。",
    "url_scheme": "网址必须以 http:// 或 https:// 开头。",
    "timezone_aware": "必须带时区，例如 2025-02-18T10:00:00+08:00。",
}


@dataclass(frozen=True, slots=True)
class ProblemType:
    """One kind of problem: a stable identifier, its HTTP status and its title (a msgid)."""

    slug: str
    status: int
    title: str

    @property
    def uri(self) -> str:
        return f"urn:rulecenter:problem:{self.slug}"


BAD_REQUEST = ProblemType("bad-request", 400, "请求无效")
AUTHENTICATION = ProblemType("authentication-required", 401, "需要身份认证")
PERMISSION_DENIED = ProblemType("permission-denied", 403, "没有权限")
NOT_FOUND = ProblemType("not-found", 404, "未找到")
METHOD_NOT_ALLOWED = ProblemType("method-not-allowed", 405, "不支持的请求方法")
CONFLICT = ProblemType("conflict", 409, "请求冲突")
VALIDATION = ProblemType("validation-error", 422, "请求参数有误")
TOO_LARGE = ProblemType("body-too-large", 413, "请求内容过大")
THROTTLED = ProblemType("rate-limited", 429, "请求过于频繁")
SERVER_ERROR = ProblemType("server-error", 500, "服务器错误")
UNAVAILABLE = ProblemType("service-unavailable", 503, "系统维护中")
PROBLEM_TYPES = [
    BAD_REQUEST, AUTHENTICATION, PERMISSION_DENIED, NOT_FOUND, METHOD_NOT_ALLOWED, CONFLICT, VALIDATION,
    TOO_LARGE, THROTTLED, SERVER_ERROR, UNAVAILABLE,
]  # fmt: skip


class FieldError(Schema):
    loc: list[str | int] = Field(description='出错的位置，如 ["body", "title"] 或 ["query", "page"]')
    msg: str = Field(description="错误说明，使用请求的语言")
    type: str = Field(description="错误类型，如 missing、string_too_short、category_unknown")


class ProblemDetail(Schema):
    """An RFC 7807 problem: what went wrong, for people (title, detail) and programs (type, status)."""

    type: str = Field(description="问题类型的标识（URI），如 urn:rulecenter:problem:not-found")
    title: str = Field(description="问题类型的简短说明")
    status: int = Field(description="HTTP 状态码")
    detail: str = Field(description="这一次出错的具体说明")
    instance: str | None = Field(default=None, description="出错请求的路径")
    errors: list[FieldError] | None = Field(default=None, description="逐个字段的错误（仅 422）")


class Problem(Exception):
    """Raise to answer with a problem; `errors` are field errors as {loc, msg, type} dicts."""

    def __init__(
        self,
        problem: ProblemType,
        detail: str,
        *,
        errors: list[DictStrAny] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.problem = problem
        self.detail = detail
        self.errors = errors
        self.headers = dict(headers or {})


def problem_response(
    request: HttpRequest,
    problem: ProblemType,
    detail: str,
    *,
    errors: list[DictStrAny] | None = None,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    body: DictStrAny = {
        "type": problem.uri,
        "title": _(problem.title),
        "status": problem.status,
        "detail": detail,
        "instance": request.path,
    }
    if errors is not None:
        body["errors"] = errors
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False),
        status=problem.status,
        content_type=f"{PROBLEM_MEDIA_TYPE}; charset=utf-8",
        headers=headers,
    )
    response["Content-Language"] = request.LANGUAGE_CODE if hasattr(request, "LANGUAGE_CODE") else "zh-hans"
    return response


def problems(*statuses: int) -> dict[int, type[ProblemDetail]]:
    """The `response=` entries documenting an operation's errors: `response={200: X, **problems(404)}`."""
    return dict.fromkeys(statuses, ProblemDetail)


def field_error(loc: Iterable[str | int], message: str, kind: str) -> DictStrAny:
    return {"loc": list(loc), "msg": message, "type": kind}


def _pydantic_message(error: Mapping[str, Any]) -> str:
    template = FIELD_MESSAGES.get(error.get("type", ""))
    if template is None:
        return str(error.get("msg", ""))
    context = {key: str(value).replace(" or ", ", ") for key, value in (error.get("ctx") or {}).items()}
    if error.get("type") == "string_too_short" and context.get("min_length") == "1":
        return _("不能为空。")
    try:
        return _(template).format(**context)
    except (KeyError, IndexError):
        return str(error.get("msg", ""))


def _django_field_errors(error: ValidationError, location: str) -> list[DictStrAny]:
    if not hasattr(error, "error_dict"):
        return [field_error([location], message, "invalid") for message in error.messages]
    found: list[DictStrAny] = []
    for field, field_errors in error.error_dict.items():
        loc = [location] if field == NON_FIELD_ERRORS else [location, field]
        for item in field_errors:
            for message in item.messages:
                found.append(field_error(loc, message, item.code or "invalid"))
    return found


def _validation_response(request: HttpRequest, errors: list[DictStrAny]) -> HttpResponse:
    detail = _(VALIDATION_DETAIL).format(count=len(errors))
    return problem_response(request, VALIDATION, detail, errors=errors)


def handle_problem(request: HttpRequest, exc: Problem) -> HttpResponse:
    return problem_response(request, exc.problem, exc.detail, errors=exc.errors, headers=exc.headers)


def handle_ninja_validation(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [
        field_error(error.get("loc", ()), _pydantic_message(error), str(error.get("type", "invalid")))
        for error in exc.errors
    ]
    return _validation_response(request, errors)


def handle_django_validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    # Services validate the body they were given; their field names are the API's field names.
    return _validation_response(request, _django_field_errors(exc, "body"))


def not_found_detail(exc: Exception) -> str:
    # Our Http404s carry a message written for the user; Django's and ninja's own carry a dict or debug text.
    message = exc.args[0] if exc.args else None
    if isinstance(exc, Http404) and isinstance(message, str) and not message.startswith("docs_url"):
        return message
    return _(NOT_FOUND_DETAIL)


def handle_not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem_response(request, NOT_FOUND, not_found_detail(exc))


def handle_authentication(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    invalid = exc.message != AuthenticationError().message
    detail = exc.message if invalid else _(AUTHENTICATION_REQUIRED)
    challenge = 'Bearer realm="rulecenter"' + (', error="invalid_token"' if invalid else "")
    return problem_response(request, AUTHENTICATION, detail, headers={"WWW-Authenticate": challenge})


def handle_permission_denied(request: HttpRequest, exc: Exception) -> HttpResponse:
    message = str(exc) if isinstance(exc, PermissionDenied) and exc.args else ""
    if isinstance(exc, AuthorizationError) and exc.message != AuthorizationError().message:
        message = exc.message
    return problem_response(request, PERMISSION_DENIED, message or _(PERMISSION_DENIED_DETAIL))


def handle_throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    """429 with how long to wait, in words and in `Retry-After` (seconds), from the limit that was hit."""
    from .limits import LIMITED_MESSAGE, retry_after, wait_text

    if exc.wait is None:
        return problem_response(request, THROTTLED, _(THROTTLED_DETAIL))
    detail = _(LIMITED_MESSAGE).format(wait=wait_text(exc.wait))
    return problem_response(request, THROTTLED, detail, headers={"Retry-After": retry_after(exc.wait)})


def body_limit_text() -> str:
    """DATA_UPLOAD_MAX_MEMORY_SIZE as people read it: `2.5 MB`."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
    if limit >= 1024 * 1024:
        return f"{limit / (1024 * 1024):.1f}".removesuffix(".0") + " MB"
    return f"{max(1, limit // 1024)} KB"


def body_too_large_response(request: HttpRequest) -> HttpResponse:
    return problem_response(request, TOO_LARGE, _(BODY_TOO_LARGE_DETAIL).format(limit=body_limit_text()))


def handle_body_too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return body_too_large_response(request)


def handle_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, RequestDataTooBig):
        # ninja wraps what reading the body raised in a 400 "cannot parse"; the body was too large to read.
        return body_too_large_response(request)
    if isinstance(exc.__cause__, Problem):
        # ninja wraps whatever the body parser raises in a 400; our parser's own problems keep their answer.
        return handle_problem(request, exc.__cause__)
    by_status = {problem.status: problem for problem in PROBLEM_TYPES}
    problem = by_status.get(exc.status_code, ProblemType("http-error", exc.status_code, exc.message))
    if exc.status_code == 400:
        # ninja's only 400 is a body it could not parse; its text is English and may carry debug detail.
        detail = _(BODY_UNPARSABLE) if exc.message.startswith("Cannot parse request body") else exc.message
        return problem_response(request, BAD_REQUEST, detail or _(BAD_REQUEST_DETAIL))
    return problem_response(request, problem, exc.message)


def unavailable_detail(request: HttpRequest) -> str:
    """What a reader is told when the database cannot be reached: a write waits, a read comes back later."""
    return _(READ_UNAVAILABLE_DETAIL) if request.method in SAFE_METHODS else _(WRITE_UNAVAILABLE_DETAIL)


# SQLite raises OperationalError for a missing table or a bad statement too — a bug, which stays a 500;
# only these say the database could not be used just now.
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database", "disk i/o error")


def database_unreachable(exc: BaseException) -> bool:
    """Whether a database error says the database cannot be used now (a connection refused or lost, the
    server shutting down, a lock not granted) rather than that the query is wrong."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    if cause is not None and type(cause).__module__.startswith("sqlite3"):
        return str(exc).lower().startswith(_SQLITE_UNAVAILABLE)
    return True


def handle_database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The database could not be reached (the primary is down, failing over, or refusing connections): a
    503 with when to try again, never a 500; nothing was written (the write's transaction never committed).
    Any other database error is a bug: the 500 problem, logged as one."""
    if not database_unreachable(exc):
        return handle_server_error(request, exc)
    logger.warning("database unavailable: %s %s: %s", request.method, request.path, exc)
    replicas.database_failed(request)
    return problem_response(
        request,
        UNAVAILABLE,
        unavailable_detail(request),
        headers={"Retry-After": str(UNAVAILABLE_RETRY_SECONDS)},
    )


def handle_server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.error("API error: %s %s", request.method, request.path, exc_info=exc)
    return problem_response(request, SERVER_ERROR, _(SERVER_ERROR_DETAIL))


def method_not_allowed(request: HttpRequest, allowed: str) -> HttpResponse:
    detail = _(METHOD_NOT_ALLOWED_DETAIL).format(method=request.method, allowed=allowed)
    return problem_response(request, METHOD_NOT_ALLOWED, detail, headers={"Allow": allowed})


def _problem_view(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Turn what ninja answers outside its exception handlers (405, its root's 404) into problems."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            response = view(request, *args, **kwargs)
        except Http404 as exc:
            return problem_response(request, NOT_FOUND, not_found_detail(exc))
        if response.status_code == 405 and not response.get("Content-Type", "").startswith(
            PROBLEM_MEDIA_TYPE
        ):
            # ninja lists the allowed methods from a set; sort them so the answer is stable.
            allowed = ", ".join(sorted(m.strip() for m in response.get("Allow", "").split(",") if m.strip()))
            return method_not_allowed(request, allowed)
        return response

    return wrapper


class UnicodeJSONRenderer(JSONRenderer):
    """JSON with Chinese text as itself rather than \\u escapes: half the bytes, readable in a terminal."""

    json_dumps_params = {"ensure_ascii": False}


NUL_CHARACTER = "请求中含有空字符（U+0000），无法处理。"


def _refuse_nul(value: Any, loc: list[str | int]) -> None:
    """No text with NUL reaches the database: PostgreSQL refuses it with an error, not a message."""
    if isinstance(value, str):
        if "\x00" in value:
            message = _(NUL_CHARACTER)
            raise Problem(BAD_REQUEST, message, errors=[field_error(loc, message, "nul_character")])
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key, loc)
            _refuse_nul(item, [*loc, str(key)])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_nul(item, [*loc, index])


class NulRefusingParser(Parser):
    """ninja's JSON parsing, refusing any text in a body that holds a NUL character with a 400 problem.

    (Query parameters are the endpoints' own: slugs are validated before any query, search cleans its text.)
    """

    def parse_body(self, request: HttpRequest) -> DictStrAny:
        data = super().parse_body(request)
        _refuse_nul(data, ["body"])
        return data


class ProblemAPI(NinjaAPI):
    """A NinjaAPI whose every error is an RFC 7807 problem (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("renderer", UnicodeJSONRenderer())
        kwargs.setdefault("parser", NulRefusingParser())
        super().__init__(**kwargs)

    def set_default_exception_handlers(self) -> None:
        handlers: list[tuple[type[Exception], Callable[..., HttpResponse]]] = [
            (Exception, handle_server_error),
            (Problem, handle_problem),
            (Http404, handle_not_found),
            (HttpError, handle_http_error),
            (AuthenticationError, handle_authentication),
            (AuthorizationError, handle_permission_denied),
            (Throttled, handle_throttled),
            (PermissionDenied, handle_permission_denied),
            (NinjaValidationError, handle_ninja_validation),
            (ValidationError, handle_django_validation),
            (RequestDataTooBig, handle_body_too_large),
            (OperationalError, handle_database_unavailable),
            (InterfaceError, handle_database_unavailable),
        ]
        for exc_class, handler in handlers:
            self.add_exception_handler(exc_class, handler)

    def validation_error_from_error_contexts(
        self, error_contexts: list[ValidationErrorContext[Any]]
    ) -> NinjaValidationError:
        # ninja locates a body field as ["body", <the view's argument name>, "title"]; clients know no
        # argument names, so drop it: ["body", "title"].
        error = super().validation_error_from_error_contexts(error_contexts)
        body_names = {
            getattr(context.model, "__read_from_single_attr__", None)
            for context in error_contexts
            if getattr(context.model, "__ninja_param_source__", None) == "body"
        }
        for item in error.errors:
            loc = list(item.get("loc", ()))
            if len(loc) >= 2 and loc[0] == "body" and loc[1] in body_names - {None}:
                del loc[1]
            item["loc"] = loc
        return error

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: DictStrAny | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for path_item in schema["paths"].values():
            for operation in path_item.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if int(status) >= 400 and self.renderer.media_type in content:
                        content[PROBLEM_MEDIA_TYPE] = content.pop(self.renderer.media_type)
        return schema

    @property
    def urls(self) -> tuple[list[URLResolver | URLPattern], str, str]:
        patterns, app_name, namespace = super().urls
        wrapped: list[URLResolver | URLPattern] = [
            URLPattern(p.pattern, _problem_view(p.callback), p.default_args, p.name)
            if isinstance(p, URLPattern)
            else p
            for p in patterns
        ]
        # An unknown URL writes nothing: answer a POST to it with the 404 problem, not Django's CSRF page.
        wrapped.append(re_path(r"", csrf_exempt(self._unknown_url), name="unknown"))
        return wrapped, app_name, namespace

    def _unknown_url(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        schema_url = reverse(f"{self.urls_namespace}:openapi-json") if self.openapi_url else ""
        detail = _(URL_UNKNOWN).format(path=request.path[:200], schema_url=schema_url)
        return problem_response(request, NOT_FOUND, detail)
