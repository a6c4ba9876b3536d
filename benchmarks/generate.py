"""Deterministic source documents of realistic shape and size, and a mutator.

Shapes are long-tailed the way a print shop's customer base is: most
customers have a handful of contact persons and orders, a few have
hundreds. A few customers are agencies; an agency serves many customers,
mostly as their default agency. Names carry accents and the characters
that need escaping in a DN (`,+"\\<>;=#`).

    python -m benchmarks.generate --size M --seed 1 -o m.json
    python -m benchmarks.generate --from m.json --mutate 0.01 --seed 2 -o m2.json
"""

from __future__ import annotations

import argparse
import json
import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Document = dict[str, Any]


@dataclass(frozen=True)
class Size:
    """How many customers, and the mean counts per customer."""

    customers: int
    persons_per_customer: float = 5.0
    account_share: float = 0.8
    orders_per_customer: float = 20.0
    internal_users: int = 0


SIZES = {
    "XS": Size(customers=12, internal_users=4),
    "S": Size(customers=100, internal_users=20),
    "M": Size(customers=10_000, internal_users=200),
    "L": Size(customers=50_000, internal_users=1_000),
}

FIRST_NAMES = (
    "Anna", "Claire", "João", "Zoë", "Łukasz", "Søren", "Ana", "Marc", "Sophie", "Jürgen",
    "François", "Inês", "Ömer", "Chloé", "Peter", "Maria", "José", "Agnès", "Björn", "Renée",
    "Tom", "Ewa", "Đorđe", "Siân", "Hélène", "Núria", "Kai", "Lea", "Jean-Luc", "Ståle",
)  # fmt: skip
LAST_NAMES = (
    "Dubois", "Lefèvre", "Silva", "Müller", "Schmidt", "Weber", "Martin", "Petit", "Costa",
    "Braun", "Nowak", "Øster", "Gonçalves", "O'Brien", "García", "Ferreira", "Çelik",
    "Dvořák", "Åberg", "Smith, Jr.", "Lopez+Partner", "Núñez", "Kowalska", "Rossi", "Bianchi",
    "Fischer", "Meyer", "Wagner", "Sørensen", "Doe <Print>",
)  # fmt: skip
COMPANY_WORDS = (
    "Éditions", "Druckhaus", "Gráfica", "Lumière", "Sonnenhang", "Atelier", "Papeterie",
    "Agência", "Verlag", "Criativa", "Boulangerie", "Weingut", "Studio", "Imprimerie", "Nord",
    "Süd", "Façade", "Étoile", "Brücke", "Horizonte", "Mühle", "Château", "Kaffee", "Øresund",
)  # fmt: skip
COMPANY_FORMS = ("GmbH", "SARL", "Lda", "S.A.", "AG", "& Co. KG", "Ltd", "SA", "e.K.", "")
SPECIAL_NAMES = (
    "Smith, Jones & Partners",
    'The "Quoted" Press',
    "A+B Druck",
    "Back\\Slash Studio",
    "<Angle> Media",
    "Semi;Colon Verlag",
    "Equal=Share Print",
    "#1 Copyshop",
    " Leading Space Lda",
)
CONTACT_TYPE_NAMES = (
    "Achats", "Comptabilité", "Fabrication", "Design", "Purchasing", "Accounting",
    "Artwork approval", "Marketing", "Einkauf", "Buchhaltung", "Produção", "Qualité",
)  # fmt: skip
ROLES = (
    "Administrators", "Prepress", "Press", "Postpress", "Power Users", "Guests",
    "Remote Internal Users", "Customer Sales Representatives",
)  # fmt: skip
BUILTIN_NAMES = ("Customer", "Client", "Cliente", "Kunde")
ORDER_WORDS = (
    "Brochure", "Flyer", "Catalogue", "Étiquettes", "Plakate", "Cartes de visite", "Livro",
    "Annual report", "Menü", "Packaging", "Kalender", "Affiches",
)  # fmt: skip


