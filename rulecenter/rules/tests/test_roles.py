import pytest

from rulecenter.accounts.models import Role
from rulecenter.accounts.tests.factories import user_create

pytestmark = pytest.mark.django_db


def test_editors_write_rule_versions_reviewers_correct_publishers_see_exits() -> None:
    editor = user_create("editor", roles=(Role.EDITOR,))
    reviewer = user_create("reviewer", roles=(Role.REVIEWER,))
    publisher = user_create("publisher", roles=(Role.PUBLISHER,))
    assert editor.has_perms(["rules.add_rule", "rules.add_ruleversion", "rules.change_ruleversion"])
    assert not reviewer.has_perm("rules.add_ruleversion")
    assert reviewer.has_perm("rules.change_ruleversion")
    assert publisher.has_perm("rules.view_exitrequest")
    assert not editor.has_perm("rules.view_exitrequest")
    assert not any(user.has_perm("rules.delete_ruleversion") for user in (editor, reviewer, publisher))
