"""smodels drift: PSI against hand-computed cases and its floor; merging many log lines equals one big count in any
order; the book's model with G1 always 1 reads as G1 drift and nothing else; the CLI on local log files (JSON shape,
exit status 0 / 3 / 1); a clear message and never a traceback for a model without a profile, lines of an older
function, garbled lines and counts against an unknown profile; the HTML page's structure."""

from __future__ import annotations

import json
import math
import random
import shutil
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from functions.drift import DriftCounter
from models.common import load_games
from smodels.cli import main
from smodels.drift import MIN_ROWS, Merge, build_report, psi, psi_terms, render_html, status
from smodels.manifest import load_manifest, write_manifest
from smodels.manifest.drift import drift_profile

REPO = Path(__file__).resolve().parents[2]
STACK = "dev"


# --- PSI ------------------------------------------------------------------------------------------------------


def test_psi_of_hand_computed_cases() -> None:
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    # (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5) = 0.25 ln 2 + 0.25 ln 1.5
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.25 * 0.6931471805599453 + 0.25 * 0.4054651081081644,
                                                          abs=1e-15)
    # deciles, one moved: 0.1 -> 0.2 and 0.1 -> 0.0 (floored at 1e-4)
    train, live = [0.1] * 10, [0.2, 0.0] + [0.1] * 8
    assert psi(train, live) == pytest.approx(0.1 * math.log(2) + (1e-4 - 0.1) * math.log(1e-4 / 0.1), abs=1e-15)
    assert psi(train, live) == pytest.approx(0.7594, abs=1e-4)
    # an empty training bucket (a new category) counts with the same floor; both empty count nothing
    assert psi_terms([0.0, 1.0], [0.0, 1.0]) == [0.0, 0.0]
    new = (0.5 - 1e-4) * math.log(0.5 / 1e-4) + (0.5 - 1.0) * math.log(0.5)
    assert psi([0.0, 1.0], [0.5, 0.5]) == pytest.approx(new, abs=1e-15)
    # symmetric (to rounding: ln(a / b) and -ln(b / a) may differ in the last bit), and exactly the same in any
    # bucket order (fsum)
    assert psi([0.2, 0.3, 0.5], [0.4, 0.4, 0.2]) == pytest.approx(psi([0.4, 0.4, 0.2], [0.2, 0.3, 0.5]), abs=1e-15)
    assert psi([0.2, 0.3, 0.5], [0.4, 0.4, 0.2]) == psi([0.5, 0.2, 0.3], [0.2, 0.4, 0.4])


@pytest.mark.parametrize(("value", "rows", "want"), [
    (0.0, MIN_ROWS, "ok"), (0.0999, MIN_ROWS, "ok"), (0.1, MIN_ROWS, "watch"), (0.2499, 10_000, "watch"),
    (0.25, MIN_ROWS, "drift"), (9.0, MIN_ROWS - 1, "too_few"), (9.0, 5, "too_few")])
def test_status_reads_the_psi(value: float, rows: int, want: str) -> None:
    assert status(value, rows) == want


# --- lines as the function writes them ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def book() -> dict[str, Any]:
    """The book's model: manifest, drift profile and counter, and its predict function."""
    import skops.io

    m = load_manifest(REPO / "models" / "logreg")
    profile, reason = drift_profile(m)
    assert profile is not None, reason
    data = m.artifact_path.read_bytes()
    model = skops.io.loads(data, trusted=skops.io.get_untrusted_types(data=data))
    return {"manifest": m, "profile": profile, "counter": DriftCounter(profile, m.model_schema()),
            "predict": lambda rows: [float(p) for p in model.predict_proba(np.asarray(rows))[:, 1]]}


def _rows(data_csv: Path, n: int, seed: int, g1: float | None = None) -> list[list[float]]:
    """`n` rows drawn (seeded) from the training data; with `g1`, G1 set to it."""
    data = load_games(str(data_csv))
    picked = data.x[np.random.default_rng(seed).choice(data.rows, n, replace=False)].tolist()
    if g1 is not None:
        for row in picked:
            row[0] = g1
    return picked


