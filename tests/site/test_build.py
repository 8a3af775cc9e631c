"""`tracker-report build` end to end: files, links, escaping, config, exit codes, rebuilds."""

from __future__ import annotations

import html.parser
import os
import posixpath
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

import reporter
from reporter.site.build import build
from reporter.view.config import BuildConfig, load_config
from tests.cli import CliResult, run_cli
from tests.conftest import CLI_CODE, PYTHON, python_env


class LinkParser(html.parser.HTMLParser):
    """Collect href/src attributes, script bodies and text of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def pages(out: Path) -> list[Path]:
    """Every HTML page of a built site."""
    return sorted(out.rglob("*.html"))


def parse(path: Path) -> LinkParser:
    """Parse one page."""
    parser = LinkParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_build_writes_every_page_and_the_closing_line(built, site_store):
    result, out = built
    assert (result.experiments, result.runs) == (2, 4)
    # index, experiments, compare pages, runs, storage, 404
    assert result.pages == 1 + 2 + 2 + 4 + 1 + 1
    for run in ("parent", "child", "evil", "cnn"):
        assert (out / "runs" / site_store[run] / "index.html").is_file()
    assert not (out / "runs" / site_store["deleted"]).exists()
    assert (out / "experiments/forecast/index.html").is_file()
    assert (out / "404.html").is_file()
    assert result.summary().startswith("Built 2 experiments, 4 runs, 11 pages in ")
    assert result.summary().endswith(f"-> {out / 'index.html'}")


def test_every_link_resolves_to_a_file_in_the_site(built):
    _, out = built
    checked = 0
    for page in pages(out):
        for link in parse(page).links:
            parts = urlsplit(link)
            if parts.scheme in ("http", "https", "mailto", "data") or link.startswith("#"):
                continue  # outbound links (a commit on GitHub) and in-page anchors
            assert not parts.scheme and not link.startswith("/"), f"{page}: {link} not relative"
            target = posixpath.normpath(
                posixpath.join(page.parent.relative_to(out).as_posix(), unquote(parts.path))
            )
            assert (out / target).is_file(), f"{page.relative_to(out)} links to missing {link}"
            checked += 1
    assert checked > 50


def test_artifact_names_with_url_characters_link_to_their_files(store_uri, tmp_path):
    import reporter as mlflow

    names = ["a#1.txt", "b?x.txt", "c%20d e.txt", "ü.txt"]
    with mlflow.start_run() as run:
        for name in names:
            mlflow.log_text(f"content of {name}", f"odd/{name}")
    out = tmp_path / "site"
    build(BuildConfig(store=store_uri, out=str(out)))
    page = out / "runs" / run.info.run_id / "index.html"
    found = {}
    for link in parse(page).links:
        target = (page.parent / unquote(urlsplit(link).path)).resolve()
        if "/odd/" in target.as_posix():
            found[target.name] = target.read_text()
    assert found == {name: f"content of {name}" for name in names}


def test_no_page_loads_anything_from_the_network(built):
    _, out = built
    for page in pages(out):
        text = page.read_text(encoding="utf-8")
        for tag in ('<script src="http', '<link rel="stylesheet" href="http', 'src="//'):
            assert tag not in text, page
    for js in (out / "static").rglob("*.js"):
        assert "sourceMappingURL" not in js.read_text(encoding="utf-8")


def test_untrusted_strings_are_escaped_everywhere(built, site_store):
    _, out = built
    evil_page = out / "runs" / site_store["evil"] / "index.html"
    for page in (evil_page, out / "experiments/forecast/index.html", out / "index.html"):
        text = page.read_text(encoding="utf-8")
        assert "<script>window.__pwned" not in text, page
        for body in parse(page).scripts:
            assert "</script" not in body.lower()
    text = evil_page.read_text(encoding="utf-8")
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in text  # shown as text


def test_markdown_is_rendered_and_sanitised(built):
    _, out = built
    text = (out / "experiments/forecast/index.html").read_text(encoding="utf-8")
    assert "<strong>load</strong>" in text and "<script>alert(1)</script>" not in text


def test_artifacts_copied_previewed_and_size_limited(built, site_store):
    result, out = built
    arts = out / "runs" / site_store["parent"] / "artifacts"
    assert (arts / "config.json").is_file() and (arts / "plots/blank.png").is_file()
    assert not (arts / "blobs/big.bin").exists()
    assert any("blobs/big.bin" in w and "not copied" in w for w in result.warnings)
    text = (out / "runs" / site_store["parent"] / "index.html").read_text(encoding="utf-8")
    assert '<img src="artifacts/plots/blank.png"' in text
    assert '<th scope="col">x</th>' in text  # CSV preview as a table
    assert "<h4>Notes</h4>" in text  # markdown artifact rendered, headings demoted


def test_rebuild_rewrites_nothing_and_same_store_gives_same_bytes(
    site_store, tmp_path, monkeypatch
):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    config = BuildConfig(store=site_store["store"], out=str(tmp_path / "a"))
    first = build(config)
    again = build(config)
    assert first.stats.written > 0 and again.stats.written == 0
    assert again.stats.unchanged == first.stats.written  # nothing changed: nothing rendered
    assert (again.runs, again.pages) == (first.runs, first.pages)
    other = build(BuildConfig(store=site_store["store"], out=str(tmp_path / "b")))
    files_a = {
        p.relative_to(tmp_path / "a"): p.read_bytes()
        for p in (tmp_path / "a").rglob("*")
        if p.is_file()
    }
    files_b = {
        p.relative_to(tmp_path / "b"): p.read_bytes()
        for p in (tmp_path / "b").rglob("*")
        if p.is_file()
    }
    assert files_a == files_b and other.stats.written == len(files_b)
    assert "2023-11-14 22:13 UTC" in (tmp_path / "a/index.html").read_text()


def test_build_never_writes_to_the_store(site_store, tmp_path):
    root = Path(site_store["store"])
    before = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}
    build(BuildConfig(store=site_store["store"], out=str(tmp_path / "s")))
    after = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}
    assert before == after


def test_clean_removes_stale_files_only_in_a_site_folder(site_store, tmp_path):
    out = tmp_path / "s"
    build(BuildConfig(store=site_store["store"], out=str(out)))
    (out / "stale.html").write_text("old")
    build(BuildConfig(store=site_store["store"], out=str(out)))
    assert (out / "stale.html").exists()
    build(BuildConfig(store=site_store["store"], out=str(out), clean=True))
    assert not (out / "stale.html").exists() and (out / "index.html").exists()


def test_link_and_skip_artifact_modes(site_store, tmp_path):
    out = tmp_path / "link"
    build(BuildConfig(store=site_store["store"], out=str(out), artifacts="link"))
    text = (out / "runs" / site_store["parent"] / "index.html").read_text(encoding="utf-8")
    assert not (out / "runs" / site_store["parent"] / "artifacts").exists()
    assert Path(site_store["store"]).resolve().as_uri() in text
    out = tmp_path / "skip"
    build(BuildConfig(store=site_store["store"], out=str(out), artifacts="skip"))
    text = (out / "runs" / site_store["parent"] / "index.html").read_text(encoding="utf-8")
    assert "config.json" in text and 'href="artifacts/' not in text


def test_config_file_and_pyproject_with_flags_winning(tmp_path, monkeypatch):
    monkeypatch.delenv("TRACKER_TRACKING_URI")
    (tmp_path / "tracker-report.toml").write_text('title = "From file"\nmax_points = 50\n')
    config = load_config({"title": None, "max_points": 70}, cwd=str(tmp_path))
    assert (config.title, config.max_points, config.store) == ("From file", 70, "./tracker-store")
    other = tmp_path / "p"
    other.mkdir()
    (other / "pyproject.toml").write_text('[tool.tracker-report]\nout = "public"\n')
    assert load_config({}, cwd=str(other)).out == "public"


def test_user_theme_overrides_one_template_and_adds_static(site_store, tmp_path):
    theme = tmp_path / "theme"
    (theme / "templates").mkdir(parents=True)
    (theme / "static").mkdir()
    (theme / "templates" / "base.html").write_text(
        '{% extends "default/base.html" %}{% block head %}'
        '<link rel="stylesheet" href="{{ \'static/extra.css\' | url }}">{% endblock %}'
    )
    (theme / "static" / "extra.css").write_text("body { color: red; }")
    out = tmp_path / "s"
    build(BuildConfig(store=site_store["store"], out=str(out), theme=str(theme)))
    run_page = (out / "runs" / site_store["parent"] / "index.html").read_text(encoding="utf-8")
    assert 'href="../../static/extra.css"' in run_page and "Metric charts" in run_page
    assert (out / "static/extra.css").is_file() and (out / "static/style.css").is_file()


# --- the command line ----------------------------------------------------------------------
def cli(*args: str, cwd: Path | None = None, **env: str) -> CliResult:
    """Run `tracker-report ARGS` in this process."""
    return run_cli(*args, cwd=cwd, **env)


def test_cli_build_success_and_strict(site_store, tmp_path):
    out = cli(
        "build",
        "--store",
        site_store["store"],
        "--out",
        str(tmp_path / "s"),
        "--title",
        "Report & co",
    )
    assert out.returncode == 0, out.stderr
    assert "Built 2 experiments, 4 runs, 11 pages" in out.stdout
    assert "Report &amp; co" in (tmp_path / "s/index.html").read_text()
    strict = cli(
        "build",
        "--store",
        site_store["store"],
        "--out",
        str(tmp_path / "t"),
        "--strict",
        cwd=tmp_path,
    )
    assert strict.returncode == 0  # no warnings in this store at the default size limit
    (tmp_path / "tracker-report.toml").write_text("max_artifact_mb = 0.1\n")
    strict = cli(
        "build",
        "--store",
        site_store["store"],
        "--out",
        str(tmp_path / "t"),
        "--strict",
        cwd=tmp_path,
    )
    assert strict.returncode == 1 and "big.bin" in strict.stderr and "--strict" in strict.stderr


def test_cli_errors_are_clear_with_the_right_exit_codes(site_store, tmp_path):
    missing = cli("build", "--store", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x"))
    assert missing.returncode == 1 and "No tracker-report store at" in missing.stderr
    theme = cli("build", "--store", site_store["store"], "--theme", "nope")
    assert theme.returncode == 1 and "Built-in themes: default" in theme.stderr
    (tmp_path / "bad.toml").write_text("title = \n")
    bad = cli("build", "--store", site_store["store"], "--config", str(tmp_path / "bad.toml"))
    assert bad.returncode == 1 and "line 1" in bad.stderr
    (tmp_path / "unknown.toml").write_text("colour = 1\n")
    unknown = cli("build", "--config", str(tmp_path / "unknown.toml"))
    assert unknown.returncode == 1 and "colour" in unknown.stderr and "max_points" in unknown.stderr
    exp = cli(
        "build",
        "--store",
        site_store["store"],
        "--experiment",
        "nope",
        "--out",
        str(tmp_path / "y"),
    )
    assert exp.returncode == 1 and "'forecast'" in exp.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep")
    full = cli("build", "--store", site_store["store"], "--out", str(tmp_path / "full"))
    assert full.returncode == 1 and "not empty" in full.stderr
    assert (tmp_path / "full" / "mine.txt").read_text() == "keep"
    usage = cli("build", "--artifacts", "maybe")
    assert usage.returncode == 2 and "copy" in usage.stderr
    for result in (missing, theme, bad, unknown, exp, full, usage):
        assert "Traceback" not in result.stderr


def test_help_explains_every_option_with_an_example():
    out = cli("build", "--help")
    assert out.returncode == 0
    for option in (
        "--store",
        "--out",
        "--title",
        "--base-url",
        "--theme",
        "--experiment",
        "--config",
        "--max-points",
        "--artifacts",
        "--strict",
        "--clean",
    ):
        assert option in out.stdout
    assert out.stdout.count("Example") >= 6


def test_base_url_adds_canonical_links_and_a_sitemap(site_store, tmp_path):
    out = tmp_path / "s"
    build(
        BuildConfig(
            store=site_store["store"], out=str(out), base_url="https://org.github.io/project/"
        )
    )
    sitemap = (out / "sitemap.xml").read_text()
    assert "https://org.github.io/project/runs/" in sitemap
    assert (
        '<link rel="canonical" href="https://org.github.io/project/index.html">'
        in (out / "index.html").read_text()
    )
    assert os.path.exists(out / "static/app.js")


def test_the_example_theme_builds(site_store, tmp_path):
    from tests.conftest import REPO

    out = tmp_path / "s"
    build(
        BuildConfig(store=site_store["store"], out=str(out), theme=str(REPO / "examples" / "theme"))
    )
    assert "Nothing here" in (out / "404.html").read_text()
    assert 'href="static/brand.css"' in (out / "index.html").read_text()
    assert (out / "static/brand.css").is_file()


def test_curated_comparisons_become_pages(site_store, tmp_path):
    (tmp_path / "tracker-report.toml").write_text(
        '[[compare]]\nname = "Best two by rmse"\nexperiment = "forecast"\n'
        'filter = "metrics.rmse < 5"\norder_by = ["metrics.rmse ASC"]\nlimit = 2\n'
        'description = "The **decision**."\n\n'
        '[[compare]]\nname = "Parent vs child"\nruns = ["parent", "child"]\n'
    )
    config = load_config(
        {"store": site_store["store"], "out": str(tmp_path / "s")}, cwd=str(tmp_path)
    )
    assert [c.name for c in config.compare] == ["Best two by rmse", "Parent vs child"]
    result = build(config)
    out = tmp_path / "s"
    best = (out / "experiments/forecast/compare/best-two-by-rmse.html").read_text()
    assert f'data-runs="{site_store["child"]},{site_store["parent"]}"' in best  # rmse 2.5, 3.25
    assert "<strong>decision</strong>" in best
    pair = (out / "experiments/forecast/compare/parent-vs-child.html").read_text()
    assert f'data-runs="{site_store["parent"]},{site_store["child"]}"' in pair
    page = (out / "experiments/forecast/index.html").read_text()
    assert 'href="compare/best-two-by-rmse.html"' in page and "Parent vs child" in page
    assert not (out / "experiments/vision/compare").exists()  # selects nothing there
    assert result.warnings == []


def test_comparisons_with_look_alike_names_and_unknown_runs(site_store, tmp_path):
    (tmp_path / "tracker-report.toml").write_text(
        '[[compare]]\nname = "Best runs"\nruns = ["parent", "nobody"]\n\n'
        '[[compare]]\nname = "best-runs"\nexperiment = "forecast"\nruns = ["child"]\n'
    )
    config = load_config(
        {"store": site_store["store"], "out": str(tmp_path / "s")}, cwd=str(tmp_path)
    )
    result = build(config)
    pages = sorted(p.name for p in (tmp_path / "s/experiments/forecast/compare").iterdir())
    assert len(pages) == 2 and "best-runs.html" in pages  # the second gets a stable suffix
    assert [w for w in result.warnings if "nobody" in w] == [
        "Comparison 'Best runs': no run named (or with id) 'nobody' in experiment 'forecast'"
    ]


def test_a_comparison_of_a_missing_experiment_warns_and_fails_strict(site_store, tmp_path):
    (tmp_path / "tracker-report.toml").write_text(
        '[[compare]]\nname = "Gone"\nexperiment = "no such"\nruns = ["parent"]\n'
    )
    config = load_config(
        {"store": site_store["store"], "out": str(tmp_path / "s")}, cwd=str(tmp_path)
    )
    result = build(config)
    assert [w for w in result.warnings if "Gone" in w] == [
        "Comparison 'Gone' names experiment 'no such', which is not in the site; "
        "experiments: 'forecast', 'vision'"
    ]
    strict = subprocess.run(
        [
            PYTHON,
            "-c",
            CLI_CODE,
            "build",
            "--store",
            site_store["store"],
            "--out",
            str(tmp_path / "strict"),
            "--strict",
        ],
        capture_output=True,
        text=True,
        env=python_env(),
        cwd=tmp_path,
    )
    assert strict.returncode == 1 and "no such" in strict.stderr


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[[compare]]\nruns = ["a"]\n', "needs a name"),
        ('[[compare]]\nname = "x"\n', "exactly one of runs"),
        ('[[compare]]\nname = "x"\nfilter = "metrics.rmse <"\n', "position"),
        ('[[compare]]\nname = "x"\nruns = ["a"]\ncolour = 1\n', "colour"),
        (
            '[[compare]]\nname = "x"\nruns = ["a"]\n[[compare]]\nname = "x"\nruns = ["b"]\n',
            "used twice: 'x'",
        ),
    ],
)
def test_bad_comparisons_fail_with_a_clear_message(tmp_path, table, message):
    (tmp_path / "tracker-report.toml").write_text(table)
    with pytest.raises(reporter.InvalidArgumentError, match=message):
        load_config({}, cwd=str(tmp_path))


def test_the_build_fingerprint_follows_the_code_not_only_the_version(site_store, tmp_path):
    """A checkout or an editable install changes the code without a new version: a build must
    not answer "nothing to do" with pages the old code made."""
    from reporter.site import theme
    from reporter.site.build import fingerprint
    from reporter.view import loader

    code = tmp_path / "code"
    code.mkdir()
    (code / "pages.py").write_text("A = 1\n")
    config = BuildConfig(store=site_store["store"], out=str(tmp_path / "site"))
    chosen = theme.resolve_theme(config.theme)
    store = loader.open_store(config.store)
    before = fingerprint(config, chosen, store, code)
    assert fingerprint(config, chosen, store, code) == before
    (code / "pages.py").write_text("A = 22\n")
    assert fingerprint(config, chosen, store, code) != before
