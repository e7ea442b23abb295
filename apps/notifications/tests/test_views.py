import pytest
from django.template import Context, Template
from django.test import Client, RequestFactory
from django_tenants.utils import schema_context

from apps.notifications.models import Notification
from apps.notifications.services import notification_send
from conftest import as_shown, host_of, make_user

pytestmark = pytest.mark.django_db


def _send(tenant, user, title, **kwargs):
    with schema_context(tenant.schema_name):
        (notification,) = notification_send(user=user, kind="info", title=title, **kwargs)
    return notification


def test_list_page_shows_own_notifications(tenant, owner, owner_client):
    agent = make_user(tenant, email="ana@alpha.test")
    _send(tenant, owner, "Order #5 paid")
    _send(tenant, agent, "Ana's private note")

    response = owner_client.get("/notifications/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Order #5 paid" in html
    assert "Ana&#x27;s private note" not in html and "Ana's private note" not in html


def test_list_page_empty_state_and_unread_filter(tenant, owner, owner_client):
    response = owner_client.get("/notifications/")
    assert as_shown(response, "No notifications yet.") in response.content.decode()
    read = _send(tenant, owner, "Already seen")
    _send(tenant, owner, "Fresh")
    owner_client.post("/notifications/read/", {"ids": [read.pk]})
    html = owner_client.get("/notifications/?unread=1").content.decode()
    assert "Fresh" in html and "Already seen" not in html


def test_list_page_requires_login(tenant_client):
    response = tenant_client.get("/notifications/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_mark_read_form_redirects_back(tenant, owner, owner_client):
    first = _send(tenant, owner, "One")
    _send(tenant, owner, "Two")

    response = owner_client.post("/notifications/read/", {"ids": [first.pk], "next": "/notifications/?unread=1"})

    assert response.status_code == 302 and response["Location"] == "/notifications/?unread=1"
    assert owner_client.get("/notifications/count/").json() == {"unread_count": 1}
    # an off-site next is ignored
    response = owner_client.post("/notifications/read/", {"all": "1", "next": "https://evil.example/"})
    assert response["Location"] == "/notifications/"
    assert owner_client.get("/notifications/count/").json() == {"unread_count": 0}


def test_dropdown_shows_latest_ten_and_mark_all_read_from_it(tenant, owner, owner_client):
    for i in range(12):
        _send(tenant, owner, f"Message {i:02d}")

    response = owner_client.get("/notifications/dropdown/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.count('action="/notifications/') >= 10
    assert "Message 11" in html and "Message 02" in html and "Message 01" not in html
    assert as_shown(response, "Mark all read") in html and 'href="/notifications/"' in html

    response = owner_client.post("/notifications/read/", {"all": "1", "source": "dropdown"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Trigger"] == '{"notifications-count": {"count": 0}}'
    assert "Mark all read" not in response.content.decode()


def test_open_marks_read_and_follows_link(tenant, owner, owner_client):
    notification = _send(tenant, owner, "Go to the order", link="/store/orders/9/")
    response = owner_client.post(f"/notifications/{notification.pk}/open/")
    assert response.status_code == 302 and response["Location"] == "/store/orders/9/"
    with schema_context(tenant.schema_name):
        assert Notification.objects.get(pk=notification.pk).read_at is not None


def test_cannot_open_someone_elses_notification(tenant, owner_client):
    agent = make_user(tenant, email="ana@alpha.test")
    notification = _send(tenant, agent, "Ana only")
    assert owner_client.post(f"/notifications/{notification.pk}/open/").status_code == 404
    with schema_context(tenant.schema_name):
        assert Notification.objects.get(pk=notification.pk).read_at is None


def test_open_and_read_refuse_get(owner_client):
    assert owner_client.get("/notifications/read/").status_code == 405


def test_alphas_notifications_invisible_on_betas_pages(tenant, owner, other_tenant):
    from apps.accounts.models import User

    notification = _send(tenant, owner, "Alpha secret")
    with schema_context(other_tenant.schema_name):
        beta_owner = User.objects.get(email="owner@beta.test")
    beta = Client(HTTP_HOST=host_of(other_tenant))
    with schema_context(other_tenant.schema_name):
        beta.force_login(beta_owner)

    assert "Alpha secret" not in beta.get("/notifications/").content.decode()
    assert "Alpha secret" not in beta.get("/notifications/dropdown/").content.decode()
    assert beta.get("/notifications/count/").json() == {"unread_count": 0}
    assert beta.post(f"/notifications/{notification.pk}/open/").status_code == 404


def _render_bell(tenant, user):
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get("/", HTTP_HOST=host_of(tenant))
    request.user = user or AnonymousUser()
    with schema_context(tenant.schema_name):
        from django.db import connection

        connection.tenant = tenant
        return Template("{% load notifications %}{% notification_bell %}").render(Context({"request": request}))


def test_bell_tag_shows_unread_badge_and_socket_for_signed_in_user(tenant, owner):
    for title in ("a", "b", "c"):
        _send(tenant, owner, title)

    html = _render_bell(tenant, owner)

    assert "data-notification-bell" in html
    assert ">3</span>" in html
    assert "/ws/notifications/" in html and "new WebSocket" in html
    assert 'hx-get="/notifications/dropdown/"' in html
    assert 'data-count-url="/notifications/count/"' in html


def test_bell_tag_renders_nothing_for_anonymous(tenant):
    assert _render_bell(tenant, None).strip() == ""


def test_bell_badge_caps_at_99(tenant, owner):
    with schema_context(tenant.schema_name):
        Notification.objects.bulk_create([Notification(recipient=owner, title=str(i)) for i in range(120)])
    assert ">99+</span>" in _render_bell(tenant, owner)


def test_dashboard_top_bar_carries_the_bell_with_the_unread_count(tenant, owner, owner_client):
    _send(tenant, owner, "Ping")
    html = owner_client.get("/").content.decode()
    assert "data-notification-bell" in html
    assert ">1</span>" in html