def ascii_fold(text: str) -> str:
    """Return `text` without accents, lower case, letters and digits only."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if c.isascii() and c.isalnum())
    return kept.lower()


def long_tail(rng: random.Random, mean: float, cap: int) -> int:
    """Return a count >= 1 from a Pareto-like distribution with roughly this mean."""
    alpha = 1.8
    scale = mean * (alpha - 1) / alpha
    return max(1, min(cap, round(rng.paretovariate(alpha) * scale)))


class _Generator:
    def __init__(self, size: Size, seed: int) -> None:
        self.size = size
        self.rng = random.Random(seed)
        self.person_serial = 0
        self.order_serial = 0

    def company_name(self, index: int) -> str:
        rng = self.rng
        if rng.random() < 0.05:
            return f"{rng.choice(SPECIAL_NAMES).strip()} {index}"
        words = rng.sample(COMPANY_WORDS, rng.choice((1, 2, 2, 3)))
        return " ".join([*words, rng.choice(COMPANY_FORMS)]).strip()

    def person(self, customer_id: str, domain: str, types: list[str]) -> dict[str, Any]:
        rng = self.rng
        self.person_serial += 1
        serial = self.person_serial
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = f"{ascii_fold(first)}.{ascii_fold(last)}"
        person: dict[str, Any] = {
            "id": f"P-{serial}",
            "first_name": first,
            "last_name": last,
            "email": f"{local}{serial}@{domain}",
            "contact_types": types,
        }
        if rng.random() < 0.6:
            person["phone"] = f"+33 1 {rng.randrange(10**8):08d}"
        if rng.random() < 0.3:
            person["mobile"] = f"+49 171 {rng.randrange(10**7):07d}"
        if rng.random() < 0.05:
            person["fax"] = f"+351 21 {rng.randrange(10**7):07d}"
        if rng.random() < 0.1:
            person["web"] = f"https://{domain}/"
        if rng.random() < self.size.account_share:
            person["account"] = {"login": self.login(first, last, serial), "enabled": True}
            if rng.random() < 0.02:
                person["account"]["enabled"] = False
        return person

    def login(self, first: str, last: str, serial: int) -> str:
        roll = self.rng.random()
        if roll < 0.01:
            return f"{first.lower()}+{ascii_fold(last)},{serial}"
        if roll < 0.02:
            return f"#{ascii_fold(first)}={serial}"
        return f"{ascii_fold(first)[:1]}{ascii_fold(last)}{serial}"

    def customer(self, index: int) -> dict[str, Any]:
        rng = self.rng
        customer_id = f"C{index:06d}"
        name = self.company_name(index)
        domain = f"{ascii_fold(name)[:20] or 'company'}{index}.example"
        count = long_tail(rng, self.size.persons_per_customer, 400)
        extra = rng.sample(CONTACT_TYPE_NAMES, rng.choice((0, 1, 1, 2, 2, 3, 4)))
        if count > 1 and not extra:
            extra = [rng.choice(CONTACT_TYPE_NAMES)]
        contact_types = [{"id": "customer", "name": rng.choice(BUILTIN_NAMES)}]
        contact_types += [{"id": f"ct-{n}", "name": name} for n, name in enumerate(extra, 1)]
        ids = [ct["id"] for ct in contact_types]
        persons = []
        for position in range(count):
            if position == 0:
                types = ["customer"]
            else:
                types = rng.sample(ids[1:], 1 if rng.random() < 0.8 else min(2, len(ids) - 1))
            persons.append(self.person(customer_id, domain, types))
        return {
            "id": customer_id,
            "name": name,
            "nickname": ascii_fold(name)[:10].upper(),
            "remote_access": rng.random() < 0.9,
            "agency": False,
            "contact_types": contact_types,
            "persons": persons,
        }

    def order(self, customer_id: str, agency: str | None) -> dict[str, Any]:
        rng = self.rng
        self.order_serial += 1
        order: dict[str, Any] = {
            "id": f"_2026{self.order_serial:07d}",
            "name": f"{rng.choice(ORDER_WORDS)} {self.order_serial}",
            "customer": customer_id,
            "portal_visible": rng.random() < 0.4,
        }
        if agency is not None:
            order["agency"] = agency
        return order

    def internal_user(self, index: int) -> dict[str, Any]:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        groups = rng.sample(ROLES, rng.choice((1, 1, 1, 2, 3)))
        return {
            "id": f"U-{index}",
            "login": f"staff.{ascii_fold(first)}.{index}",
            "first_name": first,
            "last_name": last,
            "email": f"staff{index}@druckerei.example",
            "groups": groups,
            "enabled": rng.random() < 0.97,
        }

    def document(self) -> Document:
        rng = self.rng
        size = self.size
        customers = [self.customer(index) for index in range(1, size.customers + 1)]
        agency_count = max(1, size.customers // 100)
        agencies = rng.sample(customers, agency_count)
        for chosen in agencies:
            chosen["agency"] = True
        agency_ids = [chosen["id"] for chosen in agencies]
        popular = [rng.paretovariate(1.2) for _ in agency_ids]
        orders = []
        for customer in customers:
            default: str | None = None
            if rng.random() < 0.3:
                default = rng.choices(agency_ids, weights=popular)[0]
            for _ in range(long_tail(rng, size.orders_per_customer, 2_000)):
                agency: str | None = None
                if default is not None and rng.random() < 0.7:
                    agency = default
                elif rng.random() < 0.05:
                    agency = rng.choice(agency_ids)
                if agency == customer["id"]:
                    agency = None
                orders.append(self.order(customer["id"], agency))
        internal = [self.internal_user(index) for index in range(1, size.internal_users + 1)]
        return {
            "format_version": 1,
            "internal_users": internal,
            "customers": customers,
            "orders": orders,
        }


def generate(size: str | Size, seed: int = 1) -> Document:
    """Return a source document of a named size (XS, S, M, L) or an explicit Size."""
    chosen = SIZES[size] if isinstance(size, str) else size
    return _Generator(chosen, seed).document()


def _persons(document: Document) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for customer in document["customers"]:
        for person in customer["persons"]:
            yield customer, person


def change_one_person(document: Document, index: int = 0) -> str:
    """Change one person's e-mail address in place; return the person's id."""
    persons = [p for c, p in _persons(document) if p.get("account") and c["remote_access"]]
    person = persons[index % len(persons)]
    person["email"] = "changed." + person["email"]
    return str(person["id"])


def add_one_person(document: Document, seed: int = 0) -> str:
    """Add one person with an account to a remote-access customer in place; return its id."""
    rng = random.Random(seed)
    customers = [c for c in document["customers"] if c["remote_access"] and c["persons"]]
    customer = rng.choice(customers)
    serial = 1 + max(int(p["id"][2:]) for _, p in _persons(document))
    types = [ct["id"] for ct in customer["contact_types"] if ct["id"] != "customer"]
    if not types:
        customer["contact_types"].append({"id": "ct-new", "name": "Nouveau"})
        types = ["ct-new"]
    person: dict[str, Any] = {
        "id": f"P-{serial}",
        "first_name": "Zoé",
        "last_name": "Nouvelle",
        "email": f"zoe.nouvelle{serial}@new.example",
        "contact_types": types[:1],
        "account": {"login": f"znouvelle{serial}", "enabled": True},
    }
    customer["persons"].append(person)
    return str(person["id"])


def mutate(document: Document, fraction: float, seed: int = 2) -> dict[str, int]:
    """Apply about `fraction` x records realistic changes in place; return counts per kind.

    Changes: new persons with accounts, removed accounts, e-mail changes,
    agencies reassigned, new orders, orders closed (no longer visible).
    """
    rng = random.Random(seed)
    customers = document["customers"]
    orders = document["orders"]
    persons = list(_persons(document))
    budget = max(1, round(fraction * (len(persons) + len(orders))))
    agencies = [c["id"] for c in customers if c["agency"]]
    counts = dict.fromkeys(
        (
            "new persons",
            "accounts removed",
            "e-mails changed",
            "agencies reassigned",
            "orders added",
            "orders closed",
        ),
        0,
    )
    serial = 1 + max((int(p["id"][2:]) for _, p in persons), default=0)
    order_serial = len(orders) + 1
    for _ in range(budget):
        roll = rng.random()
        if roll < 0.2:
            customer = rng.choice(customers)
            types = [ct["id"] for ct in customer["contact_types"] if ct["id"] != "customer"]
            if not types:
                continue
            customer["persons"].append(
                {
                    "id": f"P-{serial}",
                    "first_name": rng.choice(FIRST_NAMES),
                    "last_name": rng.choice(LAST_NAMES),
                    "email": f"new{serial}@mutated.example",
                    "contact_types": [rng.choice(types)],
                    "account": {"login": f"new{serial}", "enabled": True},
                }
            )
            serial += 1
            counts["new persons"] += 1
        elif roll < 0.3:
            _, person = rng.choice(persons)
            if person.pop("account", None) is not None:
                counts["accounts removed"] += 1
        elif roll < 0.5:
            _, person = rng.choice(persons)
            person["email"] = f"m{rng.randrange(10**6)}.{person['email']}"
            counts["e-mails changed"] += 1
        elif roll < 0.6 and agencies:
            order = rng.choice(orders)
            agency = rng.choice(agencies)
            if agency != order["customer"]:
                order["agency"] = agency
                counts["agencies reassigned"] += 1
        elif roll < 0.8:
            customer = rng.choice(customers)
            orders.append(
                {
                    "id": f"_2027{order_serial:07d}",
                    "name": f"{rng.choice(ORDER_WORDS)} {order_serial}",
                    "customer": customer["id"],
                    "portal_visible": True,
                }
            )
            order_serial += 1
            counts["orders added"] += 1
        else:
            order = rng.choice(orders)
            if order["portal_visible"]:
                order["portal_visible"] = False
                counts["orders closed"] += 1
    return counts


def main() -> None:
    """Write a generated (or mutated) document as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", default="S", choices=sorted(SIZES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--from", dest="origin", type=Path, help="mutate this document")
    parser.add_argument("--mutate", type=float, default=0.0, help="fraction of records changed")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    if args.origin:
        document = json.loads(args.origin.read_text(encoding="utf-8"))
    else:
        document = generate(args.size, args.seed)
    if args.mutate:
        print(mutate(document, args.mutate, args.seed))
    args.output.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
