"""Resource names (infra/names.py): every provider limit holds and names are unique, for any stack and endpoint.

Property-based (hypothesis) over Pulumi project and stack names and the endpoint names the config accepts; each
limit is checked both with names.py's own constants and with the provider rules the mock engine applies
(tests/infra/provider_rules.py), so the two cannot drift apart.
"""

from __future__ import annotations

import re

import provider_rules as rules
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from infra import names

# Pulumi: project and stack names are [A-Za-z0-9_.-]+ (stack names up to 100 characters).
PULUMI_NAME = st.from_regex(r"\A[A-Za-z0-9_.-]{1,100}\Z")
# The endpoint names the config accepts (smodels.config): a letter, then letters, digits, '-', not ending in '-'.
ENDPOINT = st.from_regex(r"\A[a-z](?:[a-z0-9-]{0,29}[a-z0-9])?\Z")
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _fits(typ: str, inputs: dict[str, object], name: str = "x") -> list[str]:
    return rules.check_resource(typ, name, inputs)


def _lambda(fn: str) -> dict[str, object]:
    return {
        "name": fn,
        "role": "arn:aws:iam::123456789012:role/r",
        "handler": "functions.aws.lambda_handler",
        "code": object(),
    }


@pytest.mark.slow
@SETTINGS
@given(project=PULUMI_NAME, stack=PULUMI_NAME, endpoint=ENDPOINT)
def test_every_name_fits_every_limit(project: str, stack: str, endpoint: str) -> None:
    n = names.stack_names(project, stack)
    assert len(n.prefix) <= names.PREFIX_MAX
    fn = n.function(endpoint)
    assert len(fn) <= names.GCF_FUNCTION_NAME_MAX <= names.LAMBDA_FUNCTION_NAME_MAX
    assert names.GCF_FUNCTION_NAME_RE.match(fn) and names.LAMBDA_FUNCTION_NAME_RE.match(fn)
    for account in (n.build_account_id(), n.runtime_account_id(endpoint)):
        assert names.SERVICE_ACCOUNT_ID_MIN <= len(account) <= names.SERVICE_ACCOUNT_ID_MAX
        assert names.SERVICE_ACCOUNT_ID_RE.match(account)
    assert len(n.display_name(f"{endpoint} runtime")) <= 100
    assert names.name_problems(project, stack, [endpoint], "serverless-models:endpoints") == []
    # The same limits as the provider rules the mock engine applies.
    assert _fits("aws:lambda/function:Function", _lambda(fn)) == []
    assert _fits("aws:cloudwatch/logGroup:LogGroup", {"name": n.log_group(endpoint), "retentionInDays": 14}) == []
    layer = {"layerName": n.layer(endpoint), "code": object(), "compatibleRuntimes": ["python3.13"]}
    assert _fits("aws:lambda/layerVersion:LayerVersion", layer) == []
    gcf = {"name": fn, "location": "us-central1", "buildConfig": {"runtime": "python313", "entryPoint": "pred"}}
    assert _fits("gcp:cloudfunctionsv2/function:Function", gcf) == []
    for account in (n.build_account_id(), n.runtime_account_id(endpoint), n.publisher_account_id()):
        assert _fits("gcp:serviceaccount/account:Account", {"accountId": account}) == []
    for pubsub in (n.refresh_topic(endpoint), n.refresh_subscription(endpoint)):  # refresh: pointer
        assert names.PUBSUB_NAME_MIN <= len(pubsub) <= names.PUBSUB_NAME_MAX and names.PUBSUB_NAME_RE.match(pubsub)
        assert _fits("gcp:pubsub/topic:Topic", {"name": pubsub}) == []


@pytest.mark.slow
@SETTINGS
@given(project=PULUMI_NAME, stack=PULUMI_NAME, endpoint=ENDPOINT)
def test_names_are_deterministic(project: str, stack: str, endpoint: str) -> None:
    a, b = names.stack_names(project, stack), names.stack_names(project, stack)
    assert (a.function(endpoint), a.runtime_account_id(endpoint), a.build_account_id()) == (
        b.function(endpoint),
        b.runtime_account_id(endpoint),
        b.build_account_id(),
    )


