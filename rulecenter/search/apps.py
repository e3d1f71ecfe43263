from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SearchConfig(AppConfig):
    name = "rulecenter.search"
    label = "search"
    verbose_name = _("搜索")

    def ready(self) -> None:
        from rulecenter.common import topics as subscription_topics
        from rulecenter.common.changes import content_changed

        from . import receivers, topics

        content_changed.connect(receivers.content_changed, dispatch_uid="search_content_changed")
        subscription_topics.register(
            "search", check=topics.check, matches=topics.matches, describe=topics.describe
        )
