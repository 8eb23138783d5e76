"""The scale benchmark's pure parts: data shape, plan checks, wrk script."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from bench.scale.paths import summarize
from bench.scale.run import rotation_script, targets_of
from bench.scale.shape import national_id_digits, resident_tiers, slots, zipf_weights
from shared.validation import is_valid_national_id

# EXPLAIN (FORMAT JSON) of a join where the large table is read in full.
SEQ_SCAN_PLAN = {
    "Plan": {
        "Node Type": "Hash Join",
        "Plans": [
            {"Node Type": "Seq Scan", "Relation Name": "request_assignments"},
            {
                "Node Type": "Hash",
                "Plans": [
                    {
                        "Node Type": "Bitmap Heap Scan",
                        "Relation Name": "requests",
                        "Plans": [
                            {
                                "Node Type": "Bitmap Index Scan",
                                "Index Name": "ix_requests_department_submitted",
                            }
                        ],
                    }
                ],
            },
        ],
    }
}
ROWS = {"request_assignments": 3_900_000.0, "requests": 4_000_000.0, "departments": 7.0}


def test_a_sequential_scan_of_a_large_table_is_flagged() -> None:
    summary = summarize(SEQ_SCAN_PLAN, ROWS)

    assert summary["seq_scans"] == ["request_assignments"]
    assert {"node": "Bitmap Index Scan", "index": "ix_requests_department_submitted"} in summary[
        "nodes"
    ]


def test_a_sequential_scan_of_a_small_table_is_not_flagged() -> None:
    plan = {"Plan": {"Node Type": "Seq Scan", "Relation Name": "departments"}}

    assert summarize(plan, ROWS)["seq_scans"] == []


def test_resident_request_counts_are_heavy_tailed() -> None:
    residents, requests = 130_000, 400_000
    tiers = resident_tiers(residents, requests)
    rng = random.Random(7)
    owners: Counter[int] = Counter()
    # The generator's rule: a tier by its share of requests, then a resident of it uniformly.
    filing = [t for t in tiers if t.requests]
    weights = [t.requests for t in filing]
    for tier in rng.choices(filing, weights, k=requests):
        owners[tier.first + int(rng.random() * tier.size)] += 1
    counts = [owners.get(n, 0) for n in range(residents)]

    assert sum(t.requests for t in tiers) == requests
    assert sum(t.size for t in tiers) == residents
    assert sum(1 for c in counts if c <= 5) / residents > 0.8  # most file a handful
    assert sum(1 for c in counts if c == 0) / residents > 0.3  # many never file one
    assert 200 <= max(counts) <= 450  # and a few file hundreds
    assert sum(1 for c in counts if c >= 100) == tiers[0].size


def test_departments_are_zipf_skewed_and_slots_follow_weights() -> None:
    weights = zipf_weights(7)
    table = slots(weights)
    shares = Counter(table)

    assert weights[0] > 2 * weights[2] > 2 * weights[6] / 1.5
    assert len(table) == 10_000
    for index, weight in enumerate(weights, start=1):
        assert shares[index] == pytest.approx(weight * 10_000, abs=1)


def test_generated_national_ids_pass_the_check_digit() -> None:
    for first in (1, 2):
        for serial in (0, 7, 12_345_678, 99_999_999, 48_271):
            assert is_valid_national_id(national_id_digits(first, serial))


def test_rotation_script_sends_every_target_in_turn() -> None:
    script = rotation_script(
        [("/v1/requests", {"x-tawasul-identity": 'a"b'}), ("/v1/requests/1", {})]
    )

    assert '{"/v1/requests", {["x-tawasul-identity"] = "a\\"b"}}' in script
    assert '{"/v1/requests/1", {}}' in script
    assert "i = i % #targets + 1" in script


def test_targets_compare_full_with_small_and_fail_on_a_scan() -> None:
    def read(rps: float, p99: float) -> dict[str, object]:
        return {
            "requests_per_second": {"median": rps},
            "p99_ms": p99,
            "non_2xx": 0,
            "errors": 0,
            "one_connection": {"p99_ms": p99},
        }

    report = {
        "figures": {
            "small": {"resident_list": read(1000, 5), "officer_queue": read(1000, 5)},
            "full": {"resident_list": read(900, 25), "officer_queue": read(500, 5)},
        },
        "explain": {"full": {"seq_scans": ["officer_queue: request_assignments"]}},
    }

    found = targets_of(report)

    assert found["resident_list_ratio"] == {"value": 0.9, "target": 0.8, "met": True}
    assert found["officer_queue_ratio"]["met"] is False
    assert found["resident_list_p99_ms"]["met"] is False
    assert found["no_sequential_scan"]["met"] is False