@pytest.mark.slow
@SETTINGS
@given(project=PULUMI_NAME, stacks=st.lists(PULUMI_NAME, min_size=2, max_size=2, unique=True), endpoint=ENDPOINT)
def test_two_stacks_never_share_a_name(project: str, stacks: list[str], endpoint: str) -> None:
    """Stacks of one project share the account and the GCP project: nothing named may be the same."""
    a, b = (names.stack_names(project, s) for s in stacks)
    assert a.prefix != b.prefix
    assert a.function(endpoint) != b.function(endpoint)
    assert a.log_group(endpoint) != b.log_group(endpoint)
    assert a.layer(endpoint) != b.layer(endpoint)
    assert a.runtime_account_id(endpoint) != b.runtime_account_id(endpoint)
    assert a.build_account_id() != b.build_account_id()
    assert a.publisher_account_id() != b.publisher_account_id()
    assert a.refresh_topic(endpoint) != b.refresh_topic(endpoint)
    assert a.refresh_subscription(endpoint) != b.refresh_subscription(endpoint)


@pytest.mark.slow
@SETTINGS
@given(project=PULUMI_NAME, stack=PULUMI_NAME, endpoints=st.lists(ENDPOINT, min_size=1, max_size=12, unique=True))
def test_one_stack_never_reuses_a_name(project: str, stack: str, endpoints: list[str]) -> None:
    n = names.stack_names(project, stack)
    functions = [n.function(e) for e in endpoints]
    accounts = [n.runtime_account_id(e) for e in endpoints] + [n.build_account_id(), n.publisher_account_id()]
    pubsub = [n.refresh_topic(e) for e in endpoints] + [n.refresh_subscription(e) for e in endpoints]
    assert len(set(functions)) == len(functions)
    assert len(set(accounts)) == len(accounts)  # endpoints named `build` or `publisher` included
    assert len(set(pubsub)) == len(pubsub)
    assert names.name_problems(project, stack, endpoints, "serverless-models:endpoints") == []


@pytest.mark.slow
@SETTINGS
@given(project=PULUMI_NAME, stack=PULUMI_NAME)
def test_an_endpoint_named_build_is_not_the_build_account(project: str, stack: str) -> None:
    n = names.stack_names(project, stack)
    assert n.runtime_account_id("build") != n.build_account_id()


@pytest.mark.slow
@SETTINGS
@given(stack=PULUMI_NAME, suffix=st.sampled_from(["v2", "v3", "x", "-1", "_", "."]))
def test_stacks_differing_past_any_cut_differ(stack: str, suffix: str) -> None:
    """A long shared start (cut from the readable part of the prefix) never makes two prefixes equal."""
    long_stack = "feature-branch-login-flow-" + stack
    assume(long_stack != long_stack + suffix)
    a = names.stack_names("serverless-models", long_stack)
    b = names.stack_names("serverless-models", long_stack + suffix)
    assert a.prefix != b.prefix


def test_the_issue_example_feature_branch_v2_and_v3() -> None:
    """The stacks of issue 13 with a 31-character endpoint: every name in its limit, none shared."""
    ep = "a" * 31
    v2 = names.stack_names("serverless-models", "feature-branch-login-flow-v2")
    v3 = names.stack_names("serverless-models", "feature-branch-login-flow-v3")
    for n in (v2, v3):
        assert len(n.function(ep)) <= 63 and names.GCF_FUNCTION_NAME_RE.match(n.function(ep))
        assert len(n.runtime_account_id(ep)) <= 30
    assert v2.function(ep) != v3.function(ep)
    assert v2.runtime_account_id(ep) != v3.runtime_account_id(ep)
    assert v2.build_account_id() != v3.build_account_id()
    # Readable: the project's initials and the stack's start are in the name.
    assert v2.function(ep).startswith("sm-feature-branch-")


def test_a_name_the_clouds_refuse_is_reported_with_its_key() -> None:
    """An endpoint ending in '-' makes a function name Cloud Functions refuses: reported, naming the key."""
    problems = names.name_problems("serverless-models", "dev", ["pred-"], "serverless-models:endpoints")
    assert problems and problems[0].startswith("serverless-models:endpoints.pred-: Cloud Functions name")


def test_prefix_budget_is_derived_from_the_tightest_limit() -> None:
    assert names.PREFIX_MAX + 1 + names.ENDPOINT_NAME_MAX == min(
        names.LAMBDA_FUNCTION_NAME_MAX, names.GCF_FUNCTION_NAME_MAX
    )
    assert re.fullmatch(r"sm-dev-[0-9a-f]{8}", names.stack_names("serverless-models", "dev").prefix)
