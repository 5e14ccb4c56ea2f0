"""The plan table and the platform fee: integer minor units, never floats."""

import pytest

from shared.billing.plans import FREE, PLANS, get_plan, plan_out, platform_fee


def test_fee_is_percentage_rounded_half_up_plus_fixed():
    pro = PLANS["pro"]  # 5 % + 30
    assert platform_fee(pro, 10_000) == 500 + 30
    assert platform_fee(pro, 1_010) == 51 + 30  # 50.5 rounds half up
    assert platform_fee(pro, 1_009) == 50 + 30  # 50.45 rounds down
    assert platform_fee(PLANS["business"], 4_999) == 100  # 2 % of 49.99 = 99.98 -> 100, no fixed


def test_fee_never_exceeds_the_amount_and_is_an_int():
    free = PLANS["free"]
    assert platform_fee(free, 20) == 20
    assert platform_fee(free, 0) == 0
    for plan in PLANS.values():
        for amount in (1, 99, 1234, 10**9):
            fee = platform_fee(plan, amount)
            assert type(fee) is int and 0 <= fee <= amount


@pytest.mark.parametrize("bad", [10.0, 9.99, "1000", -1, True])
def test_fee_refuses_non_integer_or_negative_amounts(bad):
    with pytest.raises(ValueError):
        platform_fee(PLANS["pro"], bad)


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
