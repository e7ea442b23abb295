"""Demo data of the store (``manage.py seed_demo``, ``manage.py seed_store --scale N``).

3A Frios is a casa de frios in São Paulo (Rua das Palmeiras, Santa Cecília / Centro, as the demo
assistant's knowledge base says): 62 products in six categories with BRL prices (per kg for weighed
goods), 17 delivery zones of real neighbourhoods around the shop, 800 customers (CRM contacts with
+55 11 phones, most with an address) and about 25,000 orders over the last 12 months. The orders
follow the shop's week (Friday and Saturday peaks, a short Sunday morning, closed on holidays),
the year (December peak, slow January, a slight growth) and its hours (8-19 h, Saturday until
14 h); channels, payment methods, cancellations and recurring customers have realistic shares.

The rows are written in bulk (placing 25,000 orders one by one through
``apps.store.services.orders`` would take minutes; orders, items and events go through PostgreSQL's
COPY, the rest through ``bulk_create``), but they hold what the services would have written: item
snapshots (name, SKU, unit, category, the month's unit price and cost), totals computed the same
way (line = round(qty x price), subtotal = sum of lines, total = subtotal - discount + delivery fee,
cost_total = round(sum(qty x cost))), numbers drawn from the order sequence, a timestamp per status
along the services' paths (a counter sale is delivered on the spot), payment status, the status
timeline (``OrderEvent``) of the last 30 days' and all open orders, ``customer_since`` = the day of
the customer's first order, and a stock ledger that explains every product's stock: a stock count
three days ago, then the sales, reservations and releases of every order since.

With the WhatsApp demo present (apps/whatsapp/demo.py, seeded before), its two customers are
regulars, and Maria's chat has the order she asks for in it (linked to the conversation, being
prepared); the demo assistant (apps/agents/demo.py) gets the store's ordering tools that are
registered.

Everything comes from fixed random seeds (each day of orders from its own), so every run builds
the same data relative to its day.
``scale`` N builds N "chunks": the catalogue and zones once, then N x (800 customers and their
orders over the same 12 months), for benchmarks. Idempotent: catalogue, zones and settings are
found by SKU / name and created only when missing (staff edits survive); a chunk is seeded in one
transaction together with its customers, and is skipped when its customers' phones are already
known, so a second run adds nothing and ``--scale 2`` after a first run adds one chunk.
"""
from __future__ import annotations

import bisect
import json
import logging
import random
import time
from itertools import accumulate
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

log = logging.getLogger(__name__)

SEED = 3_1990  # fixed: the same demo every time
CITY = "São Paulo"
ORDERS_PER_YEAR = 25_000  # per chunk (scale 1)
CUSTOMERS = 800  # per chunk
BATCH = 2_000
EVENTS_DAYS = 30  # the status timeline (OrderEvent) is written for orders of the last N days
LEDGER_DAYS = 3  # the stock ledger starts with a stock count N days ago, then every order since
CENT = Decimal("0.01")
MILLI = Decimal("0.001")


class _Choice:
    """A weighted choice with its cumulative weights worked out once (random.choices redoes it on
    every call, which shows at 25,000 orders)."""

    def __init__(self, values, weights):
        self.values = list(values)
        self.cumulative = list(accumulate(weights))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random):
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


# --- the catalogue -------------------------------------------------------------------------------
# (sku, name, unit, price in R$ (per kg when unit is kg), popularity weight, quantity profile)
CATALOGUE: list[tuple[str, list[tuple[str, str, str, str, float, str]]]] = [
    ("Queijos", [
        ("QJ-001", "Queijo minas frescal", "kg", "49.90", 8, "slice"),
        ("QJ-002", "Queijo muçarela", "kg", "54.90", 14, "slice"),
        ("QJ-003", "Queijo prato", "kg", "59.90", 12, "slice"),
        ("QJ-004", "Queijo parmesão", "kg", "119.90", 6, "premium"),
        ("QJ-005", "Queijo provolone", "kg", "89.90", 4, "slice"),
        ("QJ-006", "Queijo gorgonzola", "kg", "129.90", 2, "premium"),
        ("QJ-007", "Queijo brie", "kg", "139.90", 2, "premium"),
        ("QJ-008", "Queijo coalho", "kg", "64.90", 4, "slice"),
        ("QJ-009", "Queijo minas padrão", "kg", "69.90", 4, "slice"),
        ("QJ-010", "Queijo gouda", "kg", "119.90", 2, "premium"),
        ("QJ-011", "Queijo estepe", "kg", "99.90", 2, "slice"),
        ("QJ-012", "Ricota fresca", "kg", "32.90", 3, "slice"),
    ]),
    ("Frios fatiados", [
        ("FF-001", "Presunto cozido", "kg", "44.90", 15, "slice"),
        ("FF-002", "Presunto parma", "kg", "399.90", 1.5, "premium"),
        ("FF-003", "Peito de peru defumado", "kg", "79.90", 10, "slice"),
        ("FF-004", "Lombo canadense", "kg", "69.90", 4, "slice"),
        ("FF-005", "Blanquet de peru", "kg", "89.90", 3, "slice"),
        ("FF-006", "Mortadela tradicional", "kg", "29.90", 10, "slice"),
        ("FF-007", "Mortadela com pistache", "kg", "69.90", 3, "slice"),
        ("FF-008", "Apresuntado", "kg", "32.90", 5, "slice"),
        ("FF-009", "Copa", "kg", "149.90", 2, "premium"),
        ("FF-010", "Rosbife", "kg", "119.90", 2, "premium"),
        ("FF-011", "Pastrami", "kg", "139.90", 1.5, "premium"),
    ]),
    ("Embutidos", [
        ("EM-001", "Salame italiano", "kg", "119.90", 5, "premium"),
        ("EM-002", "Salame hamburguês", "kg", "99.90", 2, "premium"),
        ("EM-003", "Linguiça calabresa defumada", "kg", "34.90", 8, "bulk"),
        ("EM-004", "Linguiça toscana", "kg", "29.90", 6, "bulk"),
        ("EM-005", "Paio", "kg", "39.90", 3, "bulk"),
        ("EM-006", "Bacon em manta", "kg", "49.90", 5, "bulk"),
        ("EM-007", "Salsicha viena", "kg", "21.90", 4, "bulk"),
        ("EM-008", "Pepperoni fatiado 100 g", "unit", "14.90", 3, "pack"),
    ]),
    ("Laticínios", [
        ("LA-001", "Requeijão cremoso 200 g", "unit", "9.99", 8, "pack"),
        ("LA-002", "Manteiga com sal 200 g", "unit", "15.90", 7, "pack"),
        ("LA-003", "Manteiga sem sal 200 g", "unit", "15.90", 3, "pack"),
        ("LA-004", "Iogurte natural integral 170 g", "unit", "3.49", 5, "multi"),
        ("LA-005", "Iogurte grego tradicional 100 g", "unit", "3.99", 5, "multi"),
        ("LA-006", "Leite integral 1 L", "unit", "5.49", 7, "multi"),
        ("LA-007", "Creme de leite fresco 300 g", "unit", "12.90", 3, "pack"),
        ("LA-008", "Cream cheese 150 g", "unit", "11.90", 3, "pack"),
        ("LA-009", "Nata 200 g", "unit", "10.90", 2, "pack"),
        ("LA-010", "Doce de leite 400 g", "unit", "16.90", 3, "pack"),
    ]),
    ("Bebidas", [
        ("BE-001", "Coca-Cola 2 L", "unit", "11.99", 8, "pack"),
        ("BE-002", "Guaraná Antarctica 2 L", "unit", "9.49", 6, "pack"),
        ("BE-003", "Coca-Cola lata 350 ml", "unit", "4.99", 5, "multi"),
        ("BE-004", "Suco de uva integral 1,5 L", "unit", "22.90", 3, "pack"),
        ("BE-005", "Suco de laranja natural 1 L", "unit", "14.90", 4, "pack"),
        ("BE-006", "Água mineral sem gás 1,5 L", "unit", "3.49", 4, "multi"),
        ("BE-007", "Água mineral com gás 500 ml", "unit", "3.29", 2, "multi"),
        ("BE-008", "Cerveja Heineken long neck 330 ml", "unit", "7.99", 5, "multi"),
        ("BE-009", "Cerveja Brahma lata 350 ml", "unit", "4.29", 5, "multi"),
        ("BE-010", "Cerveja Original 600 ml", "unit", "11.90", 3, "pack"),
        ("BE-011", "Vinho tinto chileno Cabernet Sauvignon 750 ml", "unit", "49.90", 2, "pack"),
    ]),
    ("Congelados", [
        ("CG-001", "Pão de queijo congelado 1 kg", "unit", "29.90", 9, "pack"),
        ("CG-002", "Pão de queijo coquetel 500 g", "unit", "17.90", 4, "pack"),
        ("CG-003", "Lasanha bolonhesa 600 g", "unit", "24.90", 5, "pack"),
        ("CG-004", "Lasanha quatro queijos 600 g", "unit", "26.90", 3, "pack"),
        ("CG-005", "Coxinha de frango congelada 1 kg", "unit", "39.90", 3, "pack"),
        ("CG-006", "Quibe congelado 1 kg", "unit", "34.90", 2, "pack"),
        ("CG-007", "Pizza de muçarela congelada 460 g", "unit", "24.90", 3, "pack"),
        ("CG-008", "Esfiha de carne congelada 12 un", "unit", "27.90", 2, "pack"),
        ("CG-009", "Batata palito congelada 1 kg", "unit", "21.90", 3, "pack"),
        ("CG-010", "Hambúrguer bovino 12 un", "unit", "32.90", 2, "pack"),
    ]),
]
# Sold more for the Christmas and New Year tables (December) and in the summer (drinks).
CHRISTMAS = {"QJ-004", "QJ-006", "QJ-007", "QJ-010", "FF-002", "FF-004", "FF-009", "FF-010", "FF-011",
             "EM-001", "BE-011", "BE-004"}
