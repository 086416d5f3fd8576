"""Quantity parsing, checked against the values the kubernetes client library computes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from kubernetes.utils import parse_quantity as reference

from ragagent_operator.quantity import parse_quantity, same_quantity

SAMPLES = ["0", "1", "0.5", "500m", "250u", "3n", "1k", "2M", "1.5G", "128Mi", "1Gi", "2Ti"]
SAMPLES += ["1Ei", "1E", "2e3", "1.5E-2", "+4", "-1", ".5", "7."]


@pytest.mark.parametrize("text", SAMPLES)
def test_quantities_have_the_values_the_kubernetes_client_computes(text: str) -> None:
    assert parse_quantity(text) == reference(text)  # type: ignore[no-untyped-call]


def test_canonicalized_quantities_compare_equal() -> None:
    assert same_quantity("0.5", "500m")
    assert same_quantity("1024Mi", "1Gi")
    assert same_quantity("1e3", "1k")
    assert not same_quantity("1", "500m")


@pytest.mark.parametrize("text", ["", "m", "1Xi", "1 Gi", "1.2.3", "Gi1", "1ki", "abc"])
def test_text_that_is_not_a_quantity_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a quantity"):
        parse_quantity(text)
    assert not same_quantity(text, "1")


def test_value_is_an_exact_decimal() -> None:
    assert parse_quantity("100m") * 10 == Decimal(1)
