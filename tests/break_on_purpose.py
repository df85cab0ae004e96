"""A pytest plugin that breaks one guarantee on purpose, in memory, so that its
test can be seen failing (issue 24: each reliability test would fail if its
guarantee broke). Nothing on disk changes; without ``BREAK`` it does nothing.

    BREAK=ref-tilde PYTHONPATH=tests python -m pytest -p break_on_purpose tests/test_properties.py

Most breaks undo one fix: the function is recompiled from its own source with
one line changed (an ``except`` that no longer catches, a check removed). What
each made fail, last run (2026-12-05):

| BREAK | what is undone | failed |
|---|---|---|
| csv-utf8 | ``iter_csv`` without its ``@_utf8`` wrapper (a file not in UTF-8) | test_csv_source_lists, test_extra_captions_files |
| coco-id | COCO ids of any type accepted (a list id) | test_coco_json_sources |
| sidecar-decode | sidecar captions read strictly as UTF-8 | test_sidecar_captions |
| repair-json | model answers parsed by ``json.loads``, no repair | test_association_answers, test_extraction_answers |
| params-json | ``-p`` values that are not JSON not kept as text | test_cli_parameters |
| gold-decode | gold files read without the UTF-8 error line | test_gold_files |
| gold-validate | a gold line that fails validation not caught | test_gold_files |
| ref-nul | image references with a NUL byte not refused | test_image_references |
| ref-tilde | ``~nosuchuser`` not caught | test_image_references |
| autoescape | the explorer's templates without escaping | test_script_payloads_are_escaped_on_every_page (4) |
| grid-skip | a grid page far past the last one crashes (500) | test_schema_fuzz[/api/images-GET], test_requests_that_crashed_the_engine_answer |
| cache-version | kept pages not dropped after a write | test_a_write_drops_the_kept_pages, test_a_page_built_during_a_write_is_not_kept |
| cache-evict | kept pages never evicted | test_kept_bodies_stay_under_the_bound |
| lanes-fifo | the query lanes handed out first in, first out | test_queries_one_after_another_keep_one_lane |
"""

from __future__ import annotations

import importlib
import inspect
import os
import textwrap
from typing import Any

WHICH = os.environ.get("BREAK", "")

# name -> (module, function, text in its source, replacement)
UNDO = {
    "csv-utf8": ("evokegraph.ingest.sources", "iter_csv", "@_utf8\n", ""),
    "coco-id": (
        "evokegraph.ingest.sources",
        "_coco_id",
        "return isinstance(value, int | str) and not isinstance(value, bool)",
        "return True",
    ),
    "sidecar-decode": (
        "evokegraph.ingest.sources",
        "sidecar_captions",
        'encoding="utf-8", errors="replace"',
        'encoding="utf-8"',
    ),
    "repair-json": (
        "evokegraph.ingest.models.parsing",
        "repair",
        "data = json_repair.loads(text[start:])",
        "data = __import__('json').loads(text[start:])",
    ),
    "params-json": (
        "evokegraph.params",
        "parse_params",
        "except json.JSONDecodeError:",
        "except ZeroDivisionError:",
    ),
    "gold-decode": (
        "evokegraph.ingest.association_eval",
        "read_gold",
        "except UnicodeDecodeError as exc:",
        "except ZeroDivisionError as exc:",
    ),
    "gold-validate": (
        "evokegraph.ingest.association_eval",
        "read_gold",
        "except (json.JSONDecodeError, ValidationError) as exc:",
        "except json.JSONDecodeError as exc:",
    ),
    "ref-nul": ("evokegraph.views", "resolve_image", 'if "\\x00" in ref:', "if False:"),
    "ref-tilde": (
        "evokegraph.views",
        "resolve_image",
        "except RuntimeError:",
        "except ZeroDivisionError:",
    ),
    "cache-version": (
        "evokegraph.queries.web.page_cache",
        "PageCache",
        "if version != self._at:",
        "if self._at is None:",
    ),
    "lanes-fifo": (
        "evokegraph.queries.web.query_process",
        "Lanes",
        "queue.LifoQueue()",
        "queue.Queue()",
    ),
    "cache-evict": (
        "evokegraph.queries.web.page_cache",
        "PageCache",
        "while self._bytes > self.max_bytes:",
        "while False:",
    ),
}


def _undo(module: str, name: str, old: str, new: str) -> None:
    """Recompile ``module.name`` from its source with ``old`` replaced by ``new``."""
    m = importlib.import_module(module)
    src = textwrap.dedent(inspect.getsource(getattr(m, name)))
    assert old in src, f"{module}.{name} no longer has {old!r}: update break_on_purpose"
    exec(compile(src.replace(old, new), str(m.__file__), "exec"), m.__dict__)  # noqa: S102


def _no_autoescape() -> None:
    import jinja2

    init = jinja2.Environment.__init__

    def without(self: Any, *a: Any, **k: Any) -> None:
        k["autoescape"] = False
        init(self, *a, **k)

    jinja2.Environment.__init__ = without  # type: ignore[method-assign]


def _grid_crash() -> None:
    from evokegraph.queries.web import data

    images = data.images

    def crashing(kb: Any, f: Any) -> Any:
        if f.page > 1000:  # what LadybugDB did with an ORDER BY ... SKIP far past the rows
            raise RuntimeError("engine crash stand-in")
        return images(kb, f)

    data.images = crashing


def pytest_configure(config: Any) -> None:
    if WHICH in UNDO:
        _undo(*UNDO[WHICH])
    elif WHICH == "autoescape":
        _no_autoescape()
    elif WHICH == "grid-skip":
        _grid_crash()
    elif WHICH:
        raise SystemExit(
            f"BREAK={WHICH!r} is none of: {', '.join([*UNDO, 'autoescape', 'grid-skip'])}"
        )
