"""The role × action table for announcements, shared by the API's and the admin's walk through every cell.

| action       | editor | reviewer | publisher | no role |
|--------------|--------|----------|-----------|---------|
| create draft | yes    | 403      | 403       | 403     |
| edit draft   | yes    | 403      | 403       | 403     |
| approve      | 403    | yes (not its author) | 403 | 403 |
| send back    | 403    | yes      | 403       | 403     |
| publish      | 403    | 403      | yes (approved drafts) | 403 |
| correct      | 403    | 403      | yes (not statutory) | 403 |
| withdraw     | 403    | 403      | yes (not statutory) | 403 |
| delete       | yes (never-published drafts) | 403 | 403 | 403 |
"""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User

from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import actor_for
from rulecenter.accounts.tests.factories import user_create
from rulecenter.announcements.models import Announcement, AnnouncementRevision, Category

from .factories import approved_draft, category_create, draft_announcement, published_announcement

ACTIONS = ("create_draft", "edit_draft", "approve", "send_back", "publish", "correct", "withdraw", "delete")
ALLOWED: dict[str, Role] = {
    "create_draft": Role.EDITOR,
    "edit_draft": Role.EDITOR,
    "approve": Role.REVIEWER,
    "send_back": Role.REVIEWER,
    "publish": Role.PUBLISHER,
    "correct": Role.PUBLISHER,
    "withdraw": Role.PUBLISHER,
    "delete": Role.EDITOR,
}
# Each actor holds one role (or none); the cells are every actor × every action.
ACTORS: dict[str, tuple[Role, ...]] = {
    "editor": (Role.EDITOR,),
    "reviewer": (Role.REVIEWER,),
    "publisher": (Role.PUBLISHER,),
    "member": (),
}
CELLS = [(actor, action) for actor in ACTORS for action in ACTIONS]
ROLE_MESSAGES = {role: f"此操作需要“{role.label}”角色。" for role in Role}

NEW_TITLE = "《新规则》意见征集"
EDITED_TITLE = "《测试规则》更新说明（修订稿）"
CORRECTED_BODY = "本次更新于2025年2月10日公示，2025年2月20日生效。"
COMMENT = "生效日期与规则不一致，请核对。"
REASON = "内容有误，更正后将重新发布。"


@dataclass
class Cell:
    actor_name: str
    action: str
    user: User
    category: Category
    subject: Announcement | None  # None for create_draft

    @property
    def allowed(self) -> bool:
        return ALLOWED[self.action] in ACTORS[self.actor_name]

    @property
    def refusal(self) -> str:
        return ROLE_MESSAGES[ALLOWED[self.action]]


def cell_setup(actor_name: str, action: str, *, is_staff: bool = False) -> Cell:
    """The user of the cell and what the action acts on: drafts by another editor, published by the system."""
    user = user_create(actor_name, roles=ACTORS[actor_name], is_staff=is_staff)
    author = user_create("author", roles=(Role.EDITOR,))
    category = category_create(slug="rules", name="规则变更")
    subject: Announcement | None
    if action == "create_draft":
        subject = None
    elif action in ("edit_draft", "approve", "send_back", "delete"):
        subject = draft_announcement(actor=actor_for(author), category=category)
    elif action == "publish":
        subject = approved_draft(actor=actor_for(author), category=category)
    else:
        subject = published_announcement(category=category)
    return Cell(actor_name, action, user, category, subject)


def snapshot() -> list[tuple[Any, ...]]:
    """Every announcement and revision as stored: a refused step leaves it exactly as it was."""
    rows = list(Announcement.objects.order_by("id").values_list())
    return rows + list(AnnouncementRevision.objects.order_by("id").values_list())


def assert_done(cell: Cell) -> None:
    """The allowed step did what it says."""
    if cell.action == "create_draft":
        created = Announcement.objects.get(title=NEW_TITLE)
        assert created.status == Announcement.Status.DRAFT
        assert created.author_id == cell.user.pk
        return
    assert cell.subject is not None
    if cell.action == "delete":
        assert not Announcement.objects.filter(pk=cell.subject.pk).exists()
        return
    stored = Announcement.objects.get(pk=cell.subject.pk)
    if cell.action == "edit_draft":
        assert (stored.title, stored.author_id, stored.status) == (EDITED_TITLE, cell.user.pk, "draft")
    elif cell.action == "approve":
        assert (stored.approved_by_id, stored.status) == (cell.user.pk, "draft")
        assert stored.approved_at is not None
    elif cell.action == "send_back":
        assert (stored.review_comment, stored.approved_at) == (COMMENT, None)
    elif cell.action == "publish":
        assert stored.status == Announcement.Status.PUBLISHED
    elif cell.action == "correct":
        assert stored.body == CORRECTED_BODY
        assert [r.body for r in stored.revisions.all()] == [cell.subject.body]
    elif cell.action == "withdraw":
        assert (stored.status, stored.withdrawn_reason) == (Announcement.Status.WITHDRAWN, REASON)
