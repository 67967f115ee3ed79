import pytest

from ephemera.terraform.hcl import literal, quote


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (2.5, "2.5"),
        ("plain", '"plain"'),
        ('quote " and \\ backslash', '"quote \\" and \\\\ backslash"'),
        ("line\nbreak\ttab\r", '"line\\nbreak\\ttab\\r"'),
        ("bell\x07", '"bell\\u0007"'),
        ('${file("/etc/passwd")}', '"$${file(\\"/etc/passwd\\")}"'),
        ("%{ if true }x%{ endif }", '"%%{ if true }x%%{ endif }"'),
        ("$(touch /tmp/x)", '"$(touch /tmp/x)"'),
        ("lone $ and % signs", '"lone $ and % signs"'),
        ([], "[]"),
        ({}, "{}"),
    ],
)
def test_scalars_and_empties(value, expected):
    assert literal(value) == expected


def test_nested_maps_and_lists_are_indented():
    assert literal({"a": [1, {"b": "x"}], "c d": {}}) == (
        '{\n  "a" = [\n    1,\n    {\n      "b" = "x"\n    },\n  ]\n  "c d" = {}\n}'
    )


def test_map_keys_are_escaped_like_values():
    assert literal({"${k}": 1}) == '{\n  "$${k}" = 1\n}'


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_numbers_are_refused(value):
    with pytest.raises(ValueError, match="HCL number"):
        literal(value)


def test_unsupported_types_are_refused():
    with pytest.raises(TypeError, match="set"):
        literal({1, 2})


def test_quote_is_a_string_literal():
    assert quote("a") == '"a"'
