"""Run by the multi-node tests in separate processes: `python -m rulecenter.search.tests.processes …`.

publish TITLE    publish one announcement through the service; print the commit time
bulk COUNT       add COUNT published announcements with their outbox rows in one transaction
"""

import sys
import time

from rulecenter.common.actors import SYSTEM


def main() -> None:
    import django

    django.setup()
    from django.db import transaction
    from django.utils import timezone

    from rulecenter.announcements import services
    from rulecenter.announcements.models import Announcement
    from rulecenter.search.models import OutboxEntry
    from rulecenter.search.services import search_outbox_add

    command, argument = sys.argv[1], sys.argv[2]
    category = services.category_ensure(actor=SYSTEM, slug="news", name="新闻")
    if command == "publish":
        with transaction.atomic():
            services.announcement_create(
                actor=SYSTEM,
                title=argument,
                body=f"{argument} 的正文。",
                category=category,
                status=Announcement.Status.PUBLISHED,
            )
        print(f"{time.time():.6f}", flush=True)
    elif command == "bulk":
        body = "商家应在买家付款后48小时内发货；延迟发货的，应向买家赔付。" * 4
        with transaction.atomic():
            rows = Announcement.objects.bulk_create(
                Announcement(
                    title=f"批量公告 {number}",
                    body=body,
                    body_html=f"<p>{body}</p>",
                    excerpt=body[:100],
                    kind=Announcement.Kind.NEWS,
                    category=category,
                    status=Announcement.Status.PUBLISHED,
                    published_at=timezone.now(),
                )
                for number in range(int(argument))
            )
            ids = [row.pk for row in rows]
            search_outbox_add(entity=OutboxEntry.Entity.ANNOUNCEMENT, object_ids=sorted(ids))
        print(",".join(str(pk) for pk in sorted(ids)), flush=True)
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
