from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from rulecenter.ingest import services
from rulecenter.ingest.models import Channel, ChannelFetch

CHANNEL_UNKNOWN = "没有编号为 {pk} 的频道。"
SOME_FAILED = "{failed} 个频道抓取失败（原因已记入各频道的状态）。"


class Command(BaseCommand):
    help = (
        "抓取到期的关注频道一次：有变化的页面读出条目并导入（新增、更新保留旧文本），未变化的（304 或内容相同）"
        "什么也不写；失败的记入频道状态并推迟重试，不影响其他频道。有频道失败时以状态 1 退出。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="抓取所有未暂停的频道，不论是否到期")
        parser.add_argument(
            "--channel",
            type=int,
            action="append",
            default=[],
            metavar="ID",
            help="立即抓取这个频道，不论是否到期（可重复）",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["channel"]:
            records = []
            for pk in options["channel"]:
                if not Channel.objects.filter(pk=pk).exists():
                    raise CommandError(_(CHANNEL_UNKNOWN).format(pk=pk))
                record = services.channel_fetch(channel_id=pk, due_only=False)
                if record is not None:
                    records.append(record)
        else:
            records = services.channels_fetch_due(every=options["all"])
        names = dict(Channel.objects.filter(pk__in=[r.channel_id for r in records]).values_list("pk", "name"))
        for record in records:
            self.stdout.write(self._line(names.get(record.channel_id, "?"), record))
        self.stdout.write(_("抓取了 {count} 个频道。").format(count=len(records)))
        failed = sum(1 for record in records if record.outcome == ChannelFetch.Outcome.FAILED)
        if failed:
            raise CommandError(_(SOME_FAILED).format(failed=failed), returncode=1)

    @staticmethod
    def _line(name: str, record: ChannelFetch) -> str:
        if record.outcome == ChannelFetch.Outcome.FAILED:
            return f"✗ {name}: {record.error}"
        if record.outcome == ChannelFetch.Outcome.NOT_MODIFIED:
            return "· " + _("{name}：未变化").format(name=name)
        return "✓ " + _(
            "{name}：读到 {items} 条，新增 {new} 条，更新 {updated} 条，不确定 {unsure} 条"
        ).format(name=name, items=record.items, new=record.new, updated=record.updated, unsure=record.unsure)
