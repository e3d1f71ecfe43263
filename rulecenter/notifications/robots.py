"""Chat robots: a DingTalk custom robot, a WeCom group robot, a Feishu (Lark) custom bot — their addresses,
messages, signatures and replies. Pure functions: no database, no network, no settings.

- Address: each platform's own host, over https, in its own form (`target_check`); tests pass `any_host`
  to point a robot at a local receiver.
- Message (`message`): the event's kind, the title, the notice (公示) and effective (生效) times in
  Asia/Shanghai time, the summary, and a link (the diff, else the version, else the page). DingTalk and
  WeCom render markdown: the text of an event is neutralised (markdown and HTML controls replaced by their
  full-width look-alikes, `://` and `www.` broken), so a title cannot make a link, a mention or a heading.
  Feishu gets a `post` message, whose `text` elements are shown as written. Each message has a size
  budget (WeCom's is the platform's: 4096 bytes of UTF-8); the summary is cut to fit, between characters,
  with an ellipsis.
- Signature (`signed_request`): DingTalk 加签 (`timestamp` in ms and `sign` in the URL), Feishu 签名校验
  (`timestamp` in s and `sign` in the body); WeCom has none (the key in the URL is the credential). Both
  platforms refuse a timestamp more than an hour from their clock: sign at each attempt, never ahead.
- Reply (`outcome`): these platforms answer 200 with a JSON code; only a 2xx with code 0 is a success.
  Each allows `PER_MINUTE` messages a minute per robot; DingTalk then blocks the robot for ten minutes.
"""

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit
from zoneinfo import ZoneInfo

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from rulecenter.common import outbound

from .events import EVENT_LABELS

DINGTALK, WECOM, FEISHU = "dingtalk", "wecom", "feishu"
HOSTS: dict[str, tuple[str, ...]] = {
    DINGTALK: ("oapi.dingtalk.com",),
    WECOM: ("qyapi.weixin.qq.com",),
    FEISHU: ("open.feishu.cn", "open.larksuite.com"),
}
# Messages a minute each platform takes from one robot; over it DingTalk blocks the robot for ten minutes.
PER_MINUTE = 20
RATE_LIMITED_WAIT = {
    DINGTALK: timedelta(minutes=10),
    WECOM: timedelta(minutes=1),
    FEISHU: timedelta(minutes=1),
}
# The platforms' codes for "too many messages": DingTalk "send too fast", WeCom "api freq out of limit",
# Feishu "frequency limited".
RATE_LIMIT_CODES = {DINGTALK: frozenset({130101}), WECOM: frozenset({45009}), FEISHU: frozenset({11232})}

URL_MAX_CHARS = outbound.URL_MAX_CHARS
KEY_CHARS = r"[A-Za-z0-9_-]{1,200}"  # an access token, key or hook id
# Characters a URL may hold as written (RFC 3986): anything else (space, a control, non-ASCII) is refused.
URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
FORMS = {
    DINGTALK: ("/robot/send", re.compile(f"access_token={KEY_CHARS}"), "access_token"),
    WECOM: ("/cgi-bin/webhook/send", re.compile(f"key={KEY_CHARS}"), "key"),
}
FEISHU_PATH = re.compile(f"/open-apis/bot/v2/hook/{KEY_CHARS}")
EXAMPLES = {
    DINGTALK: "https://oapi.dingtalk.com/robot/send?access_token=…",
    WECOM: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
    FEISHU: "https://open.feishu.cn/open-apis/bot/v2/hook/…",
}
PLATFORMS = {DINGTALK: "钉钉机器人", WECOM: "企业微信机器人", FEISHU: "飞书机器人"}

CHANNEL_UNKNOWN = "没有“{channel}”这种机器人：可选 dingtalk、wecom 或 feishu。"
SCHEME_HTTPS = "机器人的网址必须以 https:// 开头。"
HOST_WRONG = "{platform}的网址必须在 {hosts} 上。"
FORM_WRONG = "{platform}的网址应形如 {example}。"
KEY_MISSING = "{platform}的网址缺少 {param}：请从群设置里复制完整的 Webhook 地址。"