SUMMER = {"BE-001", "BE-002", "BE-003", "BE-006", "BE-007", "BE-008", "BE-009", "BE-010"}
# So that the low-stock list and an out-of-stock product show up in the demo.
LOW_STOCK = {"QJ-006", "FF-009", "BE-008", "LA-009"}
OUT_OF_STOCK = {"CG-002"}

DESCRIPTIONS = {
    "slice": "Preço por quilo. Fatiado na hora: fino, médio ou grosso.",
    "premium": "Preço por quilo. Fatiado fino na hora ou em pedaço; vendido a partir de 100 g.",
    "bulk": "Preço por quilo. Vendido em gomos ou em peça.",
}
# Quantity profiles: (choices, weights). Weighed goods get a scale-like jitter on top.
QUANTITIES = {
    "slice": ([0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.75, 1.0, 1.5], [3, 8, 8, 10, 8, 10, 4, 3, 3, 1]),
    "premium": ([0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5], [8, 6, 8, 4, 4, 2, 1]),
    "bulk": ([0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0], [3, 3, 8, 4, 6, 2, 1]),
    "pack": ([1, 2, 3], [14, 5, 1]),
    "multi": ([1, 2, 3, 4, 6], [6, 5, 2, 3, 2]),
}

# --- delivery zones: (neighbourhood, fee, minimum, minutes, ZIP prefix, streets, customers' weight) -
# Fees and minimums of Centro, Jardins, Bela Vista, Santa Cecília, Aclimação and Vila Mariana match
# the demo assistant's "Áreas e taxas de entrega" document (apps/agents/demo.py).
ZONES = [
    ("Centro", "5.00", "40.00", 30, "01010", ["Rua Direita", "Rua XV de Novembro", "Rua Boa Vista", "Avenida São João"], 10),
    ("República", "5.00", "40.00", 30, "01045", ["Avenida Ipiranga", "Rua Sete de Abril", "Rua Barão de Itapetininga"], 6),
    ("Consolação", "6.00", "40.00", 35, "01302", ["Rua da Consolação", "Rua Frei Caneca", "Rua Bela Cintra"], 7),
    ("Liberdade", "7.00", "40.00", 35, "01503", ["Rua Galvão Bueno", "Rua dos Estudantes", "Rua da Glória"], 5),
    ("Jardins", "8.00", "40.00", 40, "01414", ["Alameda Lorena", "Rua Oscar Freire", "Alameda Santos", "Rua Augusta"], 8),
    ("Bela Vista", "8.00", "40.00", 35, "01310", ["Rua Treze de Maio", "Rua Rui Barbosa", "Avenida Brigadeiro Luís Antônio"], 8),
    ("Vila Nova Conceição", "8.00", "40.00", 50, "04513", ["Rua Afonso Braz", "Rua Domingos Leme", "Rua João Lourenço"], 3),
    ("Higienópolis", "8.00", "50.00", 35, "01238", ["Avenida Higienópolis", "Rua Maranhão", "Rua Piauí"], 7),
    ("Bom Retiro", "8.00", "50.00", 40, "01124", ["Rua José Paulino", "Rua da Graça", "Rua Ribeiro de Lima"], 3),
    ("Cambuci", "10.00", "50.00", 45, "01526", ["Rua Lavapés", "Avenida Lacerda Franco", "Rua Independência"], 3),
    ("Paraíso", "10.00", "50.00", 45, "04004", ["Rua Tutóia", "Rua Abílio Soares", "Rua Cubatão"], 4),
    ("Pacaembu", "10.00", "60.00", 45, "01234", ["Rua Itápolis", "Rua Capivari", "Avenida Pacaembu"], 3),
    ("Santa Cecília", "12.00", "40.00", 30, "01226", ["Rua Jaguaribe", "Avenida Angélica", "Rua Martim Francisco"], 9),
    ("Aclimação", "12.00", "40.00", 50, "01531", ["Rua Muniz de Sousa", "Avenida da Aclimação", "Rua Pires da Mota"], 5),
    ("Vila Mariana", "12.00", "40.00", 55, "04017", ["Rua Domingos de Morais", "Rua França Pinto", "Rua Vergueiro"], 5),
    ("Perdizes", "12.00", "60.00", 50, "05010", ["Rua Cardoso de Almeida", "Rua Monte Alegre", "Rua Cayowaá"], 4),
    ("Pinheiros", "14.00", "60.00", 60, "05422", ["Rua dos Pinheiros", "Rua Teodoro Sampaio", "Rua Cardeal Arcoverde"], 3),
]
# Customers living where the shop does not deliver (they pick up at the counter).
OUTSIDE = [("Mooca", "03104", ["Rua da Mooca", "Rua Taquari"]), ("Tatuapé", "03066", ["Rua Tuiuti", "Rua Serra de Bragança"])]

FEMALE = ["Ana", "Maria", "Juliana", "Fernanda", "Patrícia", "Aline", "Camila", "Amanda", "Bruna", "Letícia",
          "Beatriz", "Mariana", "Gabriela", "Larissa", "Vanessa", "Renata", "Cristina", "Adriana", "Luciana",
          "Sandra", "Márcia", "Tatiane", "Priscila", "Daniela", "Carla", "Simone", "Helena", "Alice", "Lúcia",
          "Rosângela", "Débora", "Natália", "Isabela", "Raquel", "Cláudia", "Eliane", "Sônia", "Viviane",
          "Regina", "Teresa"]
