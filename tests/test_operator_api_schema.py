"""Schema-driven fuzzing of the operator API (/api/v1/): no 5xx, no answer that contradicts the schema.

Runs as a superuser (every operation permitted), with a fresh database per example. make test runs
this file in one process (like the mini-program fuzz): xdist would run one case per operation.
"""

import os

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

pytestmark = pytest.mark.django_db


@pytest.fixture
def _keep_test_connection():
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def operator_token(db):
    user = get_user_model().objects.create_superuser("fuzz-admin", "fuzz@example.com", "pw-fuzz-123")
    return Token.objects.create(user=user).key


schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application()).include(
    path_regex="^/api/v1/"
)


@schema.parametrize()
@settings(max_examples=int(os.environ.get("API_FUZZ_EXAMPLES", "5")), deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_operator_api_conforms_to_its_schema(case, operator_token, _keep_test_connection):
    components = case.meta.components if case.meta else {}
    header = components.get(ParameterLocation.HEADER)
    headers = {} if header and header.mode == GenerationMode.NEGATIVE else {"Authorization": f"Token {operator_token}"}
    # The two promises: no 5xx, and every answer matches the schema. (Acceptance checks are left out:
    # business rules the schema cannot express make 400s of schema-valid bodies, and DRF's paginator
    # ignores a malformed page_size rather than refusing it.)
    case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])


def test_operator_api_workflows_conform_to_the_schema(operator_token, _keep_test_connection):
    """The stateful phase: sequences of calls linked by the ids one answer gives the next (create a
    segment, read it, snapshot it, list its members…), inferred by schemathesis from the schema."""
    headers = {"Authorization": f"Token {operator_token}"}

    class Workflow(schema.as_state_machine()):
        # Each scenario starts from the same database: a name taken by the previous scenario would
        # make a create fail in one run and pass in its replay, which hypothesis calls flaky.
        def setup(self):
            self.savepoint = transaction.savepoint()

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)

        def get_call_kwargs(self, case):
            return {"headers": headers}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance], transport_kwargs=kwargs
            )

    Workflow.run(
        settings=settings(
            max_examples=int(os.environ.get("API_FUZZ_WORKFLOWS", "10")),
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
    )