# Labels: the same msgids as the e-mails' (mail.py, the templates), so one translation serves both.
EVENT_OTHER = "规则中心"
MAJOR = "重大变更"
VERSION = "第 %(number)s 版"
NOTICE_AT, EFFECTIVE_AT, PUBLISHED_AT = "公示", "生效", "发布"
OPENS_AT, CLOSES_AT = "开始", "截止"
LINKS = (("diff_url", "查看变更对照"), ("version_url", "查看这一版"), ("url", "查看详情"))

NO_REPLY = "没有收到回复。"
NOT_JSON = "回复不是 JSON。"
NO_CODE = "回复里没有结果代码。"

LOCAL = ZoneInfo("Asia/Shanghai")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TITLE_MAX_CHARS = 200
SUMMARY_MAX_CHARS = 20_000  # more than any budget below holds: the rest is never looked at
LINK_MAX_CHARS = 1000
# What one message may weigh, in UTF-8 bytes: WeCom's markdown `content` (the platform's limit), DingTalk's
# markdown `text` and Feishu's whole JSON body (ours: the platform takes up to 20 KB; a chat message is
# read on a phone, and the link has the rest).
BUDGETS = {WECOM: 4096, DINGTALK: 8000, FEISHU: 8000}
ELLIPSIS = "…"
REPLY_MAX_BYTES = 64 * 1024
ERROR_MAX_CHARS = 200
USER_AGENT = "rulecenter-robots/1"


class TargetRefused(outbound.TargetRefused):
    """A URL a robot's messages may not be sent to; the message says why, in the user's language. A kind of
    `outbound.TargetRefused` (a ValueError), so whoever handles a webhook's refusal handles this too."""


@dataclass(frozen=True, slots=True)
class RobotOutcome:
    succeeded: bool
    error: str = ""
    rate_limited: bool = False  # the platform said "too fast": wait (RATE_LIMITED_WAIT) before the next


def _known(channel: str) -> str:
    if channel not in HOSTS:
        raise TargetRefused(_(CHANNEL_UNKNOWN).format(channel=channel[:20]))
    return channel


# Addresses


def target_check(channel: str, url: str, *, any_host: bool = False) -> None:
    """Refuse (TargetRefused) a URL that is not the platform's robot address: https on the platform's host
    (with `any_host`, http and any host too: local receivers in tests), in the platform's form."""
    _known(channel)
    platform = _(PLATFORMS[channel])
    if len(url) > URL_MAX_CHARS:
        raise TargetRefused(_(outbound.URL_TOO_LONG).format(limit=URL_MAX_CHARS))
    scheme_refused = _(outbound.URL_SCHEME) if any_host else _(SCHEME_HTTPS)
    form_refused = _(FORM_WRONG).format(platform=platform, example=EXAMPLES[channel])
    if not URL_CHARS.fullmatch(url):
        raise TargetRefused(form_refused)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetRefused(scheme_refused) from None
    if parts.scheme not in (("https", "http") if any_host else ("https",)):
        raise TargetRefused(scheme_refused)
    if parts.username is not None or parts.password is not None:
        raise TargetRefused(_(outbound.URL_CREDENTIALS))
    if not parts.hostname:
        raise TargetRefused(_(outbound.URL_HOST_MISSING))
    if not any_host and (parts.hostname not in HOSTS[channel] or port not in (None, 443)):
        raise TargetRefused(_(HOST_WRONG).format(platform=platform, hosts=" / ".join(HOSTS[channel])))
    if parts.fragment or "#" in url:
        raise TargetRefused(form_refused)
    if channel == FEISHU:
        if parts.path.rstrip("/") == "/open-apis/bot/v2/hook":
            raise TargetRefused(_(KEY_MISSING).format(platform=platform, param="hook/<token>"))
        if parts.query or not FEISHU_PATH.fullmatch(parts.path):
            raise TargetRefused(form_refused)
        return
    path, query, param = FORMS[channel]
    if parts.path != path:
        raise TargetRefused(form_refused)
    if query.fullmatch(parts.query):
        return
    if not re.search(f"(?:^|&){param}=[A-Za-z0-9_-]", parts.query):
        raise TargetRefused(_(KEY_MISSING).format(platform=platform, param=param))
    raise TargetRefused(form_refused)


