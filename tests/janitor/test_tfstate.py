"""ephemera.janitor.tfstate.count_state_resources: the one count of a state's resources (the
janitor Lambda's S3 states and the local backend's state files)."""

from __future__ import annotations

import pytest

from ephemera.janitor.tfstate import count_state_resources

STATE = {
    "version": 4,
    "resources": [
        {"mode": "managed", "type": "aws_s3_bucket", "name": "a", "instances": [{}]},
        {"mode": "managed", "type": "aws_sqs_queue", "name": "q", "instances": [{}, {}, {}]},
        {"mode": "data", "type": "aws_iam_policy_document", "name": "d", "instances": [{}]},
        {"module": "module.m", "mode": "managed", "type": "terraform_data", "name": "x"},
    ],
}


def test_counts_managed_instances_only() -> None:
    assert count_state_resources(STATE) == 4


@pytest.mark.parametrize("state", [{}, {"version": 4, "resources": []}, {"resources": None}])
def test_an_empty_state_has_none(state: dict) -> None:
    assert count_state_resources(state) == 0


@pytest.mark.parametrize("state", [[], "x", {"resources": {"a": 1}}])
def test_not_a_state_is_a_value_error(state: object) -> None:
    with pytest.raises(ValueError):
        count_state_resources(state)  # type: ignore[arg-type]


def test_state_addresses_name_instances_as_terraform_does_and_no_values() -> None:
    import json

    from ephemera.janitor.tfstate import state_addresses

    state = {
        "version": 4,
        "resources": [
            {
                "mode": "managed",
                "type": "aws_s3_bucket",
                "name": "a",
                "instances": [{"attributes": {"bucket": "secret-name"}}],
            },
            {
                "module": "module.m[0]",
                "mode": "managed",
                "type": "aws_sqs_queue",
                "name": "q",
                "instances": [{"index_key": 0}, {"index_key": "blue"}],
            },
            {"mode": "data", "type": "aws_caller_identity", "name": "me", "instances": [{}]},
        ],
    }
    found = state_addresses(json.dumps(state).encode())
    assert found == [
        {"address": "aws_s3_bucket.a", "mode": "managed", "type": "aws_s3_bucket"},
        {"address": "module.m[0].aws_sqs_queue.q[0]", "mode": "managed", "type": "aws_sqs_queue"},
        {
            "address": 'module.m[0].aws_sqs_queue.q["blue"]',
            "mode": "managed",
            "type": "aws_sqs_queue",
        },
        {"address": "data.aws_caller_identity.me", "mode": "data", "type": "aws_caller_identity"},
    ]
    assert "secret-name" not in json.dumps(found)
    assert state_addresses(b"") is None and state_addresses(b"[]") is None
