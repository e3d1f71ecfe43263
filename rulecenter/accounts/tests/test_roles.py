import pytest
from django.contrib.auth.models import Group
from django.test import Client

from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import actor_for
from rulecenter.announcements.models import Announcement
from rulecenter.announcements.services import announcement_approve
from rulecenter.announcements.tests.factories import published_announcement

from .factories import user_create

pytestmark = pytest.mark.django_db


def permissions_of(role: Role) -> set[str]:
    group = Group.objects.get(name=role.value)
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in group.permissions.select_related("content_type").filter(
            content_type__app_label="announcements"
        )
    }


def test_every_role_is_a_group_with_its_permissions() -> None:
    """Editors write, reviewers correct, publishers decide what goes out; all of them can read.

    (Their permissions on the rule library are checked in rules/tests/test_roles.py.)
    """
    read = {
        "announcements.view_announcement",
        "announcements.view_category",
        "announcements.view_announcementtranslation",  # listed on the translate page; written by services
    }
    assert permissions_of(Role.EDITOR) == read | {
        "announcements.add_announcement",
        "announcements.change_announcement",
    }
    assert permissions_of(Role.REVIEWER) == read | {"announcements.change_announcement"}
    assert permissions_of(Role.PUBLISHER) == read | {
        "announcements.change_announcement",
        "announcements.publish_announcement",
    }


def test_only_publishers_may_publish() -> None:
    editor = user_create("editor", roles=(Role.EDITOR,))
    reviewer = user_create("reviewer", roles=(Role.REVIEWER,))
    publisher = user_create("publisher", roles=(Role.PUBLISHER,))
    assert editor.has_perm("announcements.add_announcement")
    assert not reviewer.has_perm("announcements.add_announcement")
    assert [u.has_perm("announcements.publish_announcement") for u in (editor, reviewer, publisher)] == [
        False,
        False,
        True,
    ]


def staff_client(*roles: Role) -> Client:
    client = Client()
    client.force_login(user_create("staff-" + "-".join(r.value for r in roles), roles=roles, is_staff=True))
    return client


def test_an_editor_in_the_admin_cannot_publish() -> None:
    """The publish action is not offered and the status fields are read-only for an editor."""
    draft = published_announcement(status=Announcement.Status.DRAFT, published_at=None)
    client = staff_client(Role.EDITOR)
    changelist = client.get("/admin/announcements/announcement/").content.decode()
    assert "publish_selected" not in changelist
    form = client.get(f"/admin/announcements/announcement/{draft.pk}/change/").content.decode()
    assert 'name="title"' in form
    assert 'name="status"' not in form
    client.post(
        "/admin/announcements/announcement/",
        {"action": "publish_selected", "_selected_action": [draft.pk]},
    )
    draft.refresh_from_db()
    assert draft.status == Announcement.Status.DRAFT


def test_a_publisher_in_the_admin_publishes() -> None:
    """A draft a reviewer approved (four eyes) is published by a publisher's action in the admin."""
    draft = published_announcement(status=Announcement.Status.DRAFT, published_at=None)
    reviewer = user_create("reviewer", roles=(Role.REVIEWER,))
    announcement_approve(actor=actor_for(reviewer), announcement=draft)
    client = staff_client(Role.PUBLISHER)
    response = client.post(
        "/admin/announcements/announcement/",
        {"action": "publish_selected", "_selected_action": [draft.pk]},
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == Announcement.Status.PUBLISHED
    assert draft.published_at is not None


def test_roles_match_the_role_choices() -> None:
    assert set(Group.objects.values_list("name", flat=True)) >= {role.value for role in Role}
