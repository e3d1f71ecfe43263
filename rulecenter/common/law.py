"""The statutory notice periods, read from the settings: what the rule services enforce and the pages state."""

from django.conf import settings


def notice_days_required(*, major: bool) -> int:
    """Days between 公示 and 生效 the law asks for (RULECENTER_NOTICE_DAYS, or _MAJOR_ for a major change)."""
    return int(settings.RULECENTER_MAJOR_NOTICE_DAYS if major else settings.RULECENTER_NOTICE_DAYS)
