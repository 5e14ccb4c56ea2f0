"""The plan table and the platform fee: integer minor units, never floats."""

from decimal import Decimal

import pytest

from shared.billing.rules import (
    FREE,
    PLANS,
    SUPPORTED_CURRENCIES,
    ZERO_DECIMAL,
    UnsupportedCurrency,
    currency,
    get_plan,
    plan_out,
    platform_fee,
)


def test_fee_is_percentage_rounded_half_up_plus_fixed():
    pro = PLANS["pro"]  # 5 % + 30
    assert platform_fee(pro, 10_000, "usd") == 500 + 30
    assert platform_fee(pro, 1_010, "usd") == 51 + 30  # 50.5 rounds half up
    assert platform_fee(pro, 1_009, "usd") == 50 + 30  # 50.45 rounds down
    assert (
        platform_fee(PLANS["business"], 4_999, "usd") == 100
    )  # 2 % of 49.99 = 99.98 -> 100, no fixed


def test_fee_never_exceeds_the_amount_and_is_an_int():
    free = PLANS["free"]
    assert platform_fee(free, 20, "usd") == 20
    assert platform_fee(free, 0, "usd") == 0
    for plan in PLANS.values():
        for amount in (1, 99, 1234, 10**9):
            fee = platform_fee(plan, amount, "usd")
            assert type(fee) is int and 0 <= fee <= amount


@pytest.mark.parametrize("bad", [10.0, 9.99, "1000", -1, True])
def test_fee_refuses_non_integer_or_negative_amounts(bad):
    with pytest.raises(ValueError):
        platform_fee(PLANS["pro"], bad, "usd")


def test_plan_table_is_consistent():
    assert FREE in PLANS and PLANS[FREE].monthly_price_minor == 0
    for key, plan in PLANS.items():
        assert plan.key == key
        assert type(plan.monthly_price_minor) is int and plan.monthly_price_minor >= 0
        assert type(plan.fee_percent_bps) is int and 0 <= plan.fee_percent_bps <= 10_000
        assert len(plan.currency) == 3
    # paid plans cost money and take a smaller cut than free
    assert PLANS["pro"].monthly_price_minor > 0 and PLANS["business"].monthly_price_minor > 0
    bps = {k: p.fee_percent_bps for k, p in PLANS.items()}
    assert bps["business"] < bps["pro"] < bps["free"]


def test_unknown_plan_counts_as_free_and_public_shape_uses_money():
    assert get_plan("platinum") is PLANS[FREE]
    out = plan_out(PLANS["pro"])
    assert out["price"] == {"amount": 2900, "currency": "usd"}
    assert out["platform_fee"]["fixed"] == {"amount": 30, "currency": "usd"}
    assert out["limits"]["max_published_courses"] == 50


# -- currencies (issue 16 item 8) ----------------------------------------------------------
def test_fixed_fee_is_set_per_currency_not_30_minor_units_of_anything():
    pro = PLANS["pro"]  # 5 % + the currency's fixed part
    # JPY is zero-decimal: 5,000 yen is amount=5000; the fixed part is 50 yen, not 30
    assert platform_fee(pro, 5_000, "jpy") == 250 + 50
    assert platform_fee(pro, 50_000, "krw") == 2_500 + 400
    assert platform_fee(pro, 10_000, "eur") == 500 + 30
    assert platform_fee(pro, 10_000, "gbp") == 500 + 25
    assert platform_fee(PLANS["business"], 5_000, "jpy") == 100  # business has no fixed part


def test_currency_codes_are_case_insensitive_and_unknown_ones_refused():
    assert platform_fee(PLANS["pro"], 10_000, "USD") == 530
    for bad in ("inr", "xyz", "", "usdd"):
        with pytest.raises(UnsupportedCurrency, match="not supported"):
            platform_fee(PLANS["pro"], 10_000, bad)


def test_zero_decimal_currencies_are_stripes_list():
    assert {"jpy", "krw", "vnd", "clp", "xof"} <= ZERO_DECIMAL
    assert "usd" not in ZERO_DECIMAL and "eur" not in ZERO_DECIMAL
    for code in SUPPORTED_CURRENCIES:
        cur = currency(code)
        assert cur.exponent == (0 if code in ZERO_DECIMAL else 2)
        fixed = cur.to_minor(cur.fixed_fee)
        assert type(fixed) is int and fixed > 0
    assert currency("jpy").to_minor(Decimal("50")) == 50
    assert currency("usd").to_minor(Decimal("0.30")) == 30
