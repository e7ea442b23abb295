"""The dashboard sidebar, built from what each installed app registers in its AppConfig.ready()."""
from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str  # lazy gettext
    url_name: str
    icon: str = "circle"
    capability: str | None = None  # roles.user_can(user, capability) must hold to see it
    section: str = "main"  # "main" or "settings"
    order: int = 100
    hidden_for: str | None = None  # hidden from users with this capability (they have a better entry)


_REGISTRY: dict[str, NavItem] = {}


def register_nav(item: NavItem) -> None:
    _REGISTRY[item.key] = item


def nav_for(user, current_path: str = "") -> dict[str, list[dict]]:
    from apps.accounts.roles import user_can

    sections: dict[str, list[dict]] = {"main": [], "settings": []}
    for item in sorted(_REGISTRY.values(), key=lambda i: (i.order, i.key)):
        if item.capability and not user_can(user, item.capability):
            continue
        if item.hidden_for and user_can(user, item.hidden_for):
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        active = current_path == url if url == "/" else current_path.startswith(url)
        sections.setdefault(item.section, []).append(
            {"key": item.key, "label": item.label, "url": url, "icon": item.icon, "active": active}
        )
    # only the most specific match is active (/inbox/canned/ is "Canned replies", not also "Inbox")
    matches = [e for entries in sections.values() for e in entries if e["active"]]
    if len(matches) > 1:
        best = max(matches, key=lambda e: len(e["url"]))
        for entry in matches:
            entry["active"] = entry is best
    return sections
