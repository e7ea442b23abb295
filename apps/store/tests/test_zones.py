"""Delivery zones: the neighbourhood lookup (case, accents, spaces) and the zone writers."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import schema_context

from apps.store.models import DeliveryZone
from apps.store.selectors import zone_list
from apps.store.services.zones import normalize_place, zone_create, zone_deactivate, zone_find, zone_update

from .conftest import D, make_zone

pytestmark = pytest.mark.usefixtures("english")


@pytest.mark.parametrize("typed", ["Jardim América", "jardim america", "  JARDIM   AMÉRICA ", "Jardim-America"])
def test_neighbourhoods_match_ignoring_case_accents_and_spaces(alpha, typed):
    zone = make_zone("Jardim América", fee="8.00")
    make_zone("América do Sul")
    assert zone_find(typed) == zone


def test_unknown_empty_and_inactive_neighbourhoods_find_nothing(alpha):
    make_zone("Centro", is_active=False)
    assert zone_find("Centro") is None
    assert zone_find("") is None
    assert zone_find("Jardim") is None  # no partial matches: a wrong fee is worse than asking staff


def test_the_city_tells_twin_neighbourhoods_apart(alpha):
    bh = make_zone("Centro", city="Belo Horizonte", fee="5.00")
    sp = make_zone("Centro", city="São Paulo", fee="9.00")
    assert zone_find("centro", city="sao paulo") == sp
    assert zone_find("Centro", city="Belo Horizonte") == bh
    assert zone_find("Centro") == bh  # without a city: the first one


def test_normalize_place():
    assert normalize_place("  São  João-del Rei ") == "sao joao del rei"


def test_zone_create_validates(alpha):
    zone = zone_create(neighbourhood=" Savassi ", city="Belo Horizonte", fee="7.5", min_order="30",
                       estimated_minutes="40")
    assert (zone.neighbourhood, zone.fee, zone.min_order, zone.estimated_minutes) == ("Savassi", D("7.50"),
                                                                                        D("30.00"), 40)
    with pytest.raises(ValidationError) as caught:
        zone_create(neighbourhood="savassi", city="belo horizonte")
    assert caught.value.message_dict == {"neighbourhood": ["There is already a delivery zone for this neighbourhood."]}
    with pytest.raises(ValidationError) as caught:
        zone_create(neighbourhood="", fee="-1", min_order="1.234", estimated_minutes="soon")
    assert set(caught.value.message_dict) == {"neighbourhood", "fee", "min_order", "estimated_minutes"}
    assert DeliveryZone.objects.count() == 1


def test_zone_update_and_deactivate(alpha):
    zone = make_zone("Lourdes", fee="6.00")
    make_zone("Funcionários")
    with pytest.raises(ValidationError):
        zone_update(zone, neighbourhood="funcionarios")
    zone_update(zone, fee="6.5", estimated_minutes=30)
    zone.refresh_from_db()
    assert (zone.neighbourhood, zone.fee, zone.estimated_minutes) == ("Lourdes", D("6.50"), 30)
    zone_deactivate(zone)
    assert zone_find("Lourdes") is None
    assert [z.neighbourhood for z in zone_list(active_only=True)] == ["Funcionários"]


def test_zones_are_per_tenant(tenant, other_tenant):
    with schema_context("alpha"):
        make_zone("Só Alpha")
    with schema_context("beta"):
        assert zone_find("Só Alpha") is None
        zone_create(neighbourhood="Só Alpha")  # no clash with alpha's
