"""What makes kept token grants and signed-in users stale, wherever the write comes from (token_cache explains the design).

Services announce through the change hook (a token revoked, a user changed); writes that only Django sees —
the admin's user form toggling `is_active` or superuser, `user.groups.add/remove/clear`, a group renamed or
deleted, a user deleted, `ApiToken.save()` outside the services — arrive as model signals.
"""

from typing import Any

from rulecenter.common.changes import ChangeAction, ContentChange, ContentKind

from .token_cache import grants_forget

# Fields whose change cannot take a grant away: a sign-in, a token's last use. A password change does not end a
# token, but it ends the user's other sign-in sessions, so the kept user (token_cache.signed_in_user) goes.
HARMLESS_USER_FIELDS = frozenset({"last_login"})
HARMLESS_TOKEN_FIELDS = frozenset({"last_used_at", "name"})


def content_changed(*, change: ContentChange, **kwargs: Any) -> None:
    # A token issued or a user created takes nothing away; every other change to either may.
    harmless = {ContentKind.API_TOKEN: ChangeAction.ISSUED, ContentKind.USER: ChangeAction.CREATED}
    if change.kind in harmless and change.action != harmless[change.kind]:
        grants_forget()


def user_saved(*, created: bool, update_fields: frozenset[str] | None, **kwargs: Any) -> None:
    if created or (update_fields is not None and update_fields <= HARMLESS_USER_FIELDS):
        return
    grants_forget()


def token_saved(*, created: bool, update_fields: frozenset[str] | None, **kwargs: Any) -> None:
    if created or (update_fields is not None and update_fields <= HARMLESS_TOKEN_FIELDS):
        return
    grants_forget()


def user_groups_changed(*, action: str, **kwargs: Any) -> None:
    if action in {"post_add", "post_remove", "post_clear"}:
        grants_forget()


def member_changed(*, created: bool = False, **kwargs: Any) -> None:
    """A member changed or deleted (verified, joined on): the signed-in user kept with that row goes. A new
    member takes nothing away."""
    if not created:
        grants_forget()


def deleted_or_renamed(**kwargs: Any) -> None:
    """A user, a token or a group deleted, a group saved (renamed): the grants that named it end."""
    grants_forget()