def _line(book: dict[str, Any], rows: list[list[float]], version: str | None = None) -> str:
    """The prediction line functions/app.py writes for one request of `rows`."""
    m = book["manifest"]
    outputs = book["predict"](rows)
    head = json.dumps({"event": "prediction", "endpoint": "pred", "model": m.name,
                       "model_version": version or m.sha256, "arm": "stable"}, separators=(",", ":"))[:-1]
    figures = {"mean": sum(outputs) / len(outputs), "min": min(outputs), "max": max(outputs)}
    return (f'{head},"rows":{len(rows)},"latency_ms":0.2,"out_of_range":0,"output":{json.dumps(figures)}'
            f'{book["counter"].count(rows, outputs)[0]}}}')


def _records(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


def _merged(book: dict[str, Any], lines: list[str]) -> Merge:
    return Merge({book["profile"].id: book["profile"]}).add_all(_records(lines))


def test_many_lines_merge_to_one_big_count_in_any_order(book: dict[str, Any], data_csv: Path) -> None:
    rows = _rows(data_csv, 300, seed=1)
    singles = [_line(book, [r]) for r in rows]
    batches = [_line(book, rows[i:i + 37]) for i in range(0, 300, 37)]
    one = _merged(book, [_line(book, rows)])
    (big,) = one.versions.values()
    assert big.rows == 300 and big.lines == 1
    mixed = batches[5:] + singles[:150] + [_line(book, rows[150:185])]  # rows 185-299, 0-149, 150-184
    orders = [singles, singles[::-1], batches, batches[::-1], mixed]
    for seed in range(3):
        shuffled = list(singles)
        random.Random(seed).shuffle(shuffled)
        orders.append(shuffled)
    reports = set()
    for lines in orders:
        (vc,) = _merged(book, lines).versions.values()
        assert (vc.rows, vc.counts) == (300, big.counts)
        reports.add(json.dumps(build_report("pred", [(vc, book["profile"])])["models"][0]["features"]))
    assert len(reports) == 1  # the same figures, to the last digit, whatever the order


def test_g1_always_1_is_drift_in_g1_only(book: dict[str, Any], data_csv: Path) -> None:
    (vc,) = _merged(book, [_line(book, [r]) for r in _rows(data_csv, 300, seed=2, g1=1.0)]).versions.values()
    (model,) = build_report("pred", [(vc, book["profile"])])["models"]
    assert model["status"] == "drift" and model["rows"] == 300
    g1 = model["features"][0]
    assert g1["name"] == "G1" and g1["status"] == "drift" and g1["psi"] > 1.0
    assert {b["bin"]: b["live"] for b in g1["top_bins"]} == {"0": 0.0, "1": 1.0}
    assert all(f["status"] == "ok" for f in model["features"][1:]), model["features"]
    assert model["output"]["psi"] > 0 and model["output"]["status"] in ("ok", "watch", "drift")


def test_traffic_from_the_training_distribution_is_ok(book: dict[str, Any], data_csv: Path) -> None:
    (vc,) = _merged(book, [_line(book, [r]) for r in _rows(data_csv, 300, seed=3)]).versions.values()
    (model,) = build_report("pred", [(vc, book["profile"])])["models"]
    assert model["status"] == "ok", [(f["name"], f["psi"]) for f in model["features"]]
    assert model["output"]["status"] == "ok"


def test_five_requests_are_too_few(book: dict[str, Any], data_csv: Path) -> None:
    (vc,) = _merged(book, [_line(book, [r]) for r in _rows(data_csv, 5, seed=4, g1=1.0)]).versions.values()
    (model,) = build_report("pred", [(vc, book["profile"])])["models"]
    assert model["status"] == "too_few" and {f["status"] for f in model["features"]} == {"too_few"}


# --- the command on local log files ---------------------------------------------------------------------------


def _project(tmp_path: Path, model_dir: Path, **endpoint: Any) -> Path:
    """A project directory: Pulumi.dev.yaml with endpoint `pred` serving `model_dir` on both clouds."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": {
        "serverless-models:clouds": ["aws", "gcp"],
        "serverless-models:endpoints": {"pred": {"model": str(model_dir), "runtime": "pure", **endpoint}}}}))
    (tmp_path / ".build" / "local" / STACK / "logs").mkdir(parents=True)
    return tmp_path


def _log(project: Path, lines: list[str], cloud: str = "aws") -> None:
    name = "aws-pred-0.log" if cloud == "aws" else "gcp-pred.log"
    with open(project / ".build" / "local" / STACK / "logs" / name, "a", encoding="utf-8") as fh:
        fh.writelines(line + "\n" for line in lines)


def _drift(project: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = main(["drift", "pred", "--stack", STACK, "--local", "--project-dir", str(project), *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_the_command_reports_json_and_exits_3_on_drift(book: dict[str, Any], data_csv: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path, REPO / "models" / "logreg")
    rows = _rows(data_csv, 300, seed=5, g1=1.0)
    _log(project, [_line(book, [r]) for r in rows[:200]], "aws")
    _log(project, [_line(book, rows[200:])], "gcp")
    code, out, err = _drift(project, capsys, "--json")
    assert code == 3, err
    report = json.loads(out)
    assert {"endpoint", "models", "notes"} <= set(report) and report["endpoint"] == "pred"
    (model,) = report["models"]
    assert {"model", "version", "rows", "status", "output", "features"} <= set(model)
    assert (model["model"], model["version"], model["rows"], model["status"]) == (
        "games-logreg", book["manifest"].sha256, 300, "drift")
    assert model["clouds"] == ["aws", "gcp"] and {"psi", "status"} <= set(model["output"])
    assert all({"name", "psi", "status", "missing_rate"} <= set(f) for f in model["features"])
    psis = [f["psi"] for f in model["features"]]
    assert psis == sorted(psis, reverse=True) and model["features"][0]["name"] == "G1"
    code, out, _ = _drift(project, capsys)  # the table
    assert code == 3 and "status DRIFT" in out and out.index(" G1 ") < out.index(" G2 ")


def test_unshifted_traffic_exits_0(book: dict[str, Any], data_csv: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path, REPO / "models" / "logreg")
    _log(project, [_line(book, [r]) for r in _rows(data_csv, 300, seed=6)])
    code, out, err = _drift(project, capsys, "--json")
    assert code == 0, err
    assert json.loads(out)["models"][0]["status"] == "ok"


def test_lines_of_an_older_function_say_so(book: dict[str, Any], data_csv: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path, REPO / "models" / "logreg")
    old = [json.loads(_line(book, [r])) for r in _rows(data_csv, 3, seed=7)]
    _log(project, [json.dumps({k: v for k, v in line.items() if k not in ("drift", "unseen")}) for line in old])
    code, _, err = _drift(project, capsys)
    assert code == 1
    assert "3 prediction line(s) of model games-logreg" in err and "carry no drift counts" in err
    assert "older than drift counting" in err and "nothing to measure" in err


def test_garbled_lines_are_left_out_with_a_message(book: dict[str, Any], data_csv: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path, REPO / "models" / "logreg")
    good = [_line(book, [r]) for r in _rows(data_csv, 250, seed=8)]
    broken = json.loads(good[0])
    bad = [
        json.dumps({**broken, "drift": "nonsense"}),
        json.dumps({**broken, "drift": {**broken["drift"], "c": [1, 2, 3]}}),  # not pairs
        json.dumps({**broken, "drift": {**broken["drift"], "c": [99999, 1]}}),  # a slot outside the profile
        json.dumps({**broken, "rows": 2}),  # counts that do not add up to the rows
        good[1][: len(good[1]) // 2],  # a line cut in the middle: not JSON
    ]
    _log(project, good + bad)
    code, out, err = _drift(project, capsys, "--json")
    assert code == 0 and json.loads(out)["models"][0]["rows"] == 250
    notes = " ".join(json.loads(out)["notes"])
    assert "4 prediction line(s) have garbled drift counts and were left out" in notes
    assert "1 line(s) of the local log files look like prediction lines but are not JSON" in notes


def test_a_model_without_a_profile_says_drift_unavailable(book: dict[str, Any], data_csv: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    m = book["manifest"]
    old = tmp_path / "old-model"
    old.mkdir()
    shutil.copyfile(m.artifact_path, old / m.artifact)
    write_manifest(replace(m, schema=1, profile=None, directory=old), old)  # as the book's manifest was
    project = _project(tmp_path / "p", old)
    _log(project, [json.dumps({k: v for k, v in json.loads(_line(book, [r])).items() if k not in ("drift", "unseen")})
                   for r in _rows(data_csv, 4, seed=9)])
    code, _, err = _drift(project, capsys)
    assert code == 1
    assert "model games-logreg: no profile: drift unavailable" in err and "schema 1" in err


def test_counts_against_another_profile_say_so(book: dict[str, Any], data_csv: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path, REPO / "models" / "logreg")
    line = json.loads(_line(book, _rows(data_csv, 1, seed=10)))
    _log(project, [json.dumps({**line, "drift": {**line["drift"], "p": "ffffffffffff"}})])
    code, _, err = _drift(project, capsys)
    assert code == 1 and "counted against profile ffffffffffff, which no model of this stack's config has" in err


def test_drift_false_and_no_lines_are_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path, REPO / "models" / "logreg", drift=False)
    code, _, err = _drift(project, capsys)
    assert code == 1 and "drift: false" in err and "no prediction line for endpoint 'pred'" in err
    code, _, err = _drift(tmp_path / "nowhere", capsys)
    assert code == 2 and "cannot read the stack config" in err
    other = main(["drift", "nope", "--stack", STACK, "--local", "--project-dir", str(project)])
    assert other == 2 and "no endpoint 'nope'" in capsys.readouterr().err


# --- the page -------------------------------------------------------------------------------------------------


class _Page(HTMLParser):
    """Tags, nesting and the SVG fragments of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.stack: list[str] = []
        self.figures = 0
        self.captions: list[str] = []
        self._caption: list[str] | None = None
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs
        if tag not in ("meta", "br", "rect", "line"):
            self.stack.append(tag)
        self.figures += tag == "figure"
        if tag == "figcaption":
            self._caption = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs

    def handle_endtag(self, tag: str) -> None:
        if tag in ("rect", "line"):
            return
        assert self.stack and self.stack[-1] == tag, (self.stack[-5:], tag)
        self.stack.pop()
        if tag == "figcaption" and self._caption is not None:
            self.captions.append("".join(self._caption))
            self._caption = None

    def handle_data(self, data: str) -> None:
        if self._caption is not None:
            self._caption.append(data)


def test_the_page_is_self_contained_with_one_histogram_per_feature(book: dict[str, Any], data_csv: Path,
                                                                   tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path, REPO / "models" / "logreg")
    _log(project, [_line(book, [r]) for r in _rows(data_csv, 300, seed=11, g1=1.0)])
    page = tmp_path / "drift.html"
    code, _, err = _drift(project, capsys, "--html", str(page))
    assert code == 3 and f"wrote {page}" in err
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    parsed = _Page()
    parsed.feed(text)
    parsed.close()
    assert parsed.stack == []  # every element closed, properly nested
    assert "script" not in parsed.tags and "link" not in parsed.tags and "img" not in parsed.tags
    assert not [v for k, v in parsed.attrs if k in ("src", "href")] and "url(" not in text and "@import" not in text
    assert parsed.figures == 11  # the output and the ten features
    assert parsed.captions[0].startswith("output PSI") and parsed.captions[1].startswith("G1 PSI")
    assert "drift" in parsed.captions[1]
    svgs = [text[i:text.index("</svg>", i) + 6] for i in range(len(text)) if text.startswith("<svg", i)]
    assert len(svgs) == 11
    for svg in svgs:
        root = ET.fromstring(svg)  # well-formed XML
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        bars = root.findall("{http://www.w3.org/2000/svg}rect")
        assert len(bars) >= 2 + 2 * 2 and all(float(b.get("height")) >= 0 for b in bars)  # legend + bar pairs


@pytest.mark.slow
def test_a_headless_browser_renders_the_page(book: dict[str, Any], data_csv: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Debian's chromium (apt-get install chromium), when this machine has it: the page loads from a file, offline,
    and the browser's DOM holds every histogram; a screenshot is drawn."""
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium here (apt-get install chromium); the page's structure is checked above")
    project = _project(tmp_path, REPO / "models" / "logreg")
    _log(project, [_line(book, [r]) for r in _rows(data_csv, 300, seed=12, g1=1.0)])
    page = tmp_path / "drift.html"
    assert _drift(project, capsys, "--html", str(page))[0] == 3
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={tmp_path / 'c'}"]
    dom = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert dom.count("<svg") == 11 and dom.count("<figure") == 11 and "G1</b> PSI" in dom
    shot = tmp_path / "drift.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1300,1400", page.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_render_html_escapes_names() -> None:
    report = {"endpoint": "<pred>", "min_rows": MIN_ROWS, "models": []}
    page = render_html(report, "a & b", ["<note>"])
    assert "<pred>" not in page and "&lt;pred&gt;" in page and "&lt;note&gt;" in page
