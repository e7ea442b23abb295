import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import translation

from apps.billing.models import Plan
from apps.core.templatetags.money import format_money, money

pytestmark = pytest.mark.django_db


def _norm(text: str) -> str:
    """babel separates symbol and amount with a non-breaking space (U+00A0 or U+202F)."""
    return re.sub(r"[\u00a0\u202f]", " ", text)


@pytest.fixture
def pro_plan(db):
    return Plan.objects.create(name="Pro Atacado", slug="pro-atacado", monthly_price=Decimal("1234.56"),
                               max_users=10, max_connections=2, max_assistants=3, ai_turns_per_month=5000,
                               is_public=True, order=5)


def test_landing_lists_public_plans_with_reais_in_portuguese(public_client, pro_plan):
    Plan.objects.create(name="Hidden Enterprise", slug="hidden", monthly_price=Decimal("9999"), is_public=False)
    public_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "pt-br"

    response = public_client.get("/")

    assert response.status_code == 200
    html = _norm(response.content.decode())
    assert "Pro Atacado" in html
    assert "R$ 1.234,56" in html
    assert "Trial" in html  # the seeded default plan
    assert "Hidden Enterprise" not in html


def test_landing_in_english_formats_money_as_english(public_client, pro_plan):
    public_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    html = _norm(public_client.get("/").content.decode())

    assert "R$1,234.56" in html
    assert "R$ 1.234,56" not in html


def test_landing_has_sign_in_box_modules_and_language_switch(public_client):
    html = public_client.get("/").content.decode()
    assert 'action="/sign-in/' in html
    assert 'action="/i18n/setlang/"' in html
    assert 'name="viewport"' in html


def test_language_switch_changes_the_page_language(public_client):
    response = public_client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert public_client.get("/").headers["Content-Language"] == "en"


def test_sign_in_redirects_to_the_company_login(public_client, tenant):
    response = public_client.post("/sign-in/", {"company": "  Alpha "})
    port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
    assert response.status_code == 302
    assert response["Location"] == f"{settings.SITE_URL_SCHEME}://alpha.{settings.BASE_DOMAIN}{port}/accounts/login/"


def test_sign_in_accepts_a_pasted_address(public_client, tenant):
    response = public_client.post("/sign-in/", {"company": f"https://alpha.{settings.BASE_DOMAIN}:8000/inbox/"})
    assert response.status_code == 302
    assert "//alpha." in response["Location"] and response["Location"].endswith("/accounts/login/")


@pytest.mark.parametrize("company", ["nobody-here", "public"])
def test_sign_in_unknown_company_shows_form_error(public_client, company):
    public_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = public_client.post("/sign-in/", {"company": company})
    assert response.status_code == 200
    assert "We couldn&#x27;t find this company" in response.content.decode()


@pytest.mark.parametrize("company", ["", "a", "drop;table", "<script>", "x" * 300])
def test_sign_in_invalid_input_shows_form_error_not_500(public_client, company):
    response = public_client.post("/sign-in/", {"company": company})
    assert response.status_code == 200
    assert 'class="field-error"' in response.content.decode()
    assert "<script>" not in response.content.decode().split('id="signin"')[1]


def test_money_filter_follows_the_active_language():
    with translation.override("pt-br"):
        assert _norm(money(Decimal("1234.56"))) == "R$ 1.234,56"
        assert _norm(money("0")) == "R$ 0,00"
    with translation.override("en"):
        assert money(1234.5) == "R$1,234.50"
    with translation.override("es"):
        assert _norm(money(Decimal("1234.56"))) == "1.234,56 BRL"
    assert money(None) == "" and money("not a number") == ""
    assert _norm(format_money(Decimal("10"), language="en")) == "R$10.00"
