from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest

from ephemera.config import yamlload
from ephemera.errors import EXIT_INVALID, ValidationError
from tests.conftest import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "config" / "environments"


def problems_of(text: str, display: str = "f.yaml") -> list[str]:
    with pytest.raises(ValidationError) as caught:
        yamlload.parse(text, display)
    assert caught.value.exit_code == EXIT_INVALID
    return [str(p) for p in caught.value.problems]


def load_problems(path: Path, display: str = "f.yaml") -> list[str]:
    with pytest.raises(ValidationError) as caught:
        yamlload.load(path, display)
    return [str(p) for p in caught.value.problems]


def test_parse_records_the_line_of_every_key_and_item() -> None:
    doc = yamlload.parse(
        "# comment\n"
        "name: x\n"
        "policy:\n"
        "  skip:\n"
        "    - id: A\n"
        "      reason: because\n"
        "    - {id: B}\n"
        "tags: {team: t}\n",
        "f.yaml",
    )
    assert doc.data == {
        "name": "x",
        "policy": {"skip": [{"id": "A", "reason": "because"}, {"id": "B"}]},
        "tags": {"team": "t"},
    }
    assert doc.lines[()] == 2
    assert doc.line_of(("name",)) == 2
    assert doc.line_of(("policy", "skip")) == 4
    assert doc.line_of(("policy", "skip", 0)) == 5
    assert doc.line_of(("policy", "skip", 0, "reason")) == 6
    assert doc.line_of(("policy", "skip", 1, "id")) == 7
    assert doc.line_of(("tags", "team")) == 8
    assert doc.line_of(("owner",)) is None


def test_closest_line_falls_back_to_the_nearest_parent() -> None:
    doc = yamlload.parse("a: 1\nvariables:\n  port: 1\n", "f.yaml")
    assert doc.closest_line(("variables", "missing")) == 2
    assert doc.closest_line(("variables", "port", "deeper")) == 3
    assert doc.closest_line(("nothing", "here")) == 1
    assert str(doc.problem(("variables", "x"), "boom")) == "f.yaml:2: variables.x: boom"


def test_format_path() -> None:
    assert yamlload.format_path(("policy", "skip", 0, "reason")) == "policy.skip[0].reason"
    assert yamlload.format_path(("variables", "listeners", 1, 2)) == "variables.listeners[1][2]"
    assert yamlload.format_path(()) == ""


def test_scalars_keep_yaml_types() -> None:
    doc = yamlload.parse("a: 1\nb: 1.5\nc: true\nd: null\ne: '1'\nf: 2024-01-02\n", "f.yaml")
    assert doc.data == {"a": 1, "b": 1.5, "c": True, "d": None, "e": "1", "f": date(2024, 1, 2)}


def test_duplicate_keys_are_all_reported() -> None:
    assert problems_of("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n") == [
        "f.yaml:4: b.c: duplicate key (first defined on line 3)",
        "f.yaml:5: a: duplicate key (first defined on line 1)",
    ]


def test_anchors_are_refused() -> None:
    assert problems_of("a: &x 1\nb: 2\n") == [
        "f.yaml:1: (document): YAML anchors (&x) are not allowed; write the value out"
    ]


def test_aliases_are_refused() -> None:
    # An alias to an undefined anchor: refused as an alias, not as a composer error.
    assert problems_of("a: 1\nb: *x\n") == [
        "f.yaml:2: (document): YAML aliases (*x) are not allowed; write the value out"
    ]


def test_billion_laughs_is_refused_before_expansion() -> None:
    started = time.perf_counter()
    problems = load_problems(FIXTURES / "alias-bomb.yaml")
    assert time.perf_counter() - started < 1.0
    assert problems == [
        "f.yaml:1: (document): YAML anchors (&a) are not allowed; write the value out"
    ]


def test_merge_keys_are_refused() -> None:
    assert problems_of("base: {a: 1}\nother:\n  <<: {a: 2}\n") == [
        "f.yaml:3: other: YAML merge keys (<<) are not allowed; write the keys out"
    ]


