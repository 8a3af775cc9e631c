"""An injection corpus logged as every kind of name, value and note: the built HTML is parsed
(no injected element, handler or javascript: URL; every JSON block intact) and every page is
opened in headless Chromium, where no injected script may run (window.__pwned stays unset)."""

from __future__ import annotations

import json
import re
import warnings
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from playwright.sync_api import expect

import reporter as mlflow
from reporter.core.secrets import SecretWarning
from reporter.site.build import build
from tests.site.browser import wait_for_charts

FLAG = "window.__pwned=1"
CORPUS = [
    f"<script>{FLAG}</script>",
    f'"><img src=x onerror="{FLAG}">',
    f"' onmouseover='{FLAG}' x='",
    f"javascript:{FLAG}",
    f"</script><script>{FLAG}</script>",
    f"<!--<script>{FLAG}</script>-->",
    f"<svg onload={FLAG}>",
    f"{{{{7*7}}}} ${{{FLAG}}}",
    f'");{FLAG};("',
    "\u202eexe.txt \u2066isolate\u2069",
    f"<iframe src=javascript:{FLAG}>",
    f"datum.value); {FLAG}; (",
]
MARKDOWN = (
    f'# Notes\n\n[click me](javascript:{FLAG}) and <img src=x onerror="{FLAG}">\n\n'
    '![tracking pixel](https://tracker.example/pixel.png) <img src="//evil.example/p.png">\n\n'
    f'<script>{FLAG}</script>\n\n<iframe src="https://example.com"></iframe>\n\n'
    f'<a href="jAvAsCrIpT:{FLAG}">x</a> <div onclick="{FLAG}">y</div>\n'
)