MALE = ["José", "João", "Antônio", "Francisco", "Carlos", "Paulo", "Pedro", "Lucas", "Luiz", "Marcos",
        "Luís", "Gabriel", "Rafael", "Daniel", "Marcelo", "Bruno", "Eduardo", "Felipe", "Rodrigo", "Gustavo",
        "Fernando", "Fábio", "André", "Ricardo", "Thiago", "Leonardo", "Diego", "Sérgio", "Roberto", "Vinícius",
        "Mateus", "Guilherme", "Alexandre", "Renato", "Márcio", "Júlio", "César", "Otávio", "Henrique",
        "Samuel"]
SURNAMES = ["Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima",
            "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes", "Soares", "Fernandes",
            "Vieira", "Barbosa", "Rocha", "Dias", "Nascimento", "Andrade", "Moreira", "Nunes", "Marques",
            "Machado", "Mendes", "Freitas", "Cardoso", "Ramos", "Gonçalves", "Santana", "Teixeira", "Araújo",
            "Correia", "Pinto", "Moura", "Cavalcanti", "Monteiro", "Campos", "Rezende", "Tavares", "Batista",
            "Nogueira", "Barros", "Sampaio", "Castro", "Yamamoto", "Tanaka", "Nakamura", "Haddad", "Russo",
            "Bianchi", "Conti"]
COMPLEMENTS = ["apto 12", "apto 21", "apto 34", "apto 52", "apto 81", "apto 103", "apto 142", "casa 2", "bloco B apto 41",
               "fundos", "sala 305", "conj. 61"]
NOTES = ["Fatiar bem fino, por favor.", "Fatiado médio.", "Entregar na portaria.", "Troco para R$ 100,00.",
         "Troco para R$ 50,00.", "Tocar o interfone 52.", "Separar em pacotes de 100 g.", "Queijo ralado grosso.",
         "Ligar quando chegar."]
CANCEL_REASONS = ["Cliente desistiu da compra.", "Pagamento não confirmado.", "Produto em falta no estoque.",
                  "Endereço fora da área de entrega.", "Pedido duplicado.", "Cliente não estava no local."]

# --- the shop's calendar -------------------------------------------------------------------------
WEEKDAY_FACTOR = [0.85, 0.88, 0.95, 1.0, 1.35, 1.55, 0.45]  # Monday..Sunday
MONTH_FACTOR = {1: 0.85, 2: 0.9, 3: 0.95, 4: 1.0, 5: 1.0, 6: 1.08, 7: 1.05, 8: 0.98, 9: 0.97, 10: 1.0, 11: 1.08,
                12: 1.45}
WEEK_HOURS = {8: 0.5, 9: 0.9, 10: 1.2, 11: 1.4, 12: 1.1, 13: 0.8, 14: 0.8, 15: 0.9, 16: 1.1, 17: 1.4, 18: 1.2}
SATURDAY_HOURS = {8: 0.8, 9: 1.3, 10: 1.6, 11: 1.6, 12: 1.2, 13: 0.8}
SUNDAY_HOURS = {8: 0.7, 9: 1.2, 10: 1.4, 11: 1.0}
FIXED_HOLIDAYS = {(1, 1), (1, 25), (4, 21), (5, 1), (7, 9), (9, 7), (10, 12), (11, 2), (11, 15), (11, 20), (12, 25)}
EVES = {(12, 24): 3.0, (12, 31): 2.6, (12, 23): 2.0, (12, 22): 1.6}  # big days, Saturday hours

# --- orders --------------------------------------------------------------------------------------
CHANNELS = (["whatsapp", "counter", "phone", "ifood", "website"], [45, 40, 6, 6, 3])
PAYMENTS = {  # by channel
    "counter": (["pix", "credit", "debit", "cash", "voucher"], [30, 22, 26, 14, 8]),
    "whatsapp": (["pix", "credit", "debit", "cash", "voucher"], [50, 20, 12, 10, 8]),
    "phone": (["pix", "credit", "debit", "cash", "voucher"], [35, 25, 15, 17, 8]),
    "ifood": (["pix", "credit"], [35, 65]),
    "website": (["pix", "credit"], [60, 40]),
}
LINES = ([1, 2, 3, 4, 5, 6, 7], [22, 28, 22, 14, 8, 4, 2])
COUNTER_WITH_CUSTOMER = 0.35  # counter sales with the customer identified (CPF na nota)
CANCEL_SHARE = 0.03
CHANNEL_CHOICE = _Choice(*CHANNELS)
PAYMENT_CHOICE = {channel: _Choice(*spec) for channel, spec in PAYMENTS.items()}
LINES_CHOICE = _Choice(*LINES)
QUANTITY_CHOICE = {profile: _Choice(*spec) for profile, spec in QUANTITIES.items()}
RATING_CHOICE = _Choice([5, 4, 3, 2, 1], [62, 25, 7, 3, 3])
RATING_COMMENTS = {5: "Tudo ótimo, obrigado!", 4: "Chegou certinho.", 3: "Demorou um pouco.",
                   2: "O presunto veio mais grosso que o pedido.", 1: "Atrasou bastante."}


def _d(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's name
    m = (a + 11 * h + 22 * l) // 451
    month = (h + l - 7 * m + 114) // 31
    day = ((h + l - 7 * m + 114) % 31) + 1
    return date(year, month, day)


def _closed(day: date) -> bool:
    if (day.month, day.day) in FIXED_HOLIDAYS:
        return True
    easter = _easter(day.year)
    return day in (easter - timedelta(days=2), easter + timedelta(days=60))  # Good Friday, Corpus Christi


def _hours(day: date) -> dict[int, float]:
    if (day.month, day.day) in EVES or day.weekday() == 5:
        return SATURDAY_HOURS
    return SUNDAY_HOURS if day.weekday() == 6 else WEEK_HOURS


def _cpf(rng: random.Random) -> str:
    """A valid CPF (right check digits), as the store keeps it: digits only."""
    digits = [rng.randint(0, 9) for _ in range(9)]
    for size in (9, 10):
        total = sum(d * w for d, w in zip(digits, range(size + 1, 1, -1)))
        digits.append((total * 10 % 11) % 10)
    return "".join(map(str, digits))


def _phone(index: int) -> str:
    """The demo customer number ``index`` (a bijection onto São Paulo mobiles, so numbers never repeat
    across chunks): +55 11 9 [6-9]XXX-XXXX."""
    m = (index * 7919 + 1_234_567) % 40_000_000
    return f"+55119{6 + m // 10_000_000}{m % 10_000_000:07d}"


# --- the plan of one day's orders (independent of the chunk, so --scale N gives N x the orders) ----

def _day_plan(today: date, now_local: datetime) -> list[tuple[date, int]]:
    """(day, number of orders) for the 365 days up to today, summing to about ORDERS_PER_YEAR."""
    rng = random.Random(SEED)
    days = [today - timedelta(days=n) for n in range(364, -1, -1)]
    factors = []
    for index, day in enumerate(days):
        if _closed(day):
            factors.append(0.0)
            continue
        factor = EVES.get((day.month, day.day), WEEKDAY_FACTOR[day.weekday()]) * MONTH_FACTOR[day.month]
        factor *= 0.9 + 0.2 * index / 364  # the shop grows a little over the year
        factors.append(factor * min(1.25, max(0.75, rng.gauss(1.0, 0.08))))
    scale = ORDERS_PER_YEAR / sum(factors)
    plan = []
    for day, factor in zip(days, factors):
        expected = factor * scale
        if day == today:  # only the part of today that has passed
            expected *= _elapsed_share(_hours(day), now_local)
        count = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
        plan.append((day, count))
    return plan


def _elapsed_share(hours: dict[int, float], now_local: datetime) -> float:
    total = sum(hours.values())
    done = 0.0
    for hour, weight in hours.items():
        if now_local.hour > hour:
            done += weight
        elif now_local.hour == hour:
            done += weight * (now_local.minute * 60 + now_local.second) / 3600
    return done / total


# --- seeding -------------------------------------------------------------------------------------

@dataclass
class _Catalogue:
    products: list  # Product rows of the demo catalogue (in CATALOGUE order)
    weights: dict  # month -> cumulative popularity weights (seasonal)
    profile: dict  # product id -> quantity profile
    prices: dict = field(default_factory=dict)  # (product id, months ago) -> (price, cost)


def seed_demo_store(tenant, *, scale: int = 1) -> dict:
    """Seed the store of ``tenant`` (call inside its schema). Returns what was created."""
    from .models import DeliveryZone

    started = time.monotonic()
    tz = ZoneInfo(getattr(tenant, "timezone", "") or "America/Sao_Paulo")
    now = timezone.now()
    created = {"products": 0, "zones": 0, "customers": 0, "orders": 0, "items": 0, "events": 0}
    plan = _day_plan(now.astimezone(tz).date(), now.astimezone(tz))

    def add(counts: dict) -> None:
        for key, value in counts.items():
            created[key] += value

    # the catalogue and the first chunk together: a new product's ledger opens with its orders
    with transaction.atomic():
        _ensure_settings()
        created["zones"] = _seed_zones()
        products, created["products"], fresh = _seed_catalogue(now)
        catalogue = _catalogue(products)
        ledger = _Ledger(opened_at=now - timedelta(days=LEDGER_DAYS), fresh=fresh)
        zones = {z.neighbourhood: z for z in DeliveryZone.objects.filter(city=CITY)}
        add(_seed_chunk(0, plan=plan, catalogue=catalogue, zones=zones, tz=tz, now=now, ledger=ledger))
        _open_ledger(ledger)  # new products when the chunk was there already
    for chunk in range(1, max(1, int(scale))):  # one transaction each (a long benchmark run keeps its progress)
        add(_seed_chunk(chunk, plan=plan, catalogue=catalogue, zones=zones, tz=tz, now=now, ledger=None))
    created["orders"] += _seed_conversation_orders(catalogue, zones, now, tz)
    _enable_ordering_tools()
    if created["orders"]:
        # fresh planner statistics: right after a bulk load (before autovacuum gets to it) the
        # dashboard's and the views' joins would otherwise be planned for empty tables
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE store_order, store_orderitem, store_orderevent, store_stockmovement, "
                           "store_product, store_customerprofile, store_address")
    created["seconds"] = round(time.monotonic() - started, 2)
    log.info("store demo seeded: %s", created)
    return created


