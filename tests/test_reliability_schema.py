"""The API against its own OpenAPI description (drf-spectacular), fuzzed with schemathesis.

Every operation, for an account of every role (token authentication), with a fixed seed and a few
generated requests per operation (valid ones and deliberately invalid ones): never a 500. The status
codes, content types and bodies also match the spec, except for the operations in NOT_YET_CONFORMANT.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tasks.models import Role
from tests.factories import UserFactory

EXAMPLES = 3  # per operation and generation mode; every example is sent once per role
ROLE_DIVISIONS = {
    Role.DUTY_OFFICER: "460105",
    Role.TEAM_LEADER: "460105001",
    Role.FIELD_STAFF: "460105001001",
    Role.CDC_EXPERT: "460105",
    Role.COMMANDER: "4601",
    Role.AUDITOR: "460105",
    Role.ADMIN: "46",
}
# Operations whose responses are checked against the spec as well (status code, content type, body).
# Operations whose answers do not match the spec yet (checked for 500s only); every other operation's
# status codes, content types and bodies are checked against the spec.
NOT_YET_CONFORMANT: set[str] = set()


def _schema() -> schemathesis.openapi.OpenApiSchema:
    from drf_spectacular.generators import SchemaGenerator

    raw = json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))
    return schemathesis.openapi.from_dict(raw)


SCHEMA = _schema()
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@pytest.fixture
def tokens(hainan, settings):
    from django.contrib.contenttypes.models import ContentType
    from rest_framework.authtoken.models import Token

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # 7 accounts per test
    ContentType.objects.clear_cache()  # ids cached by a test whose transaction rolled back

    return {
        role.value: Token.objects.create(
            user=UserFactory(username=f"fuzz-{role.value}", role=role, division_id=ROLE_DIVISIONS[role])
        ).key
        for role in Role
    }


@pytest.fixture
def wsgi_app():
    """The real WSGI application, keeping the test's database connection (and transaction) open across
    requests, as Django's test client does."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from tracing_center.wsgi import application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield application
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.django_db
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_the_api_never_answers_500_and_matches_its_spec(operation, tokens, wsgi_app):
    problems: list[str] = []
    checks = [status_code_conformance, content_type_conformance, response_schema_conformance]
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=2 * EXAMPLES,
        derandomize=True,  # the same requests every run
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def fuzz(case):
        for role, token in tokens.items():
            response = case.call(app=wsgi_app, headers={"Authorization": f"Token {token}"})
            if response.status_code >= 500:
                problems.append(f"{role}: {response.status_code} for {case.as_curl_command()}")
            elif operation.label not in NOT_YET_CONFORMANT:
                try:
                    case.validate_response(response, checks=checks)
                except Exception as exc:  # schemathesis raises a group of check failures
                    problems.append(f"{role}: {exc}"[:2000])

    fuzz()
    assert not problems, "\n".join(problems[:10])
