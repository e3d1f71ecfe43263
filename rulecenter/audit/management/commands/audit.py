import argparse
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from rulecenter.audit import chain, selectors, services

AGAINST_INVALID = "检查点“{value}”的格式不对：应为 序号:哈希，例如 1234:{example}（哈希为 64 位十六进制）。"
VERIFY_FAILED = "审计链核对失败（第 {seq} 条）：{message}（之前的 {checked} 条无误）"
VERIFY_OK = "审计链完整：核对了 {checked} 条记录和 {checkpoints} 个检查点，用时 {seconds:.1f} 秒（{rate:,.0f} 条/秒）。"
VERIFY_EMPTY = "审计链还没有记录。"
HEAD_LINE = "链头：第 {seq} 条，哈希 {hash}"
CHECKPOINT_MADE = (
    "已记下检查点：第 {seq} 条。公开它，日后可用 rulecenter audit verify --against {seq}:{hash} 核对。"
)


def _against(value: str) -> tuple[int, str]:
    try:
        return chain.expected_from_text(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _(AGAINST_INVALID).format(value=value[:100], example="ab12" + "…")
        ) from None


class Command(BaseCommand):
    help = "审计链：verify 重算整条链并报告第一处被改动、删除、插入或调换的记录；checkpoint 记下当前链头。"

    def add_arguments(self, parser: CommandParser) -> None:
        subcommands = parser.add_subparsers(dest="subcommand", required=True, metavar="{verify,checkpoint}")
        verify = subcommands.add_parser(
            "verify", help="按序号逐条重算审计链；有问题时报告第一条的序号并以非零状态退出。"
        )
        verify.add_argument(
            "--against",
            action="append",
            type=_against,
            default=[],
            metavar="SEQ:HASH",
            help="一个先前公开的检查点：该序号的记录必须存在且哈希相同（可重复给出）。",
        )
        verify.add_argument(
            "--chunk-size",
            type=int,
            default=selectors.VERIFY_CHUNK,
            help="每次从数据库读取的记录数（默认 %(default)s）。",
        )
        subcommands.add_parser("checkpoint", help="把当前链头记为一个检查点（公开在 /audit/ 和订阅里）。")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "checkpoint":
            try:
                checkpoint = services.audit_checkpoint_make()
            except ValidationError as error:
                raise CommandError(" ".join(error.messages)) from None
            self.stdout.write(_(CHECKPOINT_MADE).format(seq=checkpoint.seq, hash=checkpoint.hash))
            self.stdout.write(f"{checkpoint.seq}:{checkpoint.hash}")
            return
        began = time.perf_counter()
        result = selectors.audit_chain_verify(
            against=options["against"], chunk_size=max(1, options["chunk_size"])
        )
        seconds = time.perf_counter() - began
        if result.problem is not None:
            raise CommandError(
                _(VERIFY_FAILED).format(
                    seq=result.problem.seq, message=result.problem.message, checked=result.checked
                )
            )
        if result.checked == 0:
            self.stdout.write(_(VERIFY_EMPTY))
            return
        self.stdout.write(
            _(VERIFY_OK).format(
                checked=result.checked,
                checkpoints=result.checkpoints_matched,
                seconds=seconds,
                rate=result.checked / max(seconds, 1e-9),
            )
        )
        self.stdout.write(_(HEAD_LINE).format(seq=result.head_seq, hash=result.head_hash))
        self.stdout.write(f"{result.head_seq}:{result.head_hash}")