def _ensure_settings() -> None:
    from .models import StoreSettings

    StoreSettings.objects.get_or_create(pk=1)


def _seed_zones() -> int:
    from django.db.models.functions import Lower

    from .models import DeliveryZone

    known = set(DeliveryZone.objects.filter(city=CITY).annotate(n=Lower("neighbourhood")).values_list("n", flat=True))
    new = [DeliveryZone(neighbourhood=name, city=CITY, fee=_d(fee), min_order=_d(minimum), estimated_minutes=minutes)
           for name, fee, minimum, minutes, *_rest in ZONES if name.lower() not in known]
    DeliveryZone.objects.bulk_create(new)
    return len(new)


def _seed_catalogue(now: datetime) -> tuple[list, int, dict]:
    """The categories and products (found by name / SKU, the missing ones created). Returns the
    products, how many were created and {pk: stock} of the new ones, whose ledger (an opening
    stock count, then the last days' orders) is written once the orders are known."""
    from .models import Category, Product

    rng = random.Random(SEED + 1)
    products: list = []
    fresh: dict = {}
    created = 0
    for position, (category_name, items) in enumerate(CATALOGUE):
        category, _new = Category.objects.get_or_create(name=category_name, defaults={"position": position})
        existing = {p.sku: p for p in Product.objects.filter(sku__in=[item[0] for item in items])}
        new = []
        for sku, name, unit, price, _weight, profile in items:
            ratio = Decimal(str(round(rng.uniform(0.56, 0.74), 3)))  # cost 55-75% of the price
            if unit == "kg":
                stock = Decimal(str(round(rng.uniform(6, 40), 3)))
                minimum = Decimal("5") if profile != "premium" else Decimal("2")
            else:
                stock = Decimal(rng.randrange(24, 160))
                minimum = Decimal(rng.choice([10, 12, 18, 24]))
            if sku in LOW_STOCK:
                stock = (minimum * Decimal("0.5")).quantize(MILLI)
            if sku in OUT_OF_STOCK:
                stock = Decimal("0")
            if sku in existing:
                products.append(existing[sku])
                continue
            product = Product(sku=sku, name=name, category=category, unit=unit, price=_d(price),
                              cost=_money(_d(price) * ratio), min_stock=minimum, stock_quantity=stock,
                              description=DESCRIPTIONS.get(profile, ""), created_at=now - timedelta(days=400),
                              updated_at=now)
            new.append(product)
            products.append(product)
        Product.objects.bulk_create(new)
        fresh.update({p.pk: p.stock_quantity for p in new})
        created += len(new)
    return products, created, fresh


def _catalogue(products: list) -> _Catalogue:
    spec = {item[0]: item for _category, items in CATALOGUE for item in items}
    weights = {}
    for month in range(1, 13):
        running, cumulative = 0.0, []
        for product in products:
            weight = spec[product.sku][4]
            if month == 12 and product.sku in CHRISTMAS:
                weight *= 2.5
            if month in (12, 1, 2) and product.sku in SUMMER:
                weight *= 1.6
            if not product.is_active:
                weight = 0.0
            running += weight
            cumulative.append(running)
        weights[month] = cumulative
    return _Catalogue(products=products, weights=weights,
                      profile={p.pk: spec[p.sku][5] for p in products})


def _price_then(catalogue: _Catalogue, product, months_ago: int) -> tuple[Decimal, Decimal]:
    """Price and cost of ``product`` ``months_ago`` months back (food prices rose ~7% in the year)."""
    key = (product.pk, months_ago)
    if key not in catalogue.prices:
        factor = Decimal("1") - Decimal("0.006") * months_ago
        catalogue.prices[key] = (_money(product.price * factor), _money(product.cost * factor))
    return catalogue.prices[key]


@dataclass
class _Customer:
    index: int
    name: str
    phone: str
    weight: float
    address: tuple | None = None  # (label, street, number, complement, neighbourhood, zip, zone name or "")
    contact_id: int | None = None
    first_order_at: datetime | None = None
    email: str = ""
    document: str = ""
    extra_address: tuple | None = None
    join_at: datetime | None = None  # from when they buy (their first order is the next one after it)