@pytest.fixture(scope="module")
def injected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Log the corpus everywhere a string goes and build the site once for the module."""
    root = tmp_path_factory.mktemp("injection")
    store = str(root / "store")
    client = mlflow.Client(store)
    ids = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecretWarning)
        exp = client.create_experiment(CORPUS[0], tags={CORPUS[1]: CORPUS[2]})
        client.set_experiment_description(exp, MARKDOWN)
        for i, text in enumerate(CORPUS):
            run = client.create_run(
                exp,
                run_name=text,
                tags={
                    text: text,
                    "mlflow.note.content": MARKDOWN,
                    "mlflow.source.git.repoURL": CORPUS[3],
                    "mlflow.source.git.commit": "0123456789abcdef0123456789abcdef01234567",
                },
            )
            run_id = run.info.run_id
            client.log_param(run_id, text, text)
            client.log_param(run_id, "depth", str(i))
            client.log_metric(run_id, text, float(i))
            client.log_metric(run_id, "loss", 1.0 / (i + 1))
            client.log_text(run_id, MARKDOWN, f"notes/{i}.md")
            client.log_text(run_id, text, f"{text.replace('/', '_')}.txt")
            client.log_text(run_id, f"<html><script>{FLAG}</script></html>", "page.html")
            client.log_text(
                run_id,
                f'<svg xmlns="http://www.w3.org/2000/svg" onload="{FLAG}">'
                f"<script>{FLAG}</script></svg>",
                "figure.svg",
            )
            client.log_image(
                run_id,
                np.zeros((2, 2, 3), dtype=np.uint8),
                f"img/{i}-{text[:8].replace('/', '_')}.png",
            )
            client.set_terminated(run_id)
            ids.append(run_id)
        # the registry: every corpus text as a model name (MLflow's names take no '/' or ':'),
        # tag and description, each version from a run whose metric keys are the corpus too
        for i, text in enumerate(CORPUS):
            name = f"{text.replace('/', '_').replace(':', '_')} {i}"
            client.create_registered_model(name, tags={text: text}, description=MARKDOWN)
            for run_id in ids[i : i + 2]:
                client.create_model_version(
                    name, f"runs:/{run_id}/m", run_id=run_id, tags={text: text},
                    description=MARKDOWN,
                )  # fmt: skip
            client.set_registered_model_alias(name, "champion", 1)
    config = root / "tracker-report.toml"
    config.write_text(
        f"[[compare]]\nname = {json.dumps(CORPUS[4])}\nruns = {json.dumps(ids[:3])}\n"
    )
    out = root / "site"
    from reporter.view.config import load_config

    build(load_config({"store": store, "out": str(out)}, str(config)))
    return out, ids


class Audit(HTMLParser):
    """Collect what could run: elements, handlers, URLs, script blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.json_blocks: list[str] = []
        self._in_json = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action", "formaction", "xlink:href") and value:
                scheme = urlsplit(re.sub(r"[\x00-\x20]", "", value)).scheme.lower()
                if scheme not in ("", "http", "https", "mailto", "data"):
                    self.problems.append(f"<{tag} {name}={value!r}>")
                if scheme == "data" and not value.startswith("data:image/") and value != "data:,":
                    self.problems.append(f"<{tag} {name}=data:...>")
        if tag == "script":
            kind = values.get("type")
            src = values.get("src") or ""
            if kind == "application/json":
                self._in_json = True
                self.json_blocks.append("")
            elif not src or urlsplit(src).scheme or not src.endswith(".js"):
                self.problems.append(f"<script {values}>")
        if tag in ("iframe", "frame", "object", "embed") and (
            tag != "iframe" or values.get("sandbox") != "" or "src" in values
        ):
            self.problems.append(f"<{tag} {values}>")
        equiv = values.get("http-equiv")
        if tag in ("base", "meta") and equiv is not None and equiv.lower() == "refresh":
            self.problems.append(f"<{tag} {values}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_json = False

    def handle_data(self, data: str) -> None:
        if self._in_json:
            self.json_blocks[-1] += data


def test_the_html_holds_no_injected_markup(injected):
    out, _ = injected
    pages = sorted(out.rglob("*.html"))
    assert len(pages) >= len(CORPUS) + 4  # index, experiment, compare, curated, 404, runs
    assert len(list(out.glob("models/*.html"))) == len(CORPUS) + 1  # and the Models page
    for page in pages:
        audit = Audit()
        audit.feed(page.read_text(encoding="utf-8"))
        assert audit.problems == [], page.relative_to(out)
        for block in audit.json_blocks:
            json.loads(block)  # intact: nothing broke out of it
    run_page = out / "runs" / injected[1][0] / "index.html"
    text = run_page.read_text(encoding="utf-8")
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in text  # shown, as text
    for data_file in out.rglob("*.js"):
        if "static" not in data_file.parts:
            body = data_file.read_text(encoding="utf-8")
            assert "</script" not in body.lower() and "<" not in body, data_file


def page_urls(out: Path, ids: list[str]) -> list[str]:
    urls = [p.resolve().as_uri() for p in sorted(out.rglob("*.html")) if "artifacts" not in p.parts]
    compare = next(out.glob("experiments/*/compare.html"))
    urls.append(compare.resolve().as_uri() + "#runs=" + ",".join(ids))
    return urls


def test_no_injected_script_runs_in_chromium(page, injected):
    out, ids = injected
    tab, rec = page
    for url in page_urls(out, ids):
        tab.goto(url)
        tab.wait_for_load_state("load")
        if "/experiments/" in url and url.endswith("index.html"):
            wait_for_charts(tab)
            box = tab.get_by_role("searchbox", name="Filter runs")
            for text in CORPUS[:4]:
                box.fill(text)
            box.fill("")
        tab.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")
        tab.mouse.move(200, 300)
        tab.wait_for_timeout(50)
        assert tab.evaluate("typeof window.__pwned") == "undefined", url
    assert rec.dialogs == []
    assert [e for e in rec.errors if "Chart failed" in e] == []
    # the HTML artifacts' previews tried to run their script and their sandbox refused
    assert any("Blocked script execution in 'about:srcdoc'" in e for e in rec.errors)
    assert rec.outside(out.resolve().as_uri()) == []


def test_bidi_controls_are_shown_not_obeyed(page, injected):
    out, ids = injected
    tab, rec = page
    bidi = ids[CORPUS.index("\u202eexe.txt \u2066isolate\u2069")]
    tab.goto((out / "runs" / bidi / "index.html").resolve().as_uri())
    heading = tab.locator("h1")
    expect(heading).to_contain_text("[U+202E]exe.txt [U+2066]isolate[U+2069]")
    text = tab.evaluate("() => document.body.innerText")
    assert "\u202e" not in text and "\u2066" not in text
    experiment = next(out.glob("experiments/*/index.html"))
    tab.goto(experiment.resolve().as_uri())
    tab.wait_for_selector("table.runs[data-ready='true']", state="attached")
    cells = tab.evaluate("() => document.querySelector('table.runs tbody').innerText")
    assert "[U+202E]exe.txt" in cells and "\u202e" not in cells
    # only the corpus's own <img src=x> (kept, without its handler) fails to load, and the
    # HTML artifact's script is refused by its sandbox
    assert [
        e
        for e in rec.errors
        if not re.search(r"ERR_FILE_NOT_FOUND.*/x'", e)
        and "Blocked script execution in 'about:srcdoc'" not in e
    ] == []
