from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "rulecenter.accounts"
    label = "accounts"
    verbose_name = "账户"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from rulecenter.common.changes import content_changed

        from . import receivers
        from .models import ApiToken, Member

        user_model = get_user_model()
        content_changed.connect(receivers.content_changed, dispatch_uid="accounts_token_grants")
        post_save.connect(receivers.user_saved, sender=user_model, dispatch_uid="accounts_grants_user_saved")
        post_save.connect(receivers.token_saved, sender=ApiToken, dispatch_uid="accounts_grants_token_saved")
        m2m_changed.connect(
            receivers.user_groups_changed,
            sender=user_model.groups.through,
            dispatch_uid="accounts_grants_user_groups",
        )
        post_save.connect(
            receivers.deleted_or_renamed, sender=Group, dispatch_uid="accounts_grants_group_saved"
        )
        post_save.connect(
            receivers.member_changed, sender=Member, dispatch_uid="accounts_grants_member_saved"
        )
        post_delete.connect(
            receivers.member_changed, sender=Member, dispatch_uid="accounts_grants_member_deleted"
        )
        for model, name in ((user_model, "user"), (ApiToken, "token"), (Group, "group")):
            post_delete.connect(
                receivers.deleted_or_renamed, sender=model, dispatch_uid=f"accounts_grants_{name}_deleted"
            )
