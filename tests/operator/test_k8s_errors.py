"""The API client's errors: httpx's never leave the k8s package, callers see the operator's own."""

from __future__ import annotations

import httpx
import pytest

from ragagent_operator import k8s


def _api(handler: httpx.MockTransport) -> k8s.Api:
    return k8s.Api(http=httpx.AsyncClient(transport=handler, base_url="https://apiserver"))


def _answer(status: int, body: dict[str, object]) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, json=body))


async def test_a_request_that_gets_no_answer_raises_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(k8s.Unreachable, match="connection refused") as caught:
        await k8s.get(_api(httpx.MockTransport(refuse)), "v1", "Secret", "team", "s")
    assert isinstance(caught.value, k8s.KubeError)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


async def test_a_refusal_raises_api_error_with_the_servers_reason() -> None:
    api = _api(_answer(403, {"message": "secrets is forbidden"}))
    with pytest.raises(k8s.ApiError, match="403: secrets is forbidden") as caught:
        await k8s.get(api, "v1", "Secret", "team", "s")
    assert caught.value.status == 403
    assert isinstance(caught.value, k8s.KubeError)


async def test_a_missing_object_is_none() -> None:
    assert await k8s.get(_api(_answer(404, {})), "v1", "Secret", "team", "s") is None