def test_keys_must_be_strings() -> None:
    assert problems_of("1: a\ntags:\n  true: b\n? [x]\n: c\n") == [
        "f.yaml:1: (document): key '1' is not a string; quote it",
        "f.yaml:3: tags: key 'true' is not a string; quote it",
        "f.yaml:4: (document): a list or mapping as a key is not allowed",
    ]


def test_tags_other_than_the_core_ones_are_refused() -> None:
    assert problems_of("a: !!python/object/apply:os.system [ls]\nb: !custom x\nc: !!set {x}\n") == [
        "f.yaml:1: a: YAML tag '!!python/object/apply:os.system' is not allowed",
        "f.yaml:2: b: YAML tag '!custom' is not allowed",
        "f.yaml:3: c: YAML tag '!!set' is not allowed",
    ]


def test_explicit_core_tags_are_fine() -> None:
    assert yamlload.parse("a: !!str 8080\n", "f.yaml").data == {"a": "8080"}


def test_more_than_one_document_is_refused() -> None:
    assert load_problems(FIXTURES / "multi-doc.yaml") == [
        "f.yaml:3: (document): more than one YAML document (a second '---'); "
        "write one environment per file"
    ]


def test_syntax_errors_name_their_line() -> None:
    assert load_problems(FIXTURES / "syntax-error.yaml") == [
        "f.yaml:4: (document): YAML syntax error: while parsing a flow sequence started on "
        "line 3, did not find expected ',' or ']'"
    ]


def test_bad_indentation_is_a_syntax_error() -> None:
    [problem] = problems_of("a:\n  b: 1\n c: 2\n")
    assert problem.startswith("f.yaml:3: (document): YAML syntax error: ")


def test_a_non_mapping_document_is_refused() -> None:
    assert load_problems(FIXTURES / "not-mapping.yaml") == [
        "f.yaml:1: (document): expected a mapping at the top level, got a list"
    ]


def test_a_scalar_document_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("# nothing but\njust text\n")
    assert load_problems(path) == [
        "f.yaml:2: (document): expected a mapping at the top level, got a string"
    ]


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("# only a comment\n")
    assert load_problems(path) == [
        "f.yaml:1: (document): the file is empty; expected a mapping of keys like name, stack, ttl"
    ]


def test_a_non_mapping_is_fine_when_not_required(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("[1, 2]\n")
    assert yamlload.load(path, require_mapping=False).data == [1, 2]


def test_files_over_256_kib_are_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    # Not even valid YAML: the size is checked before the parser sees a byte.
    path.write_bytes(b"a: [" * (65536 + 1))
    assert load_problems(path) == [
        "f.yaml:1: (document): file is 262148 bytes; the limit is 262144 bytes (256 KiB)"
    ]


def test_a_file_of_exactly_256_kib_is_read(tmp_path: Path) -> None:
    path = tmp_path / "edge.yaml"
    head = b"a: 1\n"
    path.write_bytes(head + b"#" * (yamlload.MAX_BYTES - len(head) - 1) + b"\n")
    assert yamlload.load(path).data == {"a": 1}


def test_invalid_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"a: 1\nb: \xff\xfe\n")
    assert load_problems(path) == ["f.yaml:2: (document): not valid UTF-8 text"]


def test_a_missing_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    assert load_problems(tmp_path / "nope.yaml") == ["f.yaml:1: (document): file not found"]


def test_deep_nesting_is_refused() -> None:
    assert problems_of("a: " + "[" * 200 + "]" * 200 + "\n") == [
        f"f.yaml:1: (document): nested more than {yamlload.MAX_DEPTH} levels deep"
    ]


def test_type_names() -> None:
    assert [yamlload.type_name(v) for v in ("x", 1, 1.5, True, None, [], {})] == [
        "string",
        "number",
        "number",
        "bool",
        "null",
        "list",
        "mapping",
    ]