def _make_customers(chunk: int, rng: random.Random, *, start: datetime, end: datetime) -> list[_Customer]:
    """800 people; 30% were already regulars when the year began (they join in its first month),
    the others arrive over the year. ``weight`` is loyalty: a long tail, a few buy every week."""
    zone_weights = [z[6] for z in ZONES]
    customers = []
    for i in range(CUSTOMERS):
        female = rng.random() < 0.55
        first = rng.choice(FEMALE if female else MALE)
        last = rng.choice(SURNAMES)
        name = f"{first} {last}" if rng.random() < 0.6 else f"{first} {rng.choice(SURNAMES)} {last}"
        customer = _Customer(index=chunk * CUSTOMERS + i, name=name, phone=_phone(chunk * CUSTOMERS + i),
                             weight=min(6.0, rng.paretovariate(1.3)) if rng.random() < 0.8 else 0.03)
        roll = rng.random()
        if roll < 0.65:
            zone = rng.choices(ZONES, weights=zone_weights)[0]
            customer.address = ("Casa", rng.choice(zone[5]), str(rng.randrange(20, 2400)),
                                rng.choice(COMPLEMENTS) if rng.random() < 0.7 else "", zone[0],
                                f"{zone[4][:5]}-{rng.randrange(0, 999):03d}", zone[0])
            if rng.random() < 0.1:
                other = rng.choices(ZONES, weights=zone_weights)[0]
                customer.extra_address = ("Trabalho", rng.choice(other[5]), str(rng.randrange(20, 2400)),
                                          rng.choice(COMPLEMENTS[-3:]), other[0],
                                          f"{other[4][:5]}-{rng.randrange(0, 999):03d}", other[0])
        elif roll < 0.70:
            place, zip_prefix, streets = rng.choice(OUTSIDE)
            customer.address = ("Casa", rng.choice(streets), str(rng.randrange(20, 2400)), "", place,
                                f"{zip_prefix}-{rng.randrange(0, 999):03d}", "")
        if rng.random() < 0.3:
            plain = (first + "." + last).lower()
            for a, b in (("á", "a"), ("â", "a"), ("ã", "a"), ("é", "e"), ("ê", "e"), ("í", "i"), ("ó", "o"),
                         ("ô", "o"), ("ú", "u"), ("ç", "c")):
                plain = plain.replace(a, b)
            customer.email = f"{plain}{rng.randrange(1, 99)}@exemplo.com.br"
        if rng.random() < 0.3:
            customer.document = _cpf(rng)
        span = min(timedelta(days=30), end - start) if rng.random() < 0.3 else end - start
        customer.join_at = start + span * rng.random()
        customers.append(customer)
    return customers


def _seed_chunk(chunk: int, *, plan, catalogue: _Catalogue, zones: dict, tz, now: datetime,
                ledger: _Ledger | None) -> dict:
    from apps.crm.models import ContactIdentity

    start = datetime.combine(plan[0][0], datetime.min.time(), tzinfo=tz)
    end = datetime.combine(plan[-1][0], datetime.min.time(), tzinfo=tz) - timedelta(days=3)  # by date: same data all day
    customers = _make_customers(chunk, random.Random(f"{SEED}-{chunk}-customers"), start=start, end=end)
    if ContactIdentity.objects.filter(kind=ContactIdentity.Kind.PHONE,
                                      value__in=[c.phone for c in customers]).exists():
        return {}  # seeded before
    with transaction.atomic():
        if chunk == 0:
            customers = _with_demo_contacts(customers, start)
        orders = _build_orders(chunk, plan, customers, catalogue=catalogue, zones=zones, tz=tz, now=now)
        _open_recent(orders, now=now)
        return _write_orders(orders, customers, now=now, tz=tz, ledger=ledger)


# Maria of the WhatsApp demo asks whether we deliver in Jardins: she lives there.
MARIA = "+5511987650001"
DEMO_ADDRESSES = {MARIA: ("Casa", "Alameda Lorena", "1200", "apto 52", "Jardins", "01424-001", "Jardins")}


def _with_demo_contacts(customers: list[_Customer], start: datetime) -> list[_Customer]:
    """The WhatsApp demo's customers (apps/whatsapp/demo.py), when present, are regular customers."""
    try:
        from apps.whatsapp.demo import DEMO_MESSAGES
    except ImportError:  # pragma: no cover - the whatsapp app is always installed
        return customers
    from apps.crm.models import Contact
    from apps.crm.phones import phone_variants

    extra = []
    seen = set()
    for _id, name, phone, _text, _ago in DEMO_MESSAGES:
        if phone in seen:
            continue
        seen.add(phone)
        contact = Contact.objects.filter(phone__in=phone_variants(phone)).order_by("id").first()
        if contact is None or contact.orders.exists():
            continue
        extra.append(_Customer(index=-1, name=name, phone=phone, weight=3.0, address=DEMO_ADDRESSES.get(phone),
                               contact_id=contact.pk, join_at=start + timedelta(days=2 + len(extra))))
    return extra + customers


@dataclass
class _Order:
    placed_at: datetime
    channel: str
    with_customer: bool
    customer: int | None = None  # index in the chunk's customer list
    fields: dict = field(default_factory=dict)
    lines: list = field(default_factory=list)  # (product, quantity, price, cost, total)
    steps: list = field(default_factory=list)  # (status, when) in order
    pk: int | None = None
    number: int | None = None


def _months_between(then: datetime, now: datetime) -> int:
    return (now.year - then.year) * 12 + now.month - then.month


def _day_times(day: date, count: int, rng: random.Random, tz, now: datetime) -> list[datetime]:
    """When the day's orders came in (by the hour's weight), sorted; today only up to now."""
    hours = _hours(day)
    hour_list = [h for h in hours if datetime(day.year, day.month, day.day, h, tzinfo=tz) < now]
    if not hour_list:
        return []
    choice = _Choice(hour_list, [hours[h] for h in hour_list])
    times = []
    for _ in range(count):
        top = datetime(day.year, day.month, day.day, choice.pick(rng), tzinfo=tz)
        times.append(top + min(timedelta(hours=1), now - top) * rng.random())
    return sorted(times)


def _build_orders(chunk: int, plan, customers: list[_Customer], *, catalogue: _Catalogue, zones: dict, tz,
                  now: datetime) -> list[_Order]:
    """The chunk's orders, day by day. Each day draws from its own random generator, so the data of
    past days is the same whenever the demo is seeded (only today's share of orders depends on the
    hour). A customer's first order is the first one after they join; the others go to customers
    who have joined, weighted by loyalty."""
    joiners = sorted(range(len(customers)), key=lambda i: customers[i].join_at)
    waiting: deque[int] = deque()
    joined: list[int] = []
    cumulative: list[float] = []
    next_joiner = 0
    orders = []
    for day, count in plan:
        rng = random.Random(f"{SEED}-{chunk}-{day.isoformat()}")
        for when in _day_times(day, count, rng, tz, now):
            channel = CHANNEL_CHOICE.pick(rng)
            order = _Order(placed_at=when, channel=channel,
                           with_customer=channel != "counter" or rng.random() < COUNTER_WITH_CUSTOMER)
            if order.with_customer and customers:
                while next_joiner < len(joiners) and (customers[joiners[next_joiner]].join_at <= when or not
                                                      (joined or waiting)):
                    waiting.append(joiners[next_joiner])
                    next_joiner += 1
                if waiting:
                    order.customer = waiting.popleft()
                    joined.append(order.customer)
                    cumulative.append((cumulative[-1] if cumulative else 0.0) + customers[order.customer].weight)
                else:
                    pick = bisect.bisect_left(cumulative, rng.random() * cumulative[-1])
                    order.customer = joined[min(pick, len(joined) - 1)]
            _fill_order(order, customers, catalogue=catalogue, zones=zones, rng=rng, now=now, tz=tz)
            orders.append(order)
    return orders


