"""The explorer's cheaper encoders (issue 24, the explorer under load): pages
rendered with :class:`~evokegraph.queries.web.escaping.EscapingTemplate` are
byte-identical to pages rendered with MarkupSafe's own ``escape`` (markup in
every stored text, in URLs and in error messages included), and the JSON of
:mod:`~evokegraph.queries.web.jsonenc` (orjson) decodes to what ``json.dumps``
wrote, falling back to ``json.dumps`` for what orjson refuses.

Checked to fail: with the C escape under :func:`escaping.escape` replaced by
one that escapes only ``<`` (quotes and ``&`` left as they are), the first
page with such a character in it differed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import jinja2
import markupsafe
import pytest
from fastapi.testclient import TestClient

from evokegraph.graph.ladybug_store import LadybugStore
from evokegraph.queries.web import app as web_app
from evokegraph.queries.web import escaping, jsonenc
from evokegraph.records import Element, Evocation, GraphBatch, ImageEntry, ImageRecord

EVIL = "<img src=x onerror=\"alert('1')\">&amp;"
NAMES = ["tree", "shade", EVIL, "café ☕", "a & b"]


def _batch() -> GraphBatch:
    return GraphBatch(
        images=[
            ImageEntry(
                image=ImageRecord(
                    id=f"{i:064x}",
                    uris=[f"img/{EVIL if i == 2 else i}.jpg"],
                    captions=[f"{NAMES[i % len(NAMES)]} caption {i}"],
                ),
                elements=[
                    Element(name=n, concept=n, rank=r)
                    for r, n in enumerate(NAMES[i % 3 : i % 3 + 3])
                ],
                evocations=[
                    Evocation(
                        element=n, concept=NAMES[(k + d) % len(NAMES)], distance=d, weight=0.19 * d
                    )
                    for k, n in enumerate(NAMES[i % 3 : i % 3 + 3])
                    for d in (1, 2, 4, 5)
                ],
                stage_keys={"elements": "t", "associations": "t"},
            )
            for i in range(1, 7)
        ]
    )


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LadybugStore]:
    with LadybugStore(tmp_path_factory.mktemp("enc") / "kb.kb", create=True) as store:
        store.write(_batch())
        store.recompute_associations()
        yield store


def _urls() -> list[str]:
    ids = [f"{i:064x}" for i in range(1, 7)]
    urls = ["/images", "/images?per_page=2&page=2", f"/images?q={quote(EVIL)}", "/queries"]
    urls += [f"/image/{i}" for i in ids] + [f"/image/{ids[1]}/rings", f"/graph?image={ids[1]}"]
    urls += [f"/concept/{quote(n)}" for n in NAMES] + [f"/graph?concept={quote(EVIL)}"]
    urls += [f"/cypher?q={quote('RETURN ' + repr(EVIL) + ' AS x')}", f"/cypher?q={quote(EVIL)}"]
    urls += [f"/image/{quote(EVIL)}", f"/concept/{quote(EVIL + 'x')}"]  # error pages echo the input
    return urls


def _pages(kb: LadybugStore, tmp_path: Path) -> dict[str, bytes]:
    app = web_app.create_app(store=kb, thumbs_dir=tmp_path / "thumbs")
    out: dict[str, bytes] = {}
    with TestClient(app) as c:
        for url in _urls():
            r = c.get(url)
            assert r.status_code in (200, 400, 404), (url, r.status_code)
            out[url] = r.content
    return out


def test_pages_are_byte_identical_to_markupsafe_escaping(
    kb: LadybugStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _pages(kb, tmp_path)
    monkeypatch.setattr(web_app, "EscapingTemplate", jinja2.Template)
    plain = _pages(kb, tmp_path)
    assert fast.keys() == plain.keys()
    for url in fast:
        assert fast[url] == plain[url], url
    assert any(b"&lt;img src=x onerror=" in body for body in fast.values())
    assert not any(EVIL.encode() in body for body in fast.values())


def test_templates_get_the_cheaper_escape() -> None:
    if escaping._inner is None:
        pytest.skip("this MarkupSafe has no _escape_inner: templates keep markupsafe.escape")
    env = web_app.page_templates().env
    t = env.get_template("concept.html")
    assert t.root_render_func.__globals__["escape"] is escaping.escape
    for value in ["<a href='x'>&\"", "", "plain", 3, 2.5, None, markupsafe.Markup("<b>ok</b>")]:
        mine, theirs = escaping.escape(value), markupsafe.escape(value)
        assert (mine, type(mine)) == (theirs, type(theirs))


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2.5, "é ☕", None, True], "b": {"c": "</script>&'\""}},
        {"w": [0.1, 1 / 3, 1e-3, 123456.789, -0.0], "ctl": "\x00\x1f\n\t\u2028"},
        {1: "int key", "n": [[], {}]},
    ],
)
def test_orjson_answers_decode_to_the_same_values(value: object) -> None:
    fast = jsonenc.dumps_bytes(value)
    std = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    assert json.loads(fast) == json.loads(std)
    assert json.loads(jsonenc.dumps_text(value, sort_keys=True)) == json.loads(std)


def test_what_orjson_refuses_goes_through_json() -> None:
    big = {"n": 2**70}
    assert jsonenc.dumps_bytes(big) == b'{"n":1180591620717411303424}'
    with pytest.raises(TypeError):
        jsonenc.dumps_bytes({"s": {1, 2}})  # not JSON for either encoder


def test_json_endpoints_decode_the_same_with_and_without_orjson(
    kb: LadybugStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = ["/api/images", f"/api/images/{2:064x}", f"/api/concepts/{quote(EVIL)}"]
    with TestClient(web_app.create_app(store=kb, thumbs_dir=tmp_path / "t")) as c:
        fast = {u: c.get(u).content for u in urls}
    monkeypatch.setattr(jsonenc, "orjson", None)
    with TestClient(web_app.create_app(store=kb, thumbs_dir=tmp_path / "t")) as c:
        std = {u: c.get(u).content for u in urls}
    for u in urls:
        assert json.loads(fast[u]) == json.loads(std[u]), u
