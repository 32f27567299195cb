"""The chain's organisation (regions, stores) from CSV files: the demo chain by default."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel

from shared.vocabulary import Role


class Store(BaseModel):
    """A store, dealer, salon, mall site or online hub."""

    store_id: str
    brand: str
    business: str
    kind: str
    region: str
    name_zh: str
    name_en: str


class StaffMember(BaseModel):
    """A member of staff as routing sees them: id, role and scope (a store, a region, or ``*`` for all).

    Names stay out: routing assigns by id, and a name is personal data it does not need.
    """

    staff_id: str
    role: Role
    scope: str


class Product(BaseModel):
    """A product: its price and whether the national 三包 list covers it, custom-made, perishable."""

    sku: str
    brand: str
    name_zh: str
    name_en: str
    price_cny: Decimal
    sanbao: bool
    custom_made: bool
    perishable: bool


class MasterData(BaseModel):
    """What intake validates against and routing assigns by."""

    regions: dict[str, str]
    stores: dict[str, Store]
    staff: dict[str, StaffMember] = {}
    products: dict[str, Product] = {}

    @classmethod
    def load(cls, folder: Path) -> MasterData:
        """Read ``regions.csv``, ``stores.csv`` and, if present, ``staff.csv`` and ``products.csv`` (UTF-8, BOM
        tolerated) from ``folder``."""
        with open(folder / "regions.csv", encoding="utf-8-sig", newline="") as f:
            regions = {row["region"]: row["name_en"] for row in csv.DictReader(f)}
        with open(folder / "stores.csv", encoding="utf-8-sig", newline="") as f:
            stores = {row["store_id"]: Store.model_validate(row) for row in csv.DictReader(f)}
        staff: dict[str, StaffMember] = {}
        if (folder / "staff.csv").exists():
            with open(folder / "staff.csv", encoding="utf-8-sig", newline="") as f:
                staff = {row["staff_id"]: StaffMember.model_validate(row) for row in csv.DictReader(f)}
        products: dict[str, Product] = {}
        if (folder / "products.csv").exists():
            with open(folder / "products.csv", encoding="utf-8-sig", newline="") as f:
                products = {row["sku"]: Product.model_validate(row) for row in csv.DictReader(f)}
        return cls(regions=regions, stores=stores, staff=staff, products=products)
