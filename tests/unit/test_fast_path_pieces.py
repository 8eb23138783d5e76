"""The pieces the gateway's fast path reads and answers a call with, against Starlette's own.

The fast path (gateway/fast_path.py) reads the path, query, client address and body of a
call without building Starlette's Request, and sends answers without its Response; each
piece must give exactly what Starlette would. The path it forwards is the one exception:
both paths encode it again with the same function. (The whole fast path against a twin gateway
without it: tests/integration/test_gateway_fast_path.py.)
"""

from __future__ import annotations

from urllib.parse import unquote

import httpx
import pytest
from starlette.datastructures import URL
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope

from gateway.deps import client_ip, client_ip_of
from gateway.proxy import Answer, read_body, url_path_and_query

PEER = ("203.0.113.7", 40000)


def _scope(
    path: str, query: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None
) -> Scope:
    return {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "query_string": query,
        "headers": headers if headers is not None else [(b"host", b"gateway")],
        "server": ("127.0.0.1", 8000),
        "client": PEER,
    }


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/v1/requests/abc", b""),
        ("/v1/requests/abc", b"a=1&b=%20"),
        ("/v1/requests/a b", b""),
        ("/v1/requests/a?b", b"c=1"),
        ("/v1/requests/a#b", b""),
        ("/v1/requests/a\\b", b""),
        ("/v1/requests/a\tb", b""),
        ("/v1/requests/a\nb", b""),
        ("/v1/requests/a%b", b""),
        ("/v1/requests/\x16\x7f\x00", b""),  # schemathesis found these answered with a 500
        ("/v1/requests/^\x9b\U000748e7,¾", b""),
        ("/v1/requests/%2F", b"x=%23"),
        ("/v1/requests", b"a=1#frag"),
        ("/v1/requests/طلب", "ق=1".encode()),
    ],
)
def test_the_path_goes_on_encoded_so_the_upstream_decodes_the_same_path(
    path: str, query: bytes
) -> None:
    forwarded, forwarded_query = url_path_and_query(_scope(path, query))
    assert unquote(forwarded) == path
    assert forwarded.isascii()
    assert forwarded.isprintable()
    assert " " not in forwarded
    assert httpx.URL(f"http://upstream{forwarded}").path == path
    assert forwarded_query == query.decode()


def test_a_query_that_is_not_utf8_fails_as_in_starlette() -> None:
    scope = _scope("/v1/requests", b"a=\xff")
    with pytest.raises(UnicodeDecodeError):
        URL(scope=scope)
    with pytest.raises(UnicodeDecodeError):
        url_path_and_query(scope)


@pytest.mark.parametrize(
    ("forwarded_for", "hops"),
    [
        ("", 0),
        ("", 1),
        ("1.1.1.1, 2.2.2.2", 1),
        ("1.1.1.1, 2.2.2.2", 2),
        ("1.1.1.1", 3),
        (" , ", 1),
    ],
)
def test_the_client_address_is_read_alike(forwarded_for: str, hops: int) -> None:
    headers = [(b"x-forwarded-for", forwarded_for.encode()), (b"x-forwarded-for", b"9.9.9.9")]
    for scope in (_scope("/", headers=headers), {**_scope("/", headers=headers), "client": None}):
        assert client_ip_of(scope, hops) == client_ip(Request(scope), hops)


@pytest.mark.parametrize("status", [200, 201, 204, 304, 404, 503])
def test_an_answer_is_sent_as_a_starlette_response_would_be(status: int) -> None:
    answer = Answer(status, {"Content-Type": "application/json", "x-a": "1", "X-A": "2"}, b"{}")
    assert answer.raw_headers() == answer.response().raw_headers
    expected = Response(content=b"{}", status_code=status, headers=answer.headers)
    assert answer.raw_headers() == expected.raw_headers


def _receiver(messages: list[Message]) -> Receive:
    queue = list(messages)

    async def receive() -> Message:
        return queue.pop(0)

    return receive


@pytest.mark.parametrize(
    "messages",
    [
        [{"type": "http.request", "body": b"abc"}],
        [
            {"type": "http.request", "body": b"a", "more_body": True},
            {"type": "http.request", "body": b"bc"},
        ],
        [{"type": "http.request", "more_body": True}, {"type": "http.request"}],
    ],
)
async def test_the_body_is_read_as_starlette_reads_it(messages: list[Message]) -> None:
    assert (
        await read_body(_receiver(messages))
        == await Request(_scope("/"), _receiver(messages)).body()
    )


async def test_a_client_that_hangs_up_is_a_disconnect_as_in_starlette() -> None:
    messages: list[Message] = [
        {"type": "http.request", "body": b"a", "more_body": True},
        {"type": "http.disconnect"},
    ]
    with pytest.raises(ClientDisconnect):
        await Request(_scope("/"), _receiver(messages)).body()
    with pytest.raises(ClientDisconnect):
        await read_body(_receiver(messages))
