"""Blind human rating: eval sheet / eval ratings (sheet building, kappa, scoring, bad sheets)."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from evokegraph.cli import main
from evokegraph.errors import UserInputError
from evokegraph.ingest.association_eval import GoldItem, Matched
from evokegraph.ingest.rating import (
    SHEET_COLUMNS,
    Key,
    KeyItem,
    KeyRow,
    agreement,
    build_sheet,
    cohen_kappa,
    coverage,
    fleiss_kappa,
    markdown,
    read_key,
    read_sheet,
    score_ratings,
    write_sheet,
)


# -- kappa against hand-computed values ---------------------------------------------
def test_cohen_kappa_hand_computed() -> None:
    # 50 items: both yes 20, A yes/B no 5, A no/B yes 10, both no 15.
    # p_o = 35/50 = 0.7; A says yes 25/50, B 30/50: p_e = .5*.6 + .5*.4 = 0.5; kappa = 0.4
    a = [1] * 20 + [1] * 5 + [0] * 10 + [0] * 15
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    # p_o = 3/4; p_e = .5*.25 + .5*.75 = .5; kappa = .5
    assert cohen_kappa([1, 1, 0, 0], [1, 0, 0, 0]) == pytest.approx(0.5)
    assert cohen_kappa([1, 0, 1], [1, 0, 1]) == pytest.approx(1.0)
    assert cohen_kappa([1, 0], [0, 1]) == pytest.approx(-1.0)
    assert cohen_kappa([1, 1, 1], [1, 1, 1]) is None  # one label only: undefined
    with pytest.raises(ValueError):
        cohen_kappa([1], [1, 0])


def test_cohen_kappa_matches_scikit_learn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    a = [1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0]
    b = [1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0]
    assert cohen_kappa(a, b) == pytest.approx(metrics.cohen_kappa_score(a, b))


def test_fleiss_kappa_hand_computed() -> None:
    # Fleiss (1971) worked example as printed on Wikipedia: 10 subjects, 14 raters,
    # 5 categories; P_bar = 0.378, P_e = 0.213, kappa = 0.210
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    assert fleiss_kappa(table) == pytest.approx(0.20993, abs=1e-4)
    # 3 raters, 4 rows (yes, no): (3,0) (2,1) (0,3) (1,2): P_i = 1, 1/3, 1, 1/3,
    # P_bar = 2/3; p_yes = 6/12: P_e = 1/2; kappa = (2/3 - 1/2) / (1/2) = 1/3
    assert fleiss_kappa([[3, 0], [2, 1], [0, 3], [1, 2]]) == pytest.approx(1 / 3)
    assert fleiss_kappa([[2, 0], [2, 0]]) is None
    with pytest.raises(ValueError):
        fleiss_kappa([[2, 0], [1, 0]])


def test_agreement_picks_cohen_or_fleiss() -> None:
    two = agreement([[True, True, False, False], [True, False, False, False]])
    assert two == {"kappa": 0.5, "kind": "Cohen", "observed": 0.75}
    three = agreement(
        [[True, True, False, True], [True, True, False, False], [True, False, False, False]]
    )
    assert three["kind"] == "Fleiss" and three["kappa"] == pytest.approx(0.333)
    assert three["observed"] == 0.5
    assert agreement([[True]])["kappa"] is None


# -- sheet building -------------------------------------------------------------------
def gold(caption: str, word: str, tag: str) -> GoldItem:
    return GoldItem(
        caption=caption, word=word, d={d: [f"{tag}{d}a", f"{tag}{d}b"] for d in range(1, 6)}
    )


def matched_items() -> list[Matched]:
    """Three scenes (A has two elements), one item without an image."""
    a1 = Matched(
        gold("scene a", "dog", "ref-dog"), "img-a", {1: ["puppy", "ref-dog1a"], 4: ["loyalty"]}
    )
    a2 = Matched(
        gold("scene a", "grass", "ref-grass"), "img-a", {1: ["lawn", "turf"], 2: ["plant"]}
    )
    b = Matched(
        gold("scene b", "cup", "ref-cup"), "img-b", {d: [f"cup-kb{d}"] for d in range(1, 6)}
    )
    c = Matched(gold("scene c", "tree", "ref-tree"), "img-c", {})
    lost = Matched(gold("scene z", "boat", "ref-boat"), None, {})
    return [a1, a2, b, c, lost]


def test_build_sheet_mixes_sources_without_labels() -> None:
    sheet = build_sheet(matched_items(), seed=3)
    key = sheet.key
    assert sheet.unmatched == ["scene z"]
    assert [it.item for it in key.items] == [1, 2, 3, 4]
    assert len({r.row for r in sheet.rows}) == len(sheet.rows) == len(key.rows)
    assert [r.row for r in sheet.rows] == [k.row for k in key.rows]
    by_row = {k.row: k for k in key.rows}
    for r in sheet.rows:
        k = by_row[r.row]
        assert (r.word, r.distance) == (k.word, k.distance)
        assert r.accept == "" and r.level and r.definition.startswith(r.level)
        assert not set(vars(r)) - set(SHEET_COLUMNS)  # nothing on a row names its source
    # a word from the KB and the reference is asked once, and counts for both
    dup = [k for k in key.rows if k.word == "ref-dog1a" and k.item == 1]
    assert len(dup) == 1 and dup[0].sources == ["kb", "reference"]
    # "other" words come from another scene's item, at the same distance
    items = {it.item: it for it in key.items}
    for k in key.rows:
        if "other" in k.sources:
            other = items[k.item].other_item
            assert k.other_item == other and other is not None
            assert (
                matched_items()[other - 1].item.caption != matched_items()[k.item - 1].item.caption
            )
            assert k.word in matched_items()[other - 1].item.d[k.distance]
    # every item has all reference words at every distance
    for it in key.items:
        for d in range(1, 6):
            words = {k.word for k in key.rows if k.item == it.item and k.distance == d}
            assert set(matched_items()[it.item - 1].item.d[d]) <= words
    assert items[3].kb_words == {d: [f"cup-kb{d}"] for d in range(1, 6)}


def test_build_sheet_is_seeded() -> None:
    def order(seed: int) -> list[tuple[str, int, str]]:
        return [
            (r.element, r.distance, r.word) for r in build_sheet(matched_items(), seed=seed).rows
        ]

    assert order(1) == order(1)
    assert order(1) != order(2)
    small = build_sheet(matched_items(), distances=[2, 4], seed=5, limit=2)
    assert len(small.key.items) == 2 and {r.distance for r in small.rows} == {2, 4}
    assert small.key.distances == [2, 4]
    with pytest.raises(UserInputError, match="distance 6"):
        build_sheet(matched_items(), distances=[6])
    with pytest.raises(UserInputError, match="ingest"):
        build_sheet([matched_items()[-1]])


# -- scoring -------------------------------------------------------------------------
def judge(key: Key, accept: Callable[[KeyRow], bool]) -> dict[str, bool]:
    return {k.row: accept(k) for k in key.rows}


def test_score_ratings_acceptance_and_coverage() -> None:
    key = build_sheet(matched_items(), seed=0).key
    # rater 1 accepts the KB's and the reference words; rater 2 the reference words only
    r1 = judge(key, lambda k: bool({"kb", "reference"} & set(k.sources)))
    r2 = judge(key, lambda k: "reference" in k.sources)
    rep = score_ratings(key, [r1, r2])
    rows = {r["distance"]: r for r in rep["acceptance"]}
    assert rows[1]["reference"] == 1.0 and rows[1]["other"] == 0.0
    # d1 KB words: puppy, ref-dog1a (also a reference word), lawn, turf, cup-kb1:
    # rater 1 accepts 5/5, rater 2 1/5 -> 6/10
    assert rows[1]["kb_words"] == 5 and rows[1]["kb"] == 0.6 and rows[1]["gap"] == 0.6
    assert rows[3]["kb_words"] == 1 and rows[3]["kb"] == 0.5
    assert rows["all"]["kb_words"] == 11  # 5 + 2 + 1 + 2 + 1
    assert rep["agreement"]["kind"] == "Cohen" and rep["raters"] == 2
    n_kb_or_ref = sum(bool({"kb", "reference"} & set(k.sources)) for k in key.rows)
    n_ref = sum("reference" in k.sources for k in key.rows)
    assert rep["per_rater"] == [
        round(n_kb_or_ref / len(key.rows), 3),
        round(n_ref / len(key.rows), 3),
    ]
    # coverage: dog lacks d2-3, grass d3-5, cup has one word a distance, tree none
    assert rep["coverage"]["share"] == 0.0 and rep["coverage"]["per_distance"][4] == 0.5
    table = markdown(rep)
    assert "| 1 near synonym | 5 | 60% | 100% | 0% | +0.60 |" in table
    assert "Cohen kappa" in table
    met = {t["target"]: t["met"] for t in rep["targets"]}
    assert met["d1 gap over other-scene >= 0.25"] and not met["d1 KB accepted >= 0.70"]


def test_coverage_counts_words_per_distance() -> None:
    full = {1: ["a", "b"], 2: ["a", "b"], 3: ["a", "b"], 4: ["a"], 5: ["a"]}
    thin = {**full, 3: ["a"]}
    items = [
        KeyItem(item=i, caption="c", element="e", image_id="x", other_item=None, kb_words=w)
        for i, w in enumerate([full, thin], 1)
    ]
    cov = coverage(Key(distances=[1], items=items, rows=[]))
    assert cov["share"] == 0.5 and cov["per_distance"] == {1: 1.0, 2: 1.0, 3: 0.5, 4: 1.0, 5: 1.0}
    # an element the extractor did not keep for its image (no word anywhere) counts
    # against coverage, and the report also gives coverage of the elements the KB holds
    absent = KeyItem(item=3, caption="c", element="z", image_id="x", other_item=None, kb_words={})
    cov = coverage(Key(distances=[1], items=[*items, absent], rows=[]))
    assert cov["per_distance"][3] == 0.333 and cov["per_distance"][1] == 0.667
    assert cov["extracted"] == 2 and cov["per_distance_extracted"][3] == 0.5
    assert cov["per_distance_extracted"][1] == 1.0


def test_calibration_by_weight_band_and_floor() -> None:
    """Weights ride in the key beside the KB's words; the report says, per band,
    how often raters accepted the words against their mean weight, and per floor
    what keeping only the words from that weight would leave."""
    a = Matched(
        gold("scene a", "dog", "ref-dog"),
        "img-a",
        {1: ["puppy", "hound"], 4: ["loyalty"]},
        {1: [0.9, 0.4], 4: [0.6]},
    )
    b = Matched(gold("scene b", "cup", "ref-cup"), "img-b", {1: ["mug", "beaker"]}, {1: [0.8, 0.3]})
    key = build_sheet([a, b], distances=[1, 4], seed=0).key
    assert key.items[0].kb_weights == {1: [0.9, 0.4], 4: [0.6]}
    # both raters accept puppy, mug and loyalty; one of them hound; nobody beaker
    liked = {"puppy": 2, "mug": 2, "loyalty": 2, "hound": 1}
    sheets = [
        judge(key, lambda k, i=i: "kb" in k.sources and liked.get(k.word, 0) > i) for i in (0, 1)
    ]
    cal = score_ratings(key, sheets)["calibration"]
    bands = {(b["distance"], b["band"]): b for b in cal["bands"]}
    assert bands[(1, ">= 0.85")] == {
        "distance": 1,
        "band": ">= 0.85",
        "words": 1,
        "mean_weight": 0.9,
        "accepted": 1.0,
    }
    assert bands[(1, "0.70-0.85")]["accepted"] == 1.0  # mug, 0.8
    low = bands[(1, "0.00-0.50")]  # hound 0.4 (1 of 2 raters), beaker 0.3 (0 of 2)
    assert (low["words"], low["mean_weight"], low["accepted"]) == (2, 0.35, 0.25)
    assert bands[("all", "0.50-0.70")]["words"] == 1  # loyalty
    # error at d1: (1 x 0.1 + 1 x 0.2 + 2 x 0.1) / 4 words
    assert cal["error"]["1"] == pytest.approx(0.125)
    # log loss of the weights against each mark: puppy 0.9 (1, 1), hound 0.4 (1, 0),
    # mug 0.8 (1, 1), beaker 0.3 (0, 0)
    want = -(2 * math.log(0.9) + math.log(0.4) + math.log(0.6) + 2 * math.log(0.8)) / 8
    want -= 2 * math.log(0.7) / 8
    assert cal["log_loss"]["1"] == pytest.approx(want, abs=1e-3)
    floors = {(f["distance"], f["floor"]): f for f in cal["floors"]}
    assert floors[(1, 0.0)]["accepted"] == 0.625 and floors[(1, 0.0)]["coverage"] == 1.0
    assert floors[(1, 0.7)]["accepted"] == 1.0 and floors[(1, 0.7)]["coverage"] == 0.0
    assert floors[(4, 0.7)]["words"] == 0 and floors[(4, 0.7)]["accepted"] is None
    table = markdown(score_ratings(key, sheets))
    assert "| 1 | >= 0.85 | 1 | 0.90 | 100% |" in table
    assert "| 1 | 0.70 | 2 | 100% | 0% |" in table
    # a key written before weights were kept reports no calibration
    old = Key.model_validate(
        {**key.model_dump(), "items": [{**it.model_dump(), "kb_weights": {}} for it in key.items]}
    )
    assert score_ratings(old, sheets)["calibration"] is None
    assert "weight floor" not in markdown(score_ratings(old, sheets))


def test_key_with_misaligned_weights_is_a_one_line_error(tmp_path: Path) -> None:
    key = build_sheet(matched_items(), seed=0).key
    data = json.loads(key.model_dump_json())
    data["items"][0]["kb_weights"] = {"1": [0.5]}  # two words, one weight
    path = tmp_path / "key.json"
    path.write_text(json.dumps(data))
    with pytest.raises(UserInputError, match="not a rating key") as info:
        read_key(path)
    assert "\n" not in str(info.value)


# -- files and bad sheets ---------------------------------------------------------------
@pytest.fixture
def written(tmp_path: Path) -> tuple[Key, Path]:
    sheet = build_sheet(matched_items(), distances=[1, 5], seed=0)
    write_sheet(sheet, tmp_path / "r", tmp_path / "key.json")
    return sheet.key, tmp_path / "r" / "sheet.csv"


def rewrite(path: Path, edit: Callable[[list[dict[str, str]]], list[dict[str, str]]]) -> Path:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows = edit(rows)
    out = path.with_name("filled.csv")
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return out


def fill(value: str) -> Callable[[list[dict[str, str]]], list[dict[str, str]]]:
    return lambda rows: [{**r, "accept": value} for r in rows]


def test_sheet_files_round_trip(written: tuple[Key, Path], tmp_path: Path) -> None:
    key, sheet_csv = written
    with sheet_csv.open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert tuple(header) == SHEET_COLUMNS
    jsonl = [json.loads(x) for x in (sheet_csv.with_suffix(".jsonl")).read_text().splitlines()]
    assert [r["row"] for r in jsonl] == [k.row for k in key.rows]
    assert Key.model_validate_json((tmp_path / "key.json").read_text()) == key
    assert "accept" in (sheet_csv.parent / "INSTRUCTIONS.txt").read_text()
    assert set(read_sheet(rewrite(sheet_csv, fill(" Yes ")), key).values()) == {True}
    with pytest.raises(UserInputError, match="exists"):  # a rater's work is not overwritten
        write_sheet(build_sheet(matched_items()), tmp_path / "r", tmp_path / "key.json")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda rows: [{k: v for k, v in r.items() if k != "accept"} for r in rows],
            "no 'accept' column",
        ),
        (lambda rows: [{**r, "accept": "maybe"} for r in rows], "has accept 'maybe'"),
        (lambda rows: [{**r, "accept": ""} for r in rows], "has accept ''"),
        (
            lambda rows: [{**r, "accept": "1", "row": r["row"] + "x"} for r in rows],
            "unknown row id",
        ),
        (lambda rows: [{**r, "accept": "1"} for r in rows[1:]], "lacks 1 row"),
        (lambda rows: [{**r, "accept": "1"} for r in rows + rows[:1]], "appears twice"),
        (lambda rows: [{**r, "accept": "1", "word": "zzz"} for r in rows], "different eval sheet"),
    ],
)
def test_bad_sheets_are_one_line_errors(
    written: tuple[Key, Path],
    edit: Callable[[list[dict[str, str]]], list[dict[str, str]]],
    message: str,
) -> None:
    key, sheet_csv = written
    with pytest.raises(UserInputError, match=message) as info:
        read_sheet(rewrite(sheet_csv, edit), key)
    assert "\n" not in str(info.value)


# -- the commands, on an ingested KB ---------------------------------------------------
def test_eval_sheet_and_ratings_commands(
    tmp_path: Path,
    fake_stages: dict[str, str],
    jpeg: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from evokegraph.graph.ladybug_store import LadybugStore
    from evokegraph.ingest.runner import IngestConfig, ingest

    images = tmp_path / "images"
    jpeg(images / "a.jpg", (200, 10, 10), "red dog")
    jpeg(images / "b.jpg", (10, 10, 200), "blue cup")
    db = tmp_path / "k.kb"
    with LadybugStore(db, create=True) as kb:
        assert ingest(kb, [images], IngestConfig(**fake_stages)).new == 2
    ref = tmp_path / "ref.jsonl"
    ref.write_text(
        "".join(
            json.dumps(gold(cap, word, f"{word}-ref").model_dump()) + "\n"
            for cap, word in [("red dog", "dog"), ("blue cup", "cup"), ("a lost boat", "boat")]
        )
    )
    out = tmp_path / "rating"
    assert main(["--db", str(db), "eval", "sheet", str(ref), "--out", str(out), "--seed", "1"]) == 0
    said = capsys.readouterr().out
    assert "for 2 elements" in said and "a lost boat" in said
    key = Key.model_validate_json((out / "key.json").read_text())
    assert {it.element for it in key.items} == {"dog", "cup"}
    # the fake miner stores word-d at distance d: the KB's words are on the sheet
    assert {k.word for k in key.rows if k.sources == ["kb"]} == {
        f"{w}-{d}" for w in ("dog", "cup") for d in range(1, 6)
    }
    sheets = []
    for name, accept in [
        ("one", lambda k: "other" not in k.sources),
        ("two", lambda k: "reference" in k.sources),
    ]:
        rows = {k.row: k for k in key.rows}
        recs = [json.loads(x) for x in (out / "sheet.jsonl").read_text().splitlines()]
        path = tmp_path / f"{name}.jsonl"
        path.write_text(
            "".join(
                json.dumps({**r, "accept": "y" if accept(rows[r["row"]]) else "n"}) + "\n"
                for r in recs
            )
        )
        sheets.append(str(path))
    assert main(["eval", "ratings", str(out / "key.json"), *sheets, "--markdown"]) == 0
    table = capsys.readouterr().out
    assert "| 1 near synonym | 2 | 50% | 100% | 0% | +0.50 |" in table
    assert main(["eval", "ratings", str(out / "key.json"), *sheets, "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["agreement"]["kind"] == "Cohen" and rep["coverage"]["share"] == 0.0
    # the stored weights ride in the key: the report checks them against the raters
    assert all(
        len(it.kb_weights[d]) == len(it.kb_words[d]) for it in key.items for d in it.kb_words
    )
    assert [f["floor"] for f in rep["calibration"]["floors"] if f["distance"] == 1] == [
        0.0,
        0.5,
        0.6,
        0.7,
        0.8,
    ]
    assert main(["eval", "ratings", str(out / "key.json"), *sheets]) == 0
    assert "what a weight floor keeps" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("row,word\nr01,x\n")
    assert main(["eval", "ratings", str(out / "key.json"), str(bad)]) != 0
    err = capsys.readouterr().err.strip()
    assert (
        err == f"Error: {bad} has no 'accept' column; fill the accept column of eval sheet's sheet"
    )
    # an existing sheet is kept
    assert main(["--db", str(db), "eval", "sheet", str(ref), "--out", str(out)]) != 0
    assert "exists" in capsys.readouterr().err


def test_unreadable_files_are_one_line_errors(written: tuple[Key, Path], tmp_path: Path) -> None:
    key, _ = written
    latin = tmp_path / "latin.csv"
    latin.write_bytes("row,word,accept\nr01,caf\xe9,1\n".encode("latin-1"))
    with pytest.raises(UserInputError, match="not UTF-8"):
        read_sheet(latin, key)
    bad_key = tmp_path / "bad_key.json"
    bad_key.write_bytes(b"\xff\xfe not json")
    with pytest.raises(UserInputError, match="not a rating key"):
        read_key(bad_key)
    with pytest.raises(UserInputError, match=r"\.csv or \.jsonl"):
        read_sheet(tmp_path / "key.json", key)
