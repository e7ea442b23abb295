"""Interactive menus, the same for every provider.

A menu is ``{"body": str, "options": [{"id", "title", "description"?}], "button": str?}``.
On providers with real interactive messages (the Cloud API) it goes out as reply buttons (up to 3
short options) or a list (up to 10); elsewhere (Evolution/Baileys, where buttons are unreliable,
and the sandbox) as numbered text. ``match_menu_reply`` understands the answer in every form: the
button/list reply id, the option's number, or its title typed by hand."""
from __future__ import annotations

import importlib
import re
import unicodedata

from django.utils.translation import gettext as _

MAX_BUTTONS = 3
BUTTON_TITLE_MAX = 20
MAX_LIST_ROWS = 10
ROW_TITLE_MAX = 24
ROW_DESCRIPTION_MAX = 72
LIST_BUTTON_MAX = 20


def _supports_interactive(connection) -> bool:
    from apps.whatsapp.providers import get_provider

    try:
        provider = get_provider(connection.provider)
    except LookupError:
        importlib.import_module(f"apps.whatsapp.providers.{connection.provider}")
        provider = get_provider(connection.provider)
    return provider.supports_interactive


def _options(menu: dict) -> list[dict]:
    options = []
    for index, option in enumerate(menu.get("options") or [], start=1):
        title = str(option.get("title") or "").strip()
        options.append({"id": str(option.get("id") or index), "title": title,
                        **({"description": str(option["description"])} if option.get("description") else {})})
    return options


def menu_as_text(menu: dict) -> str:
    """The numbered-text form: the body, one "n. Title" line per option, and how to answer."""
    lines = []
    for index, option in enumerate(_options(menu), start=1):
        line = f"{index}. {option['title']}"
        if option.get("description"):
            line += f" - {option['description']}"
        lines.append(line)
    body = str(menu.get("body") or "").strip()
    parts = ([body] if body else []) + ["\n".join(lines), _("Reply with the number of your choice.")]
    return "\n\n".join(parts)


def menu_to_outbound(connection, menu: dict) -> tuple[str, str, dict]:
    """(message type, text, payload) for ``message_send``. The payload keeps the menu itself
    (``"menu"``) so the answer can be matched later whatever form it takes."""
    options = _options(menu)
    body = str(menu.get("body") or "").strip()
    button = str(menu.get("button") or "").strip() or _("Options")
    kept = {"body": body, "options": options, **({"button": button} if menu.get("button") else {})}
    if options and _supports_interactive(connection):
        if len(options) <= MAX_BUTTONS and all(len(o["title"]) <= BUTTON_TITLE_MAX for o in options):
            return "interactive", body, {
                "body": body, "buttons": [{"id": o["id"], "title": o["title"]} for o in options], "menu": kept}
        fits_list = (len(options) <= MAX_LIST_ROWS and len(button) <= LIST_BUTTON_MAX
                     and all(len(o["title"]) <= ROW_TITLE_MAX for o in options)
                     and all(len(o.get("description", "")) <= ROW_DESCRIPTION_MAX for o in options))
        if fits_list:
            return "interactive", body, {
                "body": body, "button": button, "sections": [{"rows": options}], "menu": kept}
    # numbered text: providers without buttons, or a menu too large for a list
    return "text", menu_as_text(menu), {"menu": kept}


def _normalize(text: str) -> str:
    """Case-, accent-, punctuation- and space-insensitive form ("  Bébidas! " -> "bebidas")."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    plain = re.sub(r"[^\w\s]", " ", plain)
    return " ".join(plain.split())


def match_menu_reply(menu: dict, text: str, reply_id: str | None = None) -> dict | None:
    """The option the customer chose, or None: by reply id (buttons/lists), by number ("2", " 2 ",
    "2.", "2)") or by the option's title, ignoring case and accents."""
    options = _options(menu)
    if reply_id:
        for option in options:
            if option["id"] == str(reply_id):
                return option
    text = (text or "").strip()
    number = re.fullmatch(r"(\d{1,3})\s*[.)\-:]?", text)
    if number:
        index = int(number.group(1))
        return options[index - 1] if 1 <= index <= len(options) else None
    wanted = _normalize(text)
    if not wanted:
        return None
    for option in options:
        if _normalize(option["title"]) == wanted:
            return option
    # "2. Bebidas" (number and title both typed): accept when they agree
    both = re.fullmatch(r"(\d{1,3})\s*[.)\-:]?\s+(.+)", text)
    if both and 1 <= int(both.group(1)) <= len(options):
        option = options[int(both.group(1)) - 1]
        if _normalize(option["title"]) == _normalize(both.group(2)):
            return option
    return None
