from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "rulecenter.audit"
    label = "audit"
    verbose_name = _("审计链")

    def ready(self) -> None:
        from rulecenter.common.changes import content_changed

        from . import receivers

        content_changed.connect(receivers.content_changed, dispatch_uid="audit_content_changed")
