"""What the daemon logs after partition upkeep: words, not a dataclass repr."""

from monitor.store.partitions import MaintenanceResult


def test_maintenance_result_reads_as_a_sentence() -> None:
    assert str(MaintenanceResult([], [])) == "nothing to create or drop"
    text = str(MaintenanceResult(["probes_20261129", "probes_20261130"], ["probes_20251101"]))
    assert text == "created 2 (probes_20261129, probes_20261130); dropped 1 (probes_20251101)"
    assert "MaintenanceResult" not in text
