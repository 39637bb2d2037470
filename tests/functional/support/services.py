"""Which services the suite runs: EMPORIUM_SERVICES, a comma list of upstream names (users,
products, cart, orders, payments); by default all of them. cart needs products; orders needs
products and cart; payments needs orders.

Tests that need a service carry `pytest.mark.services("products", "cart")`; conftest skips them
when a service they name is not enabled. When it is enabled but its binary is missing, the stack
does not start and those tests fail (never skip)."""

from __future__ import annotations

import os

DEFAULT_SERVICES = "users,products,cart,orders,payments,notification"
KNOWN = ("users", "products", "cart", "orders", "payments", "notification")
SKIP_REASON = "a service the test needs is not in EMPORIUM_SERVICES"


class ServicesError(ValueError):
    pass


def enabled_services() -> tuple[str, ...]:
    raw = os.environ.get("EMPORIUM_SERVICES", DEFAULT_SERVICES)
    names = [s.strip() for s in raw.split(",") if s.strip()]
    unknown = [s for s in names if s not in KNOWN]
    if unknown:
        raise ServicesError(f"EMPORIUM_SERVICES: unknown {unknown}; known: {', '.join(KNOWN)}")
    if "users" not in names:
        names.append("users")  # the suite's accounts and tokens come from user-service
    if "cart" in names and "products" not in names:
        raise ServicesError("EMPORIUM_SERVICES: cart needs products")
    if "orders" in names and not {"products", "cart"} <= set(names):
        raise ServicesError("EMPORIUM_SERVICES: orders needs products and cart")
    if "payments" in names and "orders" not in names:
        raise ServicesError("EMPORIUM_SERVICES: payments needs orders")
    if "notification" in names and "payments" not in names:
        raise ServicesError("EMPORIUM_SERVICES: notification needs payments (its events come from them)")
    return tuple(s for s in KNOWN if s in names)


def enabled(*services: str) -> bool:
    try:
        have = enabled_services()
    except ServicesError:
        return False
    return all(s in have for s in services)
