from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "rulecenter.notifications"
    label = "notifications"
    verbose_name = "通知"

    def ready(self) -> None:
        from rulecenter.common.changes import content_changed

        from . import receivers

        content_changed.connect(receivers.content_changed, dispatch_uid="notifications_events")