# Messages

# Markdown and HTML controls become their full-width look-alikes; controls and direction overrides go.
_NEUTRAL = str.maketrans(
    {
        "\\": "＼", "`": "｀", "*": "＊", "_": "＿", "[": "［", "]": "］", "<": "＜", ">": "＞",
        "#": "＃", "|": "｜", "~": "～", "&": "＆",
    }
)  # fmt: skip
_CONTROLS = {
    **{code: " " for code in (*range(0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029)},
    **{code: None for code in (*range(0x200E, 0x2010), *range(0x202A, 0x202F), *range(0x2066, 0x206A))},
}
_LINE = str.maketrans(_CONTROLS)
_LINES = str.maketrans({**_CONTROLS, ord("\n"): "\n"})
_WWW = re.compile(r"(?i)\b(www)\.")


def _text(value: Any, limit: int, *, lines: bool = False) -> str:
    """A string of `data`, at most `limit` characters, its controls gone (newlines kept if `lines`)."""
    if not isinstance(value, str):
        return ""
    text = value[:limit].encode("utf-8", "replace").decode()  # a lone surrogate becomes "?"
    if not lines:
        return " ".join(text.translate(_LINE).split())
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_LINES)
    return "\n".join(line for line in (" ".join(part.split()) for part in text.split("\n")) if line)


def _unlinked(text: str) -> str:
    """Text no client turns into a link of its own (an address's `://` and `www.` broken)."""
    return _WWW.sub(r"\1．", text.replace("://", "：//"))


def _neutral(text: str) -> str:
    """Text markdown shows as written: no link, image, mention, heading, emphasis or HTML."""
    return _unlinked(text.translate(_NEUTRAL))


def _local(value: Any) -> str:
    """An ISO 8601 moment (an aware datetime too) in Asia/Shanghai time, `YYYY-MM-DD HH:MM`; a moment with
    no offset is UTC (as Django stores them); "" for anything else."""
    moment: datetime
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value[:64])
        except ValueError:
            return ""
    else:
        return ""
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, ValueError):  # year 9999 in Shanghai is past datetime's end
        return ""


def _link(data: Mapping[str, Any]) -> tuple[str, str]:
    """The link a message carries, percent-encoded so it cannot end a markdown link early, and its label."""
    for key, label in LINKS:
        value = data.get(key)
        if (
            isinstance(value, str)
            and value.startswith(("https://", "http://"))
            and len(value) <= LINK_MAX_CHARS
        ):
            return quote(value, safe=":/?&=%+,;@#"), _(label)
    return "", ""


@dataclass(frozen=True, slots=True)
class _Item:
    kind: str  # the event in words, "· 重大变更" with it for a major change
    title: str
    version: str  # "第 3 版", or ""
    times: tuple[tuple[str, str], ...]  # (label, local time)
    summary: str
    link: str
    link_label: str


