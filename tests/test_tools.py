from __future__ import annotations

import json
from pathlib import Path

from agent.context import RepoTools
from agent.tools import FINISH, PROPOSE, STEERING_SPECS, ToolBox, inline_refs


def _walk(node: object) -> list[str]:
    if isinstance(node, dict):
        return [k for k in node if k in {"$ref", "$defs"}] + [
            x for v in node.values() for x in _walk(v)
        ]
    if isinstance(node, list):
        return [x for v in node for x in _walk(v)]
    return []


def test_steering_tool_schemas_are_self_contained() -> None:
    names = [s["name"] for s in STEERING_SPECS]
    assert names == [PROPOSE, FINISH]
    for spec in STEERING_SPECS:
        assert _walk(spec["input_schema"]) == []
        json.dumps(spec)  # serialisable as sent to the API
    files = STEERING_SPECS[0]["input_schema"]["properties"]["files"]
    assert files["items"]["properties"]["tests"]["items"]["properties"]["expectation"]["enum"] == [
        "pass",
        "bug",
    ]


def test_inline_refs_resolves_nested_definitions() -> None:
    schema = {
        "$defs": {
            "A": {"type": "object", "properties": {"b": {"$ref": "#/$defs/B"}}},
            "B": {"type": "integer"},
        },
        "properties": {"a": {"$ref": "#/$defs/A"}},
    }
    assert inline_refs(schema) == {
        "properties": {"a": {"type": "object", "properties": {"b": {"type": "integer"}}}}
    }


def test_toolbox_bounds_reading(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("x = 1\n")
    box = ToolBox(RepoTools(tmp_path), max_reads=2)
    assert {s["name"] for s in box.specs()} >= {
        "read_file",
        "search_code",
        "get_symbol",
        PROPOSE,
        FINISH,
    }
    assert box.dispatch("read_file", {"path": "m.py"})[1] is False
    assert box.dispatch("read_file", {"path": "m.py"})[1] is False
    text, is_error = box.dispatch("read_file", {"path": "m.py"})
    assert is_error and "limit" in text
