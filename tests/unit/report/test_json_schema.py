"""Reports validate against the published JSON Schema, and the schema rejects broken ones."""

import copy
import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from typer.testing import CliRunner

from monitor.cli import app
from monitor.report.json_schema import REPORT_SCHEMA
from monitor.report.model import Report
from monitor.report.render_json import render_json
from monitor.trace import Outcome
from tests.unit.report.conftest import build
from tests.unit.report.factories import make_trace

validator = Draft202012Validator(REPORT_SCHEMA, format_checker=FormatChecker())


def _errors(doc: dict[str, Any]) -> list[str]:
    return [e.message for e in validator.iter_errors(doc)]


def test_the_schema_is_valid() -> None:
    Draft202012Validator.check_schema(REPORT_SCHEMA)


def test_a_full_report_validates(report: Report) -> None:
    assert _errors(json.loads(render_json(report))) == []


def test_empty_and_all_failed_reports_validate() -> None:
    failed = [make_trace([], probe_id="f", outcome=Outcome.TIMEOUT, error="timeout")]
    for report in (build([]), build(failed)):
        assert _errors(json.loads(render_json(report))) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("targets", 0, "share_fluid"), 1.5, "1.5 is greater than the maximum of 1"),
        (("targets", 0, "probes"), "144", "'144' is not of type 'integer'"),
        (("format",), "etalon-report/0", "'etalon-report/1' was expected"),
        (("targets", 0, "deadline_slo_met"), "yes", "'yes' is not of type 'boolean', 'null'"),
    ],
)
def test_broken_values_are_rejected(
    report: Report, path: tuple[str | int, ...], value: object, expected: str
) -> None:
    doc = copy.deepcopy(json.loads(render_json(report)))
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert expected in _errors(doc)


def test_a_missing_promised_key_is_rejected(report: Report) -> None:
    doc = json.loads(render_json(report))
    del doc["targets"][1]["fluent_token_rate"]
    assert "'fluent_token_rate' is a required property" in _errors(doc)


def test_schema_is_printed_by_the_command() -> None:
    result = CliRunner().invoke(app, ["report", "--schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads(json.dumps(REPORT_SCHEMA))
