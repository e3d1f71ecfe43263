"""Standard Webhooks signatures (https://www.standardwebhooks.com): what a receiver verifies.

Every request carries `webhook-id` (the same on each retry of one message, so a receiver can drop repeats),
`webhook-timestamp` (Unix seconds; receivers refuse one more than five minutes away from their clock, so a
captured request cannot be replayed later) and `webhook-signature`: `v1,` and the Base64 HMAC-SHA256 of
`{id}.{timestamp}.{body}` keyed with the secret's bytes (the part after `whsec_`, Base64). The tests verify
with the `standardwebhooks` package, an implementation independent of this one.
"""

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - the secrets' prefix, not a secret
SECRET_BYTES = 24
USER_AGENT = "rulecenter-webhooks/1 (+https://www.standardwebhooks.com)"


def secret_new() -> str:
    """A new signing secret: `whsec_` and 24 random bytes in Base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def message_id_new() -> str:
    return f"msg_{secrets.token_hex(16)}"


def signature(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(*, secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one attempt."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret=secret, message_id=message_id, timestamp=timestamp, body=body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
