import pytest
from django_tenants.utils import schema_context

from apps.accounts.services import team_create, user_set_active
from apps.notifications.models import Notification
from apps.notifications.selectors import notification_list, unread_count
from apps.notifications.services import notification_mark_read, notification_send
from conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(tenant, owner):
    agent = make_user(tenant, email="ana@alpha.test", role="agent")
    other_agent = make_user(tenant, email="bia@alpha.test", role="agent")
    supervisor = make_user(tenant, email="sup@alpha.test", role="supervisor")
    with schema_context(tenant.schema_name):
        yield {"owner": owner, "agent": agent, "other_agent": other_agent, "supervisor": supervisor}


def _recipients(sent):
    return sorted(n.recipient.email for n in sent)


def test_user_target(people):
    sent = notification_send(user=people["agent"], kind="assigned", title="Conversation assigned to you")
    assert _recipients(sent) == ["ana@alpha.test"]
    assert unread_count(people["agent"]) == 1
    assert unread_count(people["other_agent"]) == 0


def test_role_target_reaches_everyone_with_the_role_and_skips_inactive(people):
    user_set_active(user=people["other_agent"], active=False)
    sent = notification_send(role="agent", kind="info", title="New canned replies")
    assert _recipients(sent) == ["ana@alpha.test"]
    assert not Notification.objects.filter(recipient=people["other_agent"]).exists()


def test_team_target_and_union_without_duplicates(people):
    team = team_create(name="Kitchen", members=[people["agent"], people["supervisor"]])
    sent = notification_send(team=team, user=people["agent"], recipients=[people["supervisor"].pk, people["owner"]],
                             kind="info", title="Menu updated")
    assert _recipients(sent) == ["ana@alpha.test", "owner@alpha.test", "sup@alpha.test"]
    assert Notification.objects.filter(recipient=people["agent"]).count() == 1


def test_inactive_team_member_is_skipped(people):
    team = team_create(name="Night shift", members=[people["agent"], people["other_agent"]])
    user_set_active(user=people["agent"], active=False)
    assert _recipients(notification_send(team=team, kind="info", title="Shift")) == ["bia@alpha.test"]


def test_no_target_sends_nothing(people):
    assert notification_send(kind="info", title="Nobody") == []
    assert notification_send(recipients=[], kind="info", title="Nobody") == []
    assert Notification.objects.count() == 0


def test_unsafe_links_are_dropped(people):
    (bad,) = notification_send(user=people["agent"], kind="info", title="x", link="javascript:alert(1)")
    (proto,) = notification_send(user=people["agent"], kind="info", title="x", link="//evil.example/")
    (good,) = notification_send(user=people["agent"], kind="info", title="x", link="/inbox/7/")
    assert (bad.link, proto.link, good.link) == ("", "", "/inbox/7/")


def test_mark_read_by_ids_touches_only_own_notifications(people):
    mine = notification_send(user=people["agent"], kind="info", title="a") + \
        notification_send(user=people["agent"], kind="info", title="b")
    (theirs,) = notification_send(user=people["other_agent"], kind="info", title="c")

    changed = notification_mark_read(user=people["agent"], ids=[mine[0].pk, theirs.pk])

    assert changed == 1
    assert unread_count(people["agent"]) == 1
    assert unread_count(people["other_agent"]) == 1
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_read(people):
    for title in ("a", "b", "c"):
        notification_send(user=people["agent"], kind="info", title=title)
    assert notification_mark_read(user=people["agent"], all=True) == 3
    assert unread_count(people["agent"]) == 0
    assert notification_mark_read(user=people["agent"], all=True) == 0
    assert [n.title for n in notification_list(user=people["agent"])] == ["c", "b", "a"]


def test_email_option_sends_mail_after_commit(people, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notification_send(recipients=[people["agent"], people["supervisor"]], kind="order", title="Order #31 paid",
                          body="Pix received", link="/store/orders/31/", email=True)
    assert sorted(m.to[0] for m in mailoutbox) == ["ana@alpha.test", "sup@alpha.test"]
    message = mailoutbox[0]
    assert "Order #31 paid" in message.subject and "Alpha Frios" in message.subject
    assert "Pix received" in message.body
    assert "http://alpha.localhost" in message.body and "/store/orders/31/" in message.body


def test_no_email_unless_asked_or_before_commit(people, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notification_send(user=people["agent"], kind="info", title="Quiet")
    assert mailoutbox == []
    with django_capture_on_commit_callbacks(execute=False):
        notification_send(user=people["agent"], kind="info", title="Rolled back", email=True)
    assert mailoutbox == []


def test_email_is_in_the_recipients_language(people, mailoutbox, django_capture_on_commit_callbacks):
    from apps.accounts.services import user_update_preferences

    user_update_preferences(user=people["agent"], language="en")
    with django_capture_on_commit_callbacks(execute=True):
        notification_send(user=people["agent"], kind="info", title="Hi", email=True)
    assert mailoutbox[0].body.startswith("Hello ana,")