def _item(event_type: str, data: Mapping[str, Any]) -> _Item:
    """What a message says of an event, in the active language; its text as given (cleaned, not escaped)."""
    kind = _(EVENT_LABELS.get(event_type, EVENT_OTHER))
    if data.get("major") is True:
        kind = f"{kind} · {_(MAJOR)}"
    number = data.get("version")
    version = _(VERSION) % {"number": number} if type(number) is int else ""
    times = [
        (_(NOTICE_AT), _local(data.get("notice_at"))),
        (_(EFFECTIVE_AT), _local(data.get("effective_at"))),
    ]
    if not times[1][1]:
        times.append((pgettext("date", PUBLISHED_AT), _local(data.get("published_at"))))
    times += [(_(OPENS_AT), _local(data.get("opens_at"))), (_(CLOSES_AT), _local(data.get("closes_at")))]
    link, link_label = _link(data)
    return _Item(
        kind=kind,
        title=_text(data.get("title"), TITLE_MAX_CHARS),
        version=version,
        times=tuple((label, value) for label, value in times if value),
        summary=_text(data.get("summary"), SUMMARY_MAX_CHARS, lines=True),
        link=link,
        link_label=link_label,
    )


def _utf8(char: str) -> int:
    return 1 if char < "\x80" else 2 if char < "\u0800" else 3 if char < "\U00010000" else 4


def _json(char: str) -> int:
    # What a character weighs in JSON (ensure_ascii=False); the other controls are gone (`_text`).
    return _utf8(char) + (char in '"\\\n')


def _fit(text: str, budget: int, cost: Callable[[str], int]) -> str:
    """`text` if it weighs at most `budget`, else its longest start that fits with an ellipsis after it:
    cut between characters, in one pass."""
    cut = text[: max(budget, 0)]  # every character weighs at least one: no more can fit
    if len(cut) == len(text) and sum(map(cost, cut)) <= budget:
        return text
    room, used = budget - cost(ELLIPSIS), 0
    if room < 0:
        return ""
    for index, char in enumerate(cut):
        used += cost(char)
        if used > room:
            return cut[:index].rstrip() + ELLIPSIS
    return cut + ELLIPSIS


def _markdown(item: _Item, separator: str, budget: int) -> str:
    """The markdown of DingTalk and WeCom: at most `budget` bytes of UTF-8, the summary cut to fit."""
    heading = f"**{_neutral(item.title)}**" + (f"（{item.version}）" if item.version else "")
    head = [f"### {_neutral(item.kind)}", heading, *(f"{label}：{value}" for label, value in item.times)]
    tail = [f"[{item.link_label}]({item.link})"] if item.link else []
    summary = separator.join(_neutral(item.summary).split("\n"))
    fixed = _utf8_len(separator.join([*head, "", *tail]))
    summary = _fit(summary, budget - fixed, _utf8)
    return separator.join([*head, *([summary] if summary else []), *tail])


def _utf8_len(text: str) -> int:
    return len(text.encode())


def _dingtalk(item: _Item) -> dict[str, Any]:
    title = _neutral(f"{item.kind}：{item.title}")[:100]
    return {
        "msgtype": "markdown",
        "markdown": {"title": title, "text": _markdown(item, "\n\n", BUDGETS[DINGTALK])},
    }


def _wecom(item: _Item) -> dict[str, Any]:
    return {"msgtype": "markdown", "markdown": {"content": _markdown(item, "\n", BUDGETS[WECOM])}}


def _feishu(item: _Item, language: str) -> dict[str, Any]:
    def post(summary: str) -> dict[str, Any]:
        rows: list[list[dict[str, str]]] = []
        if item.version:
            rows.append([{"tag": "text", "text": item.version}])
        rows += [[{"tag": "text", "text": f"{label}：{value}"}] for label, value in item.times]
        if summary:
            rows.append([{"tag": "text", "text": summary}])
        if item.link:
            rows.append([{"tag": "a", "text": item.link_label, "href": item.link}])
        title = _unlinked(f"{item.kind}：{item.title}")
        locale = "en_us" if language.lower().startswith("en") else "zh_cn"
        return {"msg_type": "post", "content": {"post": {locale: {"title": title, "content": rows}}}}

    summary = _unlinked(item.summary)
    fixed = len(json.dumps(post(" "), ensure_ascii=False, separators=(",", ":")).encode()) - 1
    return post(_fit(summary, BUDGETS[FEISHU] - fixed, _json))