def _fill_order(order: _Order, customers: list[_Customer], *, catalogue: _Catalogue, zones: dict,
                rng: random.Random, now: datetime, tz) -> None:
    """Lines (with the month's prices), delivery, payment, status steps and the small things (who
    took it, a rating) of one order."""
    products = catalogue.products
    local = order.placed_at.astimezone(tz)
    cumulative = catalogue.weights[local.month]
    months_ago = _months_between(local, now.astimezone(tz))
    chosen: dict[int, tuple] = {}
    for _ in range(LINES_CHOICE.pick(rng)):
        product = products[bisect.bisect_left(cumulative, rng.random() * cumulative[-1])]
        if product.pk in chosen:
            continue
        quantity = QUANTITY_CHOICE[catalogue.profile[product.pk]].pick(rng)
        if product.unit == "kg":  # what the scale shows
            quantity = Decimal(str(round(quantity * rng.uniform(0.96, 1.08), 3)))
        else:
            quantity = Decimal(quantity)
        chosen[product.pk] = (product, quantity)
    subtotal = cost = Decimal("0")
    for product, quantity in chosen.values():
        unit_price, unit_cost = _price_then(catalogue, product, months_ago)
        total = _money(quantity * unit_price)
        subtotal += total
        cost += quantity * unit_cost
        order.lines.append((product, quantity, unit_price, unit_cost, total))
    cost_total = _money(cost)  # as the order services compute it: round(sum(quantity x unit cost))

    customer = customers[order.customer] if order.customer is not None else None
    discount = Decimal("0")
    if rng.random() < 0.04 and subtotal >= 60:
        discount = _money(subtotal * Decimal("0.05")) if rng.random() < 0.5 else Decimal("5.00")
    zone = None
    if order.channel != "counter" and customer and customer.address and customer.address[6]:
        zone = zones.get(customer.address[6])
        delivers = order.channel == "ifood" or rng.random() < 0.8
        if zone is None or not delivers or subtotal - discount < zone.min_order:  # the services' minimum
            zone = None  # picked up at the shop instead
    delivery_fee = zone.fee if zone else Decimal("0")
    rating = RATING_CHOICE.pick(rng) if rng.random() < 0.25 else None
    order.fields.update(
        channel=order.channel, subtotal=subtotal, discount=discount, delivery_fee=delivery_fee,
        total=subtotal - discount + delivery_fee, cost_total=cost_total,
        fulfillment="delivery" if zone else "pickup",
        payment_method=PAYMENT_CHOICE[order.channel].pick(rng), zone=zone,
        neighbourhood=zone.neighbourhood if zone else "",
        delivery_address=_address_text(customer.address) if zone else "",
        notes=rng.choice(NOTES) if rng.random() < 0.08 and order.channel != "counter" else "",
        created_by_ai=order.channel == "whatsapp" and rng.random() < 0.55,
        staff_pick=rng.random(),  # which staff member took it (the tenant's users, at write time)
        cart_minutes=rng.randrange(2, 15) if order.channel == "whatsapp" else 0,
        rating=rating if order.channel == "whatsapp" else None,
        rating_comment=RATING_COMMENTS[rating] if rating and rng.random() < 0.4 else "",
    )
    _timeline(order, rng=rng, now=now, zone=zone)


def _address_text(address: tuple) -> str:
    _label, street, number, complement, neighbourhood, _zip, _zone = address
    return ", ".join(p for p in (f"{street}, {number}", complement, neighbourhood, CITY) if p)


def _timeline(order: _Order, *, rng: random.Random, now: datetime, zone) -> None:
    """The status steps of a finished order; the ones still in the future are left for later (so a
    recent order is still preparing or on its way), and ~3% of all orders (5% of those not sold at
    the counter) are canceled on the way."""
    at = order.placed_at
    minutes = lambda a, b: timedelta(seconds=rng.randrange(a * 60, b * 60))  # noqa: E731
    steps = [("placed", at)]
    if order.channel == "counter":  # handed over on the spot (order_create(status="delivered"))
        steps.append(("delivered", at))
    else:
        t = at + minutes(1, 6)
        steps.append(("confirmed", t))
        t += minutes(2, 10)
        steps.append(("preparing", t))
        t += minutes(8, 25)
        steps.append(("ready", t))
        if zone is not None:
            t += minutes(2, 15)
            steps.append(("out_for_delivery", t))
            t += minutes(max(5, zone.estimated_minutes - 25), zone.estimated_minutes + 10)
        else:
            t += minutes(10, 120)  # the customer comes to pick it up
        steps.append(("delivered", t))
    if order.channel != "counter" and rng.random() < CANCEL_SHARE / 0.6:  # a counter sale is never canceled
        keep = rng.randrange(1, min(4, len(steps)))  # canceled before it left the shop
        cancel_at = steps[keep - 1][1] + minutes(2, 30)
        steps = steps[:keep] + [("canceled", cancel_at)]
        order.fields["cancel_reason"] = rng.choice(CANCEL_REASONS)
    order.steps = [(status, when) for status, when in steps if when <= now]
    order.fields["paid_when"] = _paid_at(order, steps)


def _paid_at(order: _Order, steps) -> datetime | None:
    """Counter, iFood and the website are paid when placed; a WhatsApp or phone Pix when confirmed;
    cards, cash and vouchers on delivery or pickup."""
    when = dict(steps)
    if order.channel in ("counter", "ifood", "website"):
        return order.placed_at
    if order.fields["payment_method"] == "pix":
        return when.get("confirmed")
    return when.get("delivered")


def _open_recent(orders: list[_Order], *, now: datetime) -> None:
    """Keep a few orders open for the demo even when it is seeded after hours: the latest non-counter
    orders since the stock count (LEDGER_DAYS), their steps squeezed between placement and now."""
    open_orders = {id(o) for o in orders if o.steps[-1][0] not in ("delivered", "canceled")}
    if len(open_orders) >= 4:
        return
    wanted = [["placed"], ["placed"], ["placed", "confirmed"], ["placed", "confirmed", "preparing"],
              ["placed", "confirmed", "preparing", "ready", "out_for_delivery"]]
    candidates = [o for o in reversed(orders) if o.channel in ("whatsapp", "phone") and id(o) not in open_orders
                  and o.steps[-1][0] == "delivered" and o.placed_at > now - timedelta(days=LEDGER_DAYS)]
    for order, statuses in zip(candidates, wanted):
        if "out_for_delivery" in statuses and order.fields["zone"] is None:
            statuses = statuses[:-1]
        span = now - order.placed_at
        order.steps = [(status, order.placed_at + span * (i / (len(statuses) + 1)))
                       for i, status in enumerate(statuses)]
        order.fields["paid_when"] = _paid_at(order, order.steps)


def _create_customers(customers: list[_Customer], tz) -> None:
    from apps.crm import phones
    from apps.crm.models import Contact, ContactIdentity

    from .models import Address, CustomerProfile

    new = [c for c in customers if c.contact_id is None and c.first_order_at is not None]
    contacts = [Contact(name=c.name, phone=c.phone, email=c.email,
                        created_at=c.first_order_at - timedelta(minutes=30 + c.index % 2000))
                for c in new]
    for start in range(0, len(contacts), BATCH):
        Contact.objects.bulk_create(contacts[start:start + BATCH])
    for customer, contact in zip(new, contacts):
        customer.contact_id = contact.pk
    ContactIdentity.objects.bulk_create(
        [ContactIdentity(contact_id=c.contact_id, kind=ContactIdentity.Kind.PHONE, value=c.phone) for c in new] +
        [ContactIdentity(contact_id=c.contact_id, kind=ContactIdentity.Kind.WA_JID, value=phones.phone_to_jid(c.phone))
         for c in new], batch_size=BATCH, ignore_conflicts=True)
    with_orders = [c for c in customers if c.first_order_at is not None]
    have_profile = set(CustomerProfile.objects.filter(contact_id__in=[c.contact_id for c in with_orders])
                       .values_list("contact_id", flat=True))
    CustomerProfile.objects.bulk_create(
        [CustomerProfile(contact_id=c.contact_id, document_number=c.document,
                         customer_since=c.first_order_at.astimezone(tz).date())
         for c in with_orders if c.contact_id not in have_profile], batch_size=BATCH)
    have_address = set(Address.objects.filter(contact_id__in=[c.contact_id for c in with_orders])
                       .values_list("contact_id", flat=True))
    addresses = []
    for c in with_orders:
        if c.contact_id in have_address:
            continue
        for address, default in ((c.address, True), (c.extra_address, False)):
            if address:
                label, street, number, complement, neighbourhood, zip_code, _zone = address
                addresses.append(Address(contact_id=c.contact_id, label=label, street=street, number=number,
                                         complement=complement, neighbourhood=neighbourhood, city=CITY,
                                         zip_code=zip_code, is_default=default,
                                         created_at=c.first_order_at - timedelta(minutes=20)))
    Address.objects.bulk_create(addresses, batch_size=BATCH)


