"""schemathesis against the studio's generated /openapi.json: requests drawn from the schema (a bounded
number per route, derandomized) never get a 5xx, and every response keeps to the schema it declares
(status code, content type, body). The studio runs with small limits so generated jobs stay cheap."""

from __future__ import annotations

import shutil

import pytest

from aigc.serve.config import Limits

schemathesis = pytest.importorskip("schemathesis", reason="needs schemathesis (pip install schemathesis)")
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def small_studio(models_dir, tmp_path_factory):
    from serve.conftest import start

    root = tmp_path_factory.mktemp("schema-models")
    for name in ("image-gen", "text"):
        shutil.copytree(models_dir / name, root / name, ignore=shutil.ignore_patterns(".studio"))
    # generated jobs must stay tiny: 3 training steps, 2 jobs per user, small generate requests
    server = start(root, limits=Limits(train_steps=3, steps=4, samples=4, tokens=8, jobs_per_user=2,
                                       request_bytes=64 * 1024))
    yield server
    server.stop()


def test_every_route_keeps_to_its_schema_and_never_answers_5xx(small_studio):
    schema = schemathesis.openapi.from_url(small_studio.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    seen: dict[str, set[int]] = {}
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=6, deadline=None, database=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def check(case):
            response = case.call_and_validate(base_url=small_studio.url, checks=CHECKS, timeout=60)
            seen.setdefault(case.operation.label, set()).add(response.status_code)

        check()
    assert len(seen) == len(operations)  # every route was called
    codes = set().union(*seen.values())
    assert any(200 <= c < 300 for c in codes) and any(400 <= c < 500 for c in codes), seen