def message(
    channel: str, event_type: str, data: dict[str, Any], *, language: str = "zh-hans"
) -> dict[str, Any]:
    """The JSON payload that tells a robot's group of an event (`data` as receivers.py writes it), in
    `language`: DingTalk and WeCom markdown, a Feishu `post`."""
    _known(channel)
    with translation.override(language):
        item = _item(event_type, data if isinstance(data, Mapping) else {})
        if channel == DINGTALK:
            return _dingtalk(item)
        if channel == WECOM:
            return _wecom(item)
        return _feishu(item, language)


# Signatures


def _sign(key: str, message: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), message.encode(), hashlib.sha256).digest()).decode()


def signed_request(
    channel: str, url: str, payload: dict[str, Any], *, secret: str, now: datetime
) -> tuple[str, bytes, dict[str, str]]:
    """What to POST at `now`: the URL, the body (JSON, UTF-8) and the headers, signed if there is a secret.

    DingTalk (加签): `timestamp` = ms since the epoch; `sign` = Base64(HMAC-SHA256(key=secret,
    msg=f"{timestamp}\\n{secret}")), URL-encoded; both appended to the URL. Feishu (签名校验): `timestamp` =
    seconds, a string; `sign` = Base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg="")); both put into the
    body. WeCom: no signature.
    """
    _known(channel)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    body = dict(payload)
    if secret and channel == DINGTALK:
        timestamp = str((now - EPOCH) // timedelta(milliseconds=1))
        sign = quote_plus(_sign(secret, f"{timestamp}\n{secret}"))
        url = f"{url}{'&' if '?' in url else '?'}timestamp={timestamp}&sign={sign}"
    elif secret and channel == FEISHU:
        timestamp = str((now - EPOCH) // timedelta(seconds=1))
        body.update(timestamp=timestamp, sign=_sign(f"{timestamp}\n{secret}", ""))
    encoded = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")
    return url, encoded, {"content-type": "application/json; charset=utf-8", "user-agent": USER_AGENT}


# Replies


def _short(text: str) -> str:
    return " ".join(text[: ERROR_MAX_CHARS * 2].translate(_LINE).split())[:ERROR_MAX_CHARS]


def _reply(body: bytes) -> Any:
    try:
        return json.loads(body[:REPLY_MAX_BYTES])
    except (ValueError, RecursionError):
        return None


def _code(channel: str, reply: Any) -> tuple[int | None, str]:
    """The platform's result code in its reply (None if it has none) and its message."""
    if not isinstance(reply, dict):
        return None, ""
    keys = (
        [("code", "msg"), ("StatusCode", "StatusMessage")] if channel == FEISHU else [("errcode", "errmsg")]
    )
    for code_key, message_key in keys:
        code = reply.get(code_key)
        if type(code) is int:
            text = reply.get(message_key)
            return code, text if isinstance(text, str) else ""
    return None, ""


def outcome(channel: str, status: int | None, body: bytes) -> RobotOutcome:
    """What became of a message, from the reply's status and body (of which at most 64 KiB is read): only a
    2xx whose JSON code is 0 succeeded. Never raises for what the reply holds."""
    _known(channel)
    if status is None:
        return RobotOutcome(False, _short(_(NO_REPLY)))
    reply = _reply(body)
    code, text = _code(channel, reply)
    rate_limited = status == 429 or code in RATE_LIMIT_CODES[channel]
    good_status = 200 <= status < 300
    if good_status and code == 0:
        return RobotOutcome(True)
    if code is not None:
        error = f"{code}: {text}" if good_status else f"HTTP {status}; {code}: {text}"
    elif not good_status:
        error = f"HTTP {status}"
    else:
        error = _(NOT_JSON) if reply is None else _(NO_CODE)
    return RobotOutcome(False, _short(error), rate_limited)
