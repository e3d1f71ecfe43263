"""The sign-in backend of the site and the admin: Django's ModelBackend, with the signed-in user read from
memory (`token_cache.signed_in_user`) instead of one query for the user and one for the member per page."""

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User

from . import token_cache


class SignedInBackend(ModelBackend):
    def get_user(self, user_id: Any) -> User | None:
        try:
            key = int(user_id)
        except (TypeError, ValueError):
            return None
        user = token_cache.signed_in_user(user_id=key)
        return user if user is not None and self.user_can_authenticate(user) else None
