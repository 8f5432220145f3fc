"""The Prometheus scrape (`GET /metrics` at the server root, not under /v1), read with the
parser of the official Python client (`prometheus_client`), the way a scraper sees it.

Run against any server with `python -m pytest tests/sdk/python`, given
  OPENAI_BASE_URL   the base URL including /v1, e.g. http://127.0.0.1:7860/v1; /metrics is
                    looked for at its root. Without it this module is skipped.
  OPENAI_API_KEY    a key the server accepts (default sk-test-123); /metrics needs it too
scripts/run-sdk-tests.sh starts a local-runner (with --api-keys) and sets these.

Which parser: the body is OpenMetrics 1.0 text (`# UNIT` lines, counter families declared
without `_total` while their samples carry it, a final `# EOF`), served as
`application/openmetrics-text; version=1.0.0`. `prometheus_client.openmetrics.parser` parses
it as it is, types included, and insists on the `# EOF`; that is what is used here (the older
0.0.4 text parser would file every `speech_x_total` sample under a separate untyped family).
"""

from __future__ import annotations

import json
import math
import os
import urllib.error
import urllib.request
import uuid
from collections import defaultdict
from urllib.parse import urlsplit, urlunsplit

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

BASE_URL = os.environ.get("OPENAI_BASE_URL", "").rstrip("/")
if not BASE_URL:
    pytest.skip(
        "OPENAI_BASE_URL is not set (e.g. http://127.0.0.1:7860/v1); "
        "run scripts/run-sdk-tests.sh or export it",
        allow_module_level=True,
    )
API_KEY = os.environ.get("OPENAI_API_KEY", "sk-test-123")
TIMEOUT_S = 120.0

# The server root: the base URL without its path (http://host:port/v1 -> http://host:port).
_parts = urlsplit(BASE_URL)
ROOT_URL = urlunsplit((_parts.scheme, _parts.netloc, "", "", "")).rstrip("/")


def request(
    method: str, url: str, body: dict | None = None, key: str | None = API_KEY
) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP exchange; returns status, headers (lower-case names) and the whole body."""
    headers = {}
    data = None
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as response:
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def scrape() -> tuple[str, dict]:
    """The exposition and its families by name (counters without `_total`, as parsed)."""
    status, headers, body = request("GET", f"{ROOT_URL}/metrics")
    assert status == 200, (status, body[:500])
    content_type = headers.get("content-type", "")
    assert content_type.startswith("application/openmetrics-text; version=1.0.0"), content_type
    text = body.decode("utf-8")
    families = {family.name: family for family in text_string_to_metric_families(text)}
    return text, families


def sample_sum(families: dict, family: str, sample: str, **labels: str) -> float:
    """The sum of `sample`'s values in `family` over the series that carry all `labels`."""
    if family not in families:
        return 0.0
    return sum(
        s.value
        for s in families[family].samples
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    )


def unmatched_404s(families: dict) -> float:
    return sample_sum(
        families,
        "speech_http_requests",
        "speech_http_requests_total",
        route="unmatched",
        status="404",
    )


def test_scrape_after_speech_and_models_parses_and_adds_up() -> None:
    status, _, audio = request(
        "POST",
        f"{BASE_URL}/audio/speech",
        {"model": "tts-1", "input": "Metrics test.", "voice": "alloy", "response_format": "wav"},
    )
    assert status == 200, audio[:500]
    assert audio[:4] == b"RIFF", audio[:16]
    for _ in range(2):
        status, _, body = request("GET", f"{BASE_URL}/models")
        assert status == 200, body[:500]

    text, families = scrape()
    assert text.rstrip("\n").endswith("# EOF")

    expected_types = {
        "speech_http_requests": "counter",
        "speech_http_request_duration_seconds": "histogram",
        "speech_time_to_first_audio_seconds": "histogram",
        "speech_generation_queue_depth": "gauge",
    }
    for name, kind in expected_types.items():
        assert name in families, (name, sorted(families))
        assert families[name].type == kind, (name, families[name].type)

    models = sample_sum(
        families,
        "speech_http_requests",
        "speech_http_requests_total",
        route="/v1/models",
        method="GET",
        status="200",
    )
    assert models >= 2, models
    generations = sample_sum(
        families, "speech_generations", "speech_generations_total", kind="speech", engine="piper"
    )
    assert generations >= 1, generations

    histograms = [f for f in families.values() if f.type == "histogram"]
    assert histograms
    for family in histograms:
        series: dict[tuple, list] = defaultdict(list)
        counts: dict[tuple, float] = {}
        for s in family.samples:
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            if s.name == f"{family.name}_bucket":
                series[key].append((float(s.labels["le"]), s.labels["le"], s.value))
            elif s.name == f"{family.name}_count":
                counts[key] = s.value
        assert set(series) == set(counts), (family.name, set(series) ^ set(counts))
        for key, buckets in series.items():
            bounds = [b[0] for b in buckets]
            values = [b[2] for b in buckets]
            where = (family.name, key, buckets)
            assert all(a < b for a, b in zip(bounds, bounds[1:])), where
            assert all(a <= b for a, b in zip(values, values[1:])), where
            assert buckets[-1][1] == "+Inf", where
            assert buckets[-1][2] == counts[key], (where, counts[key])

    routes = set()
    for family in families.values():
        for s in family.samples:
            assert not math.isnan(s.value), s
            if "route" in s.labels:
                routes.add(s.labels["route"])
    assert routes
    for route in routes:
        assert route == "unmatched" or (route.startswith("/") and "?" not in route), route


def test_unknown_paths_share_the_unmatched_route() -> None:
    _, before = scrape()
    for _ in range(5):
        status, _, body = request("GET", f"{ROOT_URL}/nope-{uuid.uuid4()}")
        assert status == 404, (status, body[:500])
    text, after = scrape()
    assert unmatched_404s(after) - unmatched_404s(before) == 5
    assert "nope-" not in text
    for family in after.values():
        for s in family.samples:
            assert not any("nope-" in v for v in s.labels.values()), s


def test_metrics_needs_the_key() -> None:
    status, _, body = request("GET", f"{ROOT_URL}/metrics", key=None)
    assert status == 401, (status, body[:500])
