"""`rulecenter audit verify` recomputes the chain and names the first entry that was tampered with.

The attacker here owns the database: they drop the triggers, change rows with plain SQL, put the triggers
back. The chain cannot stop that; it must show it.
"""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from rulecenter.audit import chain, selectors, services
from rulecenter.audit.models import AuditCheckpoint, AuditEntry, AuditHead

from .factories import raw, triggers_dropped, writes

pytestmark = pytest.mark.django_db


def verify(*args: str) -> str:
    out = StringIO()
    call_command("audit", "verify", *args, stdout=out)
    return out.getvalue()


def refused(*args: str) -> str:
    with pytest.raises(CommandError) as refusal:
        verify(*args)
    return str(refusal.value)


def hash_at(seq: int) -> str:
    return AuditEntry.objects.get(seq=seq).hash


def checkpoint() -> str:
    out = StringIO()
    call_command("audit", "checkpoint", stdout=out)
    return out.getvalue().splitlines()[-1]


def test_a_clean_chain_verifies_and_the_head_is_printed() -> None:
    writes(5)

    output = verify()

    assert "审计链完整：核对了 5 条记录" in output
    assert f"5:{hash_at(5)}" in output.splitlines()


def test_an_empty_chain_verifies() -> None:
    assert "审计链还没有记录" in verify()


def test_an_entrys_data_edited_in_the_database_is_named_by_its_seq() -> None:
    writes(5)
    with triggers_dropped():
        raw("UPDATE audit_auditentry SET data = %s WHERE seq = 3", ['{"title":"改过的标题"}'])

    assert "第 3 条的内容被改动" in refused()


def test_an_entrys_actor_edited_is_named_by_its_seq() -> None:
    writes(5)
    with triggers_dropped():
        raw("UPDATE audit_auditentry SET actor_name = %s WHERE seq = 2", ["someone-else"])

    assert "第 2 条被改动" in refused()


def test_an_edit_with_its_hash_recomputed_breaks_the_link_to_the_next_entry() -> None:
    """The attacker knows the hash definition (it is public) and makes entry 3 consistent with itself."""
    writes(5)
    entry = AuditEntry.objects.get(seq=3)
    entry.actor_name = "someone-else"
    rehashed = chain.entry_hash(entry.prev_hash, 3, services._canonical(entry))
    with triggers_dropped():
        AuditEntry.objects.filter(seq=3).update(actor_name="someone-else", hash=rehashed)

    assert "第 4 条与第 3 条接不上" in refused()


def test_a_deleted_entry_is_named_by_its_seq() -> None:
    writes(5)
    with triggers_dropped():
        raw("DELETE FROM audit_auditsubject WHERE entry_id = 3")
        raw("DELETE FROM audit_auditentry WHERE seq = 3")

    assert "第 3 条缺失" in refused()


def test_two_entries_swapped_are_named_by_the_first_seq_out_of_place() -> None:
    writes(5)
    names = [f.name for f in AuditEntry._meta.concrete_fields if f.name != "seq"]
    third, fourth = (AuditEntry.objects.filter(seq=seq).values(*names).get() for seq in (3, 4))
    with triggers_dropped():
        AuditEntry.objects.filter(seq=3).update(**fourth)
        AuditEntry.objects.filter(seq=4).update(**third)

    assert "第 3 条与第 2 条接不上" in refused()


def test_a_cut_tail_shows_against_the_head() -> None:
    writes(5)
    with triggers_dropped():
        raw("DELETE FROM audit_auditsubject WHERE entry_id >= 4")
        raw("DELETE FROM audit_auditentry WHERE seq >= 4")

    assert "第 4 条起的末尾被删除" in refused()


def cut_tail_and_rewrite(*, keep: int, forget_checkpoints: bool) -> None:
    """The careful attacker: cut the tail, move the head back so new writes continue cleanly."""
    with triggers_dropped():
        raw("DELETE FROM audit_auditsubject WHERE entry_id > %s", [keep])
        raw("DELETE FROM audit_auditentry WHERE seq > %s", [keep])
        if forget_checkpoints:
            raw("DELETE FROM audit_auditcheckpoint WHERE seq > %s", [keep])
    AuditHead.objects.filter(pk=1).update(seq=keep, hash=hash_at(keep))


def test_a_rewritten_tail_passes_alone_but_not_against_a_checkpoint_published_before() -> None:
    writes(5)
    published = checkpoint()
    assert published == f"5:{hash_at(5)}"
    cut_tail_and_rewrite(keep=3, forget_checkpoints=True)
    writes(3)  # entries 4, 5, 6 again, with other contents

    assert "审计链完整：核对了 6 条记录" in verify()  # a consistent forgery: only a published head shows it
    message = refused("--against", published)
    assert "第 5 条的哈希与命令行给出的检查点" in message
    assert "（第 5 条）" in message


def test_a_rewritten_tail_shows_against_the_checkpoints_left_in_the_database() -> None:
    writes(5)
    checkpoint()
    cut_tail_and_rewrite(keep=3, forget_checkpoints=False)
    writes(3)

    assert "第 5 条的哈希与" in refused()


def test_a_truncated_tail_is_named_against_a_checkpoint_beyond_it() -> None:
    writes(5)
    published = checkpoint()
    cut_tail_and_rewrite(keep=3, forget_checkpoints=True)

    assert "所指的第 5 条不存在：链只到第 3 条" in refused("--against", published)


def test_an_entry_written_around_the_system_beyond_the_head_is_named() -> None:
    writes(3)
    forged = AuditEntry.objects.get(seq=3)
    forged.seq, forged.prev_hash = 4, forged.hash
    AuditEntry.objects.bulk_create([forged])  # inserting is what the system does; the head was not moved

    assert "第 4 条在链头（第 3 条）之后" in refused()


def test_a_checkpoint_matching_the_chain_verifies() -> None:
    writes(4)
    published = checkpoint()
    writes(2)

    output = verify("--against", published)

    assert "核对了 6 条记录和 3 个检查点" in output  # the one given, the same one stored, the first day's


def test_a_malformed_checkpoint_is_refused_with_the_format() -> None:
    with pytest.raises(CommandError, match="序号:哈希"):
        verify("--against", "12:not-a-hash")


def test_a_checkpoint_of_an_empty_chain_is_refused() -> None:
    with pytest.raises(CommandError, match="还没有记录"):
        checkpoint()
    assert not AuditCheckpoint.objects.exists()


def test_verify_streams_in_chunks_and_reports_the_same() -> None:
    writes(7)
    with triggers_dropped():
        raw("UPDATE audit_auditentry SET actor_roles = %s WHERE seq = 6", ["publisher"])

    small = selectors.audit_chain_verify(chunk_size=2)
    assert small.problem is not None
    assert small.problem.seq == 6
    assert small.checked == 5
