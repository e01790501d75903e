"""LiteLLM generic API callback: StandardLoggingPayload records over real HTTP into the store."""

from __future__ import annotations

import json

import pytest

from tests.exporters.test_gateway_helpers import post, start_gateway, stop_gateway

PATH = "/litellm/v1/logs"
SECRET = "s3cret-token"


def payload(n: int, **over) -> dict:
    """A StandardLoggingPayload as LiteLLM's proxy logs it (the fields infermeter reads, and others)."""
    record = {
        "id": f"chatcmpl-{n}",
        "trace_id": f"trace-{n}",
        "call_type": "acompletion",
        "stream": True,
        "response_cost": 0.00042,
        "status": "success",
        "custom_llm_provider": "hosted_vllm",
        "total_tokens": 130,
        "prompt_tokens": 100,
        "completion_tokens": 30,
        "startTime": 1790000000.25 + n,
        "endTime": 1790000002.75 + n,
        "completionStartTime": 1790000000.5 + n,
        "response_time": 2.5,
        "model": "hosted_vllm/meta-llama/Llama-3.1-70B-Instruct",
        "model_id": "b7f3c2",
        "model_group": "llama-3-70b",
        "api_base": "http://vllm-llama:8000/v1",
        "metadata": {
            "user_api_key_hash": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
            "user_api_key_alias": "acme-prod",
            "user_api_key_team_id": "team-1234",
            "user_api_key_team_alias": "acme",
            "user_api_key_user_id": "u-1",
            "usage_object": {"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": 64}},
        },
        "cache_hit": None,
        "request_tags": [],
        "end_user": None,
        "messages": [{"role": "user", "content": "a confidential prompt"}],
        "response": {"choices": [{"message": {"content": "a confidential answer"}}]},
        "error_str": None,
        "error_information": None,
        "model_parameters": {"temperature": 0.2},
        "hidden_params": {"model_id": "b7f3c2", "api_base": "http://vllm-llama:8000/v1"},
    }
    record.update(over)
    return record


@pytest.fixture
def gateway(store, settings_for):
    gw = start_gateway(store, settings_for, litellm={"enabled": True, "secret": SECRET}, default_deployment="llama")
    yield gw
    stop_gateway(gw)


def send(gw, body: bytes, ctype: str = "application/json", token: str = SECRET, **kw):
    return post(gw.url + PATH, body, ctype, headers={"Authorization": f"Bearer {token}"}, **kw)


def test_json_array_batch(gateway):
    failure = payload(
        2, status="failure", prompt_tokens=80, completion_tokens=0, stream=False,
        error_information={"error_code": "429", "error_class": "RateLimitError", "llm_provider": "hosted_vllm"},
    )
    failure["metadata"] = {**failure["metadata"], "usage_object": None}
    no_team = payload(3, metadata={"user_api_key_hash": "abc"}, model_group=None)
    status, _, answer = send(gateway, json.dumps([payload(1), failure, no_team]).encode(), gzip_body=True)
    assert status == 200
    answer = json.loads(answer)
    assert (answer["accepted"], answer["quarantined"]) == (2, 1)
    assert "tenant: Field required (looked in metadata.user_api_key_team_alias" in answer["errors"][0]
    gateway.flush()
    rows = gateway.store.query_rows(
        "SELECT event_id, tenant, model, api_key_id, deployment, input_tokens, cached_input_tokens, output_tokens, "
        "ttft_ms, duration_ms, status_code, error_type, source, attributes['litellm.key_alias'] "
        "FROM usage FINAL ORDER BY event_id"
    )
    key = "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"
    assert rows == [
        ("chatcmpl-1", "acme", "llama-3-70b", key, "llama", 100, 64, 30, 250.0, 2500.0, 200, "", "litellm", "acme-prod"),
        ("chatcmpl-2", "acme", "llama-3-70b", key, "llama", 80, 0, 0, None, 2500.0, 429, "RateLimitError", "litellm",
         "acme-prod"),
    ]
    ts = gateway.store.query_scalar("SELECT toUnixTimestamp64Milli(ts) FROM usage FINAL WHERE event_id = 'chatcmpl-1'")
    assert ts == 1790000001250
    (payload_text,) = gateway.store.query_rows("SELECT payload FROM quarantine FINAL")[0]
    assert json.loads(payload_text)["id"] == "chatcmpl-3"
    # Prompts and answers are stored nowhere, not even in quarantine.
    for table in ("usage", "quarantine"):
        assert gateway.store.query_scalar(f"SELECT count() FROM {table} WHERE toString(tuple(*)) LIKE '%confidential%'") == 0
    assert gateway.metric("infermeter_gateway_events_accepted_total", input="litellm") == 2
    assert gateway.metric("infermeter_gateway_requests_total", tenant="acme", model="llama-3-70b", status_class="4xx") == 1


def test_single_and_ndjson_formats(gateway):
    assert send(gateway, json.dumps(payload(10)).encode())[0] == 200
    lines = "\n".join(json.dumps(payload(n)) for n in (11, 12)) + "\n{broken\n"
    status, _, answer = send(gateway, lines.encode(), "application/x-ndjson")
    assert status == 200
    assert json.loads(answer)["quarantined"] == 1
    gateway.flush()
    assert gateway.store.query_scalar("SELECT groupArray(event_id) FROM (SELECT event_id FROM usage FINAL ORDER BY event_id)") == [
        "chatcmpl-10", "chatcmpl-11", "chatcmpl-12"
    ]
    assert gateway.store.query_scalar("SELECT reason FROM quarantine FINAL").startswith("line 3: invalid JSON")


def test_retried_batch_is_counted_once(gateway):
    body = json.dumps([payload(n) for n in range(20, 25)]).encode()
    for _ in range(2):
        assert send(gateway, body)[0] == 200
        gateway.flush()
    assert gateway.store.query_scalar("SELECT count() FROM usage FINAL") == 5
    assert gateway.metric("infermeter_gateway_requests_total", tenant="acme", model="llama-3-70b", status_class="2xx") == 5


@pytest.mark.parametrize(("token", "status"), [("wrong", 401), (SECRET, 200)])
def test_shared_secret(gateway, token, status):
    assert send(gateway, json.dumps(payload(30)).encode(), token=token)[0] == status
    if status == 401:
        assert gateway.metric("infermeter_gateway_http_rejected_total", input="litellm", reason="unauthorized") == 1


def test_not_json_is_refused(gateway):
    status, _, answer = send(gateway, b"not json at all")
    assert status == 400 and "invalid JSON" in json.loads(answer)["error"]


def test_disabled_by_default(store, settings_for):
    gw = start_gateway(store, settings_for)
    try:
        assert post(gw.url + PATH, b"[]", "application/json")[0] in (404, 405)
    finally:
        stop_gateway(gw)