def _staff_ids() -> list[int]:
    from apps.accounts.models import User

    return list(User.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True))


def _write_orders(orders: list[_Order], customers: list[_Customer], *, now: datetime, tz,
                  ledger: _Ledger | None = None) -> dict:
    from .models import Order, OrderEvent, OrderItem

    if not orders:
        return {}
    staff = _staff_ids()
    numbers = _next_numbers(len(orders))
    order_ids = _next_ids(Order, len(orders))
    rows = []
    for order, number, pk in zip(orders, numbers, order_ids):
        order.pk, order.number = pk, number
        f = order.fields
        when = dict(order.steps)
        status = order.steps[-1][0]
        paid_at = f["paid_when"] if f["paid_when"] is not None and f["paid_when"] <= now else None
        if status == "canceled":
            paid_at = paid_at if paid_at is not None and paid_at <= when["canceled"] else None
            payment_status = "refunded" if paid_at else "pending"
        else:
            payment_status = "paid" if paid_at else "pending"
        handler = staff[int(f["staff_pick"] * len(staff))] if staff else None
        f["handler"] = None if order.channel in ("ifood", "website") else handler
        taken_by_staff = order.channel in ("counter", "phone") or (order.channel == "whatsapp"
                                                                   and not f["created_by_ai"])
        delivered = when.get("delivered")
        rated = bool(f["rating"] and status == "delivered" and delivered + timedelta(hours=1) <= now)
        rows.append({
            "id": pk, "number": number, "channel": f["channel"], "status": status, "placed_at": order.placed_at,
            "confirmed_at": when.get("confirmed"), "preparing_at": when.get("preparing"),
            "ready_at": when.get("ready"), "out_for_delivery_at": when.get("out_for_delivery"),
            "delivered_at": delivered, "canceled_at": when.get("canceled"),
            "cancel_reason": f.get("cancel_reason", "") if status == "canceled" else "",
            "payment_method": f["payment_method"], "payment_status": payment_status, "paid_at": paid_at,
            "subtotal": f["subtotal"], "discount": f["discount"], "delivery_fee": f["delivery_fee"],
            "total": f["total"], "cost_total": f["cost_total"], "notes": f["notes"],
            "fulfillment": f["fulfillment"], "delivery_address": f["delivery_address"],
            "neighbourhood": f["neighbourhood"], "zone_id": f["zone"].pk if f["zone"] else None,
            "conversation_id": f.get("conversation_id"),
            "created_by_id": handler if taken_by_staff else None, "created_by_ai": f["created_by_ai"],
            "created_at": order.placed_at - timedelta(minutes=f["cart_minutes"]), "updated_at": order.steps[-1][1],
            "rating": f["rating"] if rated else None, "rating_comment": f["rating_comment"] if rated else "",
            "rating_asked_at": delivered + timedelta(hours=1) if rated else None,
        })
        customer = customers[order.customer] if order.customer is not None else None
        if customer and (customer.first_order_at is None or order.placed_at < customer.first_order_at):
            customer.first_order_at = order.placed_at
    # the customers first (orders point at them): now that their first order is known
    _create_customers(customers, tz)
    for row, order in zip(rows, orders):
        row["contact_id"] = customers[order.customer].contact_id if order.customer is not None else None
    _copy(Order, rows)

    items = []
    for order in orders:
        for product, quantity, price, cost, total in order.lines:
            items.append({"order_id": order.pk, "product_id": product.pk, "category_id": product.category_id,
                          "product_name": product.name, "sku": product.sku, "unit": product.unit,
                          "quantity": quantity, "unit_price": price, "unit_cost": cost, "total": total})
    _copy(OrderItem, items, ids=True)

    events = []
    events_since = now - timedelta(days=EVENTS_DAYS)
    paid_note = gettext("Paid")  # what order_mark_paid writes
    for row, order in zip(rows, orders):
        is_open = row["status"] not in ("delivered", "canceled")
        if order.placed_at < events_since and not is_open:
            continue
        for status, when in order.steps:
            by_ai = row["created_by_ai"] and status == "placed"
            user_id = row["created_by_id"] if status == "placed" else order.fields["handler"]
            events.append({"order_id": order.pk, "status": status, "kind": "status", "by_ai": by_ai,
                           "user_id": None if by_ai else user_id, "created_at": when,
                           "note": row["cancel_reason"] if status == "canceled" else ""})
        if row["paid_at"]:
            events.append({"order_id": order.pk, "status": "", "kind": "payment", "note": paid_note,
                           "user_id": order.fields["handler"], "created_at": row["paid_at"]})
        if row["rating"]:
            events.append({"order_id": order.pk, "status": "", "kind": "rating",
                           "note": f"{row['rating']}/5 {row['rating_comment']}".strip(),
                           "created_at": row["rating_asked_at"] + timedelta(minutes=5)})
    _copy(OrderEvent, events, ids=True)

    _write_stock(orders, ledger, now)
    return {"customers": sum(1 for c in customers if c.index >= 0 and c.first_order_at is not None),
            "orders": len(rows), "items": len(items), "events": len(events)}


def _next_ids(model, count: int) -> list[int]:
    """``count`` primary keys from the table's own identity sequence (rows copied with them keep the
    sequence ahead, so later inserts never collide)."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count])
        return sorted(row[0] for row in cursor.fetchall())


def _copy(model, rows: list[dict], *, ids: bool = False) -> None:
    """Write ``rows`` (attname -> value; missing fields get the model's default) with PostgreSQL's
    COPY: the same rows bulk_create would insert (database triggers fire the same way), about five
    times faster, which is what keeps seed_demo quick at 25,000 orders and seed_store usable at a
    million. ``ids``: take the primary keys from the table's sequence."""
    if not rows:
        return
    if ids:
        for row, pk in zip(rows, _next_ids(model, len(rows))):
            row["id"] = pk
    fields = model._meta.concrete_fields
    defaults = {}
    for f in fields:
        value = f.get_default()
        defaults[f.attname] = json.dumps(value) if isinstance(value, (dict, list)) else value
    quote = connection.ops.quote_name
    sql = f"COPY {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) FROM STDIN"
    names = [f.attname for f in fields]
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row([row[name] if name in row else defaults[name] for name in names])


@dataclass
class _Ledger:
    opened_at: datetime  # the opening stock count
    fresh: dict  # product pk -> stock wanted now, for products created in this run (no ledger yet)


def _flows(orders: list[_Order], ledger: _Ledger | None, now: datetime) -> list[tuple]:
    """The stock movements the order services would have written, as (when, product pk, kind, signed
    quantity, order, reason): with a ledger, for every order since the stock count (a counter sale
    sells, other orders reserve and a cancellation releases); without one (later chunks, the demo
    chat's order), just the reservations of the open orders, recorded now."""
    from .models import MovementKind

    flows = []
    for order in orders:
        status = order.steps[-1][0]
        if ledger is None:
            if status not in ("delivered", "canceled"):
                flows += [(now, product.pk, MovementKind.RESERVATION, -quantity, order, f"#{order.number}")
                          for product, quantity, *_rest in order.lines]
            continue
        if order.placed_at < ledger.opened_at:
            continue
        kind = MovementKind.SALE if order.channel == "counter" else MovementKind.RESERVATION
        flows += [(order.placed_at, product.pk, kind, -quantity, order, f"#{order.number}")
                  for product, quantity, *_rest in order.lines]
        if status == "canceled":
            flows += [(dict(order.steps)["canceled"], product.pk, MovementKind.RELEASE, quantity, order,
                       order.fields.get("cancel_reason", "")) for product, quantity, *_rest in order.lines]
    flows.sort(key=lambda flow: (flow[0], flow[4].pk, flow[1]))
    return flows


def _write_stock(orders: list[_Order], ledger: _Ledger | None, now: datetime) -> None:
    """Ledger lines for the orders, so that the ledger explains every product's stock. A product
    created in this run opens with the stock count that ends, after the orders, at its planned
    stock (so the low-stock and out-of-stock demo products stay so); the others go on from their
    current stock, restocked by a purchase when an order would take it below zero."""
    from .models import MovementKind, Product, StockMovement

    flows = _flows(orders, ledger, now)
    fresh = ledger.fresh if ledger else {}
    pks = sorted({flow[1] for flow in flows} | set(fresh))
    if not pks:
        return
    products = {p.pk: p for p in Product.objects.select_for_update().filter(pk__in=pks).order_by("pk")}
    movements = []
    balance = {}
    for pk in pks:
        if pk not in fresh:
            balance[pk] = products[pk].stock_quantity
            continue
        running = deepest = Decimal("0")
        for flow in flows:
            if flow[1] == pk:
                running += flow[3]
                deepest = min(deepest, running)
        opening = max(fresh[pk] - running, -deepest)  # ends at the planned stock, never below zero
        balance[pk] = opening
        if opening:
            movements.append(StockMovement(product_id=pk, kind=MovementKind.ADJUSTMENT, quantity=opening,
                                           balance_after=opening, reason="Inventário inicial",
                                           created_at=ledger.opened_at))
    for when, pk, kind, quantity, order, reason in flows:
        if balance[pk] + quantity < 0:  # restocked just before
            refill = (products[pk].min_stock * 2 - balance[pk] - quantity).quantize(MILLI)
            balance[pk] += refill
            movements.append(StockMovement(product_id=pk, kind=MovementKind.PURCHASE, quantity=refill,
                                           balance_after=balance[pk], reason="Reposição do fornecedor",
                                           created_at=when - timedelta(minutes=1)))
        balance[pk] += quantity
        movements.append(StockMovement(product_id=pk, kind=kind, quantity=quantity, balance_after=balance[pk],
                                       order_id=order.pk, reason=reason[:200], created_at=when,
                                       user_id=order.fields.get("handler") if order.channel != "whatsapp"
                                       or not order.fields.get("created_by_ai") else None))
    StockMovement.objects.bulk_create(movements, batch_size=BATCH)
    stamp = timezone.now()
    for pk, product in products.items():
        product.stock_quantity, product.updated_at = balance[pk], stamp
    Product.objects.bulk_update(list(products.values()), ["stock_quantity", "updated_at"])
    if ledger:
        ledger.fresh = {}


def _open_ledger(ledger: _Ledger) -> None:
    """The opening stock count of new products no seeded order touched."""
    from .models import MovementKind, Product, StockMovement

    StockMovement.objects.bulk_create([
        StockMovement(product_id=pk, kind=MovementKind.ADJUSTMENT, quantity=stock, balance_after=stock,
                      reason="Inventário inicial", created_at=ledger.opened_at)
        for pk, stock in ledger.fresh.items() if stock])
    Product.objects.filter(pk__in=list(ledger.fresh)).update(updated_at=timezone.now())
    ledger.fresh = {}


def _next_numbers(count: int) -> list[int]:
    """``count`` order numbers from the tenant's sequence, ascending (so the sequence stays ahead)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('store_order_number_seq') FROM generate_series(1, %s)", [count])
        return sorted(row[0] for row in cursor.fetchall())


# --- the demo WhatsApp conversation's order ------------------------------------------------------

def _seed_conversation_orders(catalogue: _Catalogue, zones: dict, now: datetime, tz) -> int:
    """Maria's chat in the demo (apps/whatsapp/demo.py) asks for 500 g of presunto and 300 g of queijo
    prato for Jardins: that order, placed from the conversation and now being prepared, linked to it.
    Skipped when the conversation is missing or already has an order."""
    try:
        from apps.whatsapp.demo import SANDBOX_NAME
        from apps.whatsapp.models import Connection, Provider
        from apps.whatsapp.services.simulator import current_conversation
    except ImportError:  # pragma: no cover
        return 0
    from .models import Order

    conn = Connection.objects.filter(provider=Provider.SANDBOX, name=SANDBOX_NAME).first()
    conversation = current_conversation(conn, MARIA) if conn else None
    if conversation is None or Order.objects.filter(conversation=conversation).exists():
        return 0
    by_sku = {p.sku: p for p in catalogue.products}
    lines = [(by_sku["FF-001"], Decimal("0.512")), (by_sku["QJ-003"], Decimal("0.304"))]
    zone = zones.get("Jardins")
    # taken by staff a few minutes after her message (the demo chat's messages are ~95 minutes old)
    asked_at = conversation.last_inbound_at or now - timedelta(minutes=94)
    placed_at = min(now - timedelta(minutes=15), asked_at + timedelta(minutes=6))
    order = _Order(placed_at=placed_at, channel="whatsapp", with_customer=True)
    subtotal = cost = Decimal("0")
    for product, quantity in lines:
        total = _money(quantity * product.price)
        subtotal += total
        cost += quantity * product.cost
        order.lines.append((product, quantity, product.price, product.cost, total))
    cost_total = _money(cost)
    fee = zone.fee if zone and subtotal >= zone.min_order else Decimal("0")
    order.fields.update(
        channel="whatsapp", subtotal=subtotal, discount=Decimal("0"), delivery_fee=fee, total=subtotal + fee,
        cost_total=cost_total, fulfillment="delivery" if fee else "pickup", payment_method="pix",
        zone=zone if fee else None, neighbourhood="Jardins" if fee else "",
        delivery_address=f"Alameda Lorena, 1200, apto 52, Jardins, {CITY}" if fee else "",
        notes="Presunto fatiado fino.", created_by_ai=False, staff_pick=0.99, cart_minutes=2, rating=None,
        rating_comment="", paid_when=placed_at + timedelta(minutes=4), conversation_id=conversation.pk)
    order.steps = [("placed", placed_at), ("confirmed", placed_at + timedelta(minutes=3)),
                   ("preparing", placed_at + timedelta(minutes=12))]
    customer = _Customer(index=-1, name=conversation.contact.display_name, phone=conversation.contact.phone,
                         weight=1.0, contact_id=conversation.contact_id)
    order.customer = 0
    with transaction.atomic():
        result = _write_orders([order], [customer], now=now, tz=tz)
    return result.get("orders", 0)


def _enable_ordering_tools() -> None:
    """The demo assistant takes orders: turn on the store's ordering tools that are registered."""
    try:
        from apps.agents.demo import ASSISTANT_NAME
        from apps.agents.models import Assistant
        from apps.agents.services.assistants import assistant_update
        from apps.agents.tools import get_tool
    except ImportError:  # pragma: no cover
        return
    names = ["search_products", "add_to_cart", "update_cart_item", "remove_from_cart", "view_cart", "set_delivery",
             "set_payment_method", "confirm_order", "order_status"]
    assistant = Assistant.objects.filter(name=ASSISTANT_NAME).first()
    if assistant is None:
        return
    present = [name for name in names if get_tool(name) is not None]
    missing = [name for name in present if name not in (assistant.enabled_tools or [])]
    if missing:
        assistant_update(assistant=assistant, enabled_tools=[*(assistant.enabled_tools or []), *missing])
