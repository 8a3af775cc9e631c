"""Safe to publish: secrets logged anywhere are absent from every file of the built site;
profiles leave out what they name; the size budget fails before writing."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from urllib.parse import quote

import pytest

import reporter as mlflow
from reporter.core.secrets import SecretWarning
from reporter.site.build import build
from reporter.view.config import BuildConfig, load_config
from tests.conftest import CLI_CODE, python_env

SECRETS = {
    "param api_key": "sk-proj-abcdef0123456789",
    "param db_url": "hunter2-db-pass",  # inside postgres://trainer:<it>@db...
    "tag token": "tok_9f8e7d6c5b4a",
    "tag endpoint": "abcdefghijklmnopqrstuvwxyz012345",  # a bearer token
    "run name": "AKIAIOSFODNN7EXAMPLE",
    "note": "ghp_" + "a1B2" * 9,
    "experiment description": "MIIEowIBAAKCAQEAsecretkeymaterial",
    "experiment tag": "xoxb-1234567890-1234567890123-abcdefghijklmnopqrstuvwx",
    ".env file": "ENV_FILE_SECRET_VALUE_42",
    "id_rsa file": "RSA_FILE_SECRET_VALUE_43",
    "config.json": "json-config-secret-44",
    "notes.md": "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "git remote": "gitremotepass45",
}


@pytest.fixture
def secret_store(store_uri: str, tmp_path: Path) -> str:
    """A store where training code logged secrets everywhere it could."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecretWarning)  # logging warns; tested elsewhere
        exp = mlflow.create_experiment(
            "leaky",
            tags={"slack": f"hook {SECRETS['experiment tag']}"},
        )
        mlflow.set_experiment(experiment_id=exp)
        mlflow.set_experiment_description(
            "Notes\n\n-----BEGIN RSA PRIVATE KEY-----\n"
            f"{SECRETS['experiment description']}\n-----END RSA PRIVATE KEY-----\n"
        )
        with mlflow.start_run(
            run_name=f"run {SECRETS['run name']}",
            description=f"token {SECRETS['note']} in the note",
        ):
            mlflow.log_params(
                {
                    "api_key": SECRETS["param api_key"],
                    "lr": 0.1,
                    "db_url": f"postgres://trainer:{SECRETS['param db_url']}@db:5432/x",
                }
            )
            mlflow.set_tags(
                {
                    "token": SECRETS["tag token"],
                    "endpoint": f"Authorization: Bearer {SECRETS['tag endpoint']}",
                    "mlflow.source.git.repoURL": (
                        f"https://ci:{SECRETS['git remote']}@github.com/org/repo.git"
                    ),
                    "team": "forecasting",
                }
            )
            mlflow.log_metric("rmse", 0.5)
            mlflow.log_text(f"API_TOKEN={SECRETS['.env file']}\n", ".env")
            mlflow.log_text(f"{SECRETS['id_rsa file']}\n", "keys/id_rsa")
            mlflow.log_dict({"model": "rf", "api_key": SECRETS["config.json"]}, "config.json")
            mlflow.log_text(f"# Notes\n\nStripe: {SECRETS['notes.md']}\n", "notes.md")
            mlflow.log_text("x,y\n1,2\n", "data/clean.csv")
            mlflow.log_text("<h1>report</h1><script>window.__pwned=1</script>", "report.html")
    return store_uri


def site_bytes(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def leaks(out: Path) -> list[str]:
    """Return 'what in which file' for every secret found in any form in the site."""
    found = []
    files = site_bytes(out)
    for what, secret in SECRETS.items():
        forms = {secret, quote(secret), json.dumps(secret)[1:-1]}
        for rel, data in files.items():
            if any(form.encode() in data for form in forms):
                found.append(f"{what} in {rel}")
    return found


def test_no_secret_reaches_any_file_of_the_site(secret_store, tmp_path):
    out = tmp_path / "site"
    result = build(BuildConfig(store=secret_store, out=str(out)))
    assert leaks(out) == []
    # the build says what it masked and withheld: key names and reasons, never the values
    text = "\n".join(result.warnings)
    assert "Masked param values that look like secrets: api_key, db_url" in text
    assert "Masked tag values that look like secrets:" in text and "token" in text
    assert "Masked run name values" in text
    for path in (".env", "keys/id_rsa", "config.json", "notes.md"):
        assert f"Withheld artifact {path} of run" in text
    assert not any(secret in text for secret in SECRETS.values())
    # what stays is published: the clean CSV is copied, the HTML only as text
    run_dir = next((out / "runs").iterdir())
    assert (run_dir / "artifacts/data/clean.csv").read_text() == "x,y\n1,2\n"
    assert not (run_dir / "artifacts/report.html").exists()
    assert (run_dir / "artifacts/report.html.txt").read_text().startswith("<h1>report")
    page = (run_dir / "index.html").read_text()
    assert "[masked]" in page and "withheld: its name looks like a secrets file" in page
    assert 'sandbox=""' in page and "srcdoc=" in page


def test_the_leak_check_sees_secrets_when_masking_is_off(secret_store, tmp_path):
    """The control: with masking off the same check finds the secrets (so it can see them)."""
    out = tmp_path / "site"
    build(BuildConfig(store=secret_store, out=str(out), mask_secrets=False))
    found = leaks(out)
    for what in ("param api_key", "tag token", "run name", "note", ".env file", "config.json"):
        assert any(f.startswith(what + " in ") for f in found), (what, found)


def test_allow_list_and_extra_patterns(secret_store, tmp_path):
    out = tmp_path / "site"
    build(
        BuildConfig(
            store=secret_store, out=str(out), secret_allow=("api_key",), secret_keys=("^team$",)
        )
    )
    found = leaks(out)
    assert [f for f in found if f.startswith("param api_key")]  # allowed: shown
    assert not [f for f in found if f.startswith("tag token")]  # still masked
    run_dir = next((out / "runs").iterdir())
    assert "forecasting" not in (run_dir / "index.html").read_text()  # team: an extra pattern


def test_profiles_leave_out_what_they_name(secret_store, tmp_path):
    mlflow.set_experiment("leaky")
    with mlflow.start_run(run_name="draft"):
        mlflow.set_tag("publish", "no")
        mlflow.log_metric("rmse", 9.0)
    mlflow.set_experiment("scratch")
    with mlflow.start_run(run_name="tmp"):
        mlflow.log_metric("x", 1.0)
    (tmp_path / "tracker-report.toml").write_text(
        "[profile.stakeholders]\n"
        'runs = "metrics.rmse < 5"\n'
        'exclude_experiments = ["scratch*"]\n'
        'exclude_tags = ["team"]\n'
        'exclude_params = ["lr"]\n'
        'exclude_artifacts = ["data/*"]\n'
    )
    config = load_config(
        {"store": secret_store, "out": str(tmp_path / "s"), "profile": "stakeholders"},
        cwd=str(tmp_path),
    )
    result = build(config)
    out = tmp_path / "s"
    assert result.experiments == 1 and result.runs == 1  # no scratch, no draft
    assert not (out / "experiments/scratch").exists()
    run_dir = next((out / "runs").iterdir())
    page = (run_dir / "index.html").read_text()
    assert "forecasting" not in page and ">lr<" not in page and "draft" not in page
    assert not (run_dir / "artifacts/data").exists()
    # the built-in public profile hides who ran what, and where; internal keeps it
    client = mlflow.Client(secret_store)
    leaky = client.get_experiment_by_name("leaky")
    assert leaky is not None
    run = client.create_run(
        leaky.experiment_id,
        run_name="by-alice",
        user_id="alice-the-user",
        tags={"mlflow.user": "alice-the-user", "reporter.host": "gpu-host-xyz-123"},
    )
    client.set_terminated(run.info.run_id)
    for profile, shown in (("public", False), ("internal", True)):
        site = tmp_path / profile
        build(
            load_config(
                {"store": secret_store, "out": str(site), "profile": profile}, cwd=str(tmp_path)
            )
        )
        files = {
            rel: data for rel, data in site_bytes(site).items() if not rel.startswith("static/")
        }
        for who in ("alice-the-user", "gpu-host-xyz-123"):
            assert any(who.encode() in data for data in files.values()) is shown, (profile, who)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CLI_CODE, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=python_env(),
        check=False,
    )


def test_cli_profile_budget_and_strict(secret_store, tmp_path):
    unknown = cli("build", "--store", secret_store, "--profile", "everyone", cwd=tmp_path)
    assert unknown.returncode == 1
    assert "Unknown profile 'everyone'; valid: internal, public" in unknown.stderr
    tiny = cli(
        "build", "--store", secret_store, "--out", "small", "--max-site-mb", "0.5", cwd=tmp_path
    )
    assert tiny.returncode == 1 and "over --max-site-mb 0.5; nothing was written" in tiny.stderr
    assert "MB  static/vendor/vega" in tiny.stderr  # the largest files are listed
    assert not (tmp_path / "small").exists()
    usage = cli("build", "--store", secret_store, "--max-site-mb", "-3", cwd=tmp_path)
    assert usage.returncode == 2
    roomy = cli(
        "build", "--store", secret_store, "--out", "site", "--max-site-mb", "50", cwd=tmp_path
    )
    assert roomy.returncode == 0, roomy.stderr
    assert "warning: Masked param values that look like secrets: api_key, db_url" in roomy.stderr
    strict = cli("build", "--store", secret_store, "--out", "site", "--strict", cwd=tmp_path)
    assert strict.returncode == 1 and "--strict" in strict.stderr  # unchanged rebuild too
    for result in (unknown, tiny, usage, roomy, strict):
        assert "Traceback" not in result.stderr


def test_a_symlink_in_the_store_is_skipped_with_a_warning(store_uri, tmp_path):
    import os

    outside = tmp_path / "outside.txt"
    outside.write_text("MACHINE_FILE_CONTENT_77")
    with mlflow.start_run() as run:
        mlflow.log_text("fine", "ok.txt")
    artifacts = next(Path(store_uri).rglob(f"{run.info.run_id}/artifacts"))
    os.symlink(outside, artifacts / "leak.txt")
    os.symlink(tmp_path, artifacts / "folder")
    out = tmp_path / "site"
    result = build(BuildConfig(store=store_uri, out=str(out)))
    skipped = [w for w in result.warnings if "a symbolic link" in w]
    assert len(skipped) == 2 and any("leak.txt" in w for w in skipped)
    assert not [rel for rel, data in site_bytes(out).items() if b"MACHINE_FILE_CONTENT_77" in data]
    assert (out / "runs" / run.info.run_id / "artifacts/ok.txt").read_text() == "fine"


@pytest.mark.parametrize(
    ("path", "safe"),
    [
        ("a/b.txt", True),
        ("model/MLmodel", True),
        ("../x", False),
        ("a/../../x", False),
        ("/etc/passwd", False),
        ("C:/x", False),
        ("a\\b", False),
        ("a//b", False),
        ("./a", False),
        ("", False),
    ],
)
def test_only_plain_relative_artifact_paths_are_published(path, safe):
    from reporter.view import publish

    assert publish.safe_path(path) is safe


HIDDEN = {
    "escaped note": "ghp_" + "Z9y8" * 9,
    "entity description": "ghp_" + "Q1w2" * 9,
    ".out artifact": "AKIAJ7EXAMPLEOUT0001",
    ".err artifact": "AKIAJ7EXAMPLEERR0002",
    ".jsonl artifact": "xoxb-2222222222-2222222222222-abcdefghijklmnopqrstuvwy",
    "long line": "AKIAJ7EXAMPLELONG003",
    "no extension": "AKIAJ7EXAMPLENOEXT04",
    "html entity artifact": "ghp_" + "E5r6" * 9,
}


def hidden_forms(secret: str) -> set[str]:
    """The token, and the ways it can be written so it renders as the token."""
    return {secret, secret.replace("_", "\\_"), secret.replace("_", "&#95;"), quote(secret)}


def hidden_leaks(out: Path, planted: dict[str, str]) -> list[str]:
    """Return 'what in which file' for every planted secret found, in any form, in the site."""
    files = site_bytes(out)
    return [
        f"{what} in {rel}"
        for what, secret in planted.items()
        for rel, data in files.items()
        if any(form.encode() in data for form in hidden_forms(secret))
    ]


def test_secrets_written_to_hide_from_a_scan_are_still_kept_out(store_uri, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecretWarning)
        exp = mlflow.create_experiment("hiding")
        mlflow.set_experiment(experiment_id=exp)
        mlflow.set_experiment_description(
            f"token: {HIDDEN['entity description'].replace('_', '&#95;')}"
        )
        with mlflow.start_run(
            description=f"token {HIDDEN['escaped note'].replace('_', chr(92) + '_')} here"
        ):
            mlflow.log_text(f"starting\nkey={HIDDEN['.out artifact']}\n", "train.out")
            mlflow.log_text(f"Traceback\n  aws {HIDDEN['.err artifact']}\n", "train.err")
            mlflow.log_text(json.dumps({"slack": HIDDEN[".jsonl artifact"]}) + "\n", "ev.jsonl")
            mlflow.log_text("x" * 20_000 + f" {HIDDEN['long line']}\n", "long.log")
            mlflow.log_text(f"id {HIDDEN['no extension']}\n", "NOTES")
            mlflow.log_text(
                f"<p>{HIDDEN['html entity artifact'].replace('_', '&#95;')}</p>", "page.html"
            )
            mlflow.log_text("a perfectly clean log line\n", "clean.out")
    out = tmp_path / "site"
    result = build(BuildConfig(store=store_uri, out=str(out)))
    assert hidden_leaks(out, HIDDEN) == []
    text = "\n".join(result.warnings)
    for path in ("train.out", "train.err", "ev.jsonl", "long.log", "NOTES", "page.html"):
        assert f"Withheld artifact {path} of run" in text, text
    assert "clean.out" not in text  # a clean text file is published


IN_NAMES = {
    "experiment name": "ghp_" + "N4m3" * 9,
    "param key": "AKIAJ7EXAMPLEPARAMKY",
    "tag key": "xoxb-2234567890-1234567890123-abcdefghijklmnopqrstuvwx",
    "metric key": "sk_live_" + "Metr1cKey" * 3,
    "artifact name": "glpat-" + "ArtifactName01234567",
    "log_table cell": "ghp_" + "C3ll" * 9,
    "log_table column": "AKIAJ7EXAMPLECOLUMNN",
}


def test_credentials_in_names_and_table_cells_are_kept_out(store_uri, tmp_path):
    """Names are shown too: an experiment name, param/tag/metric keys and artifact file names
    holding a credential are masked (artifacts withheld), and so is a log_table Parquet file
    with one in a cell or a column name."""
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecretWarning)
        mlflow.set_experiment(f"team {IN_NAMES['experiment name']}")
        with mlflow.start_run() as run:
            mlflow.log_param(IN_NAMES["param key"], 1)
            mlflow.log_param("lr", 0.1)
            mlflow.set_tag(IN_NAMES["tag key"], "x")
            mlflow.log_metric(IN_NAMES["metric key"], 0.5, step=0)
            mlflow.log_metric(IN_NAMES["metric key"], 0.4, step=1)
            mlflow.log_metric("rmse", 0.3)
            mlflow.log_text("clean\n", f"logs/{IN_NAMES['artifact name']}.txt")
            mlflow.log_table(
                pd.DataFrame({"who": ["a", IN_NAMES["log_table cell"]]}), "tables/cells.parquet"
            )
            mlflow.log_table(
                pd.DataFrame({IN_NAMES["log_table column"]: [1, 2]}), "tables/columns.parquet"
            )
            mlflow.log_table(pd.DataFrame({"who": ["a", "b"], "n": [1, 2]}), "tables/clean.parquet")
    out = tmp_path / "site"
    result = build(BuildConfig(store=store_uri, out=str(out)))
    assert hidden_leaks(out, IN_NAMES) == []
    text = "\n".join(result.warnings)
    assert not any(secret in text for secret in IN_NAMES.values())
    for path in ("tables/cells.parquet", "tables/columns.parquet"):
        assert f"Withheld artifact {path} of run" in text, text
    assert "its name holds a credential" in text
    assert "Masked a credential in 1 experiment name" in text
    # the rest is published: other keys and their values, the clean table, the metric's chart
    run_dir = out / "runs" / run.info.run_id
    assert (run_dir / "artifacts/tables/clean.parquet").is_file()
    page = (run_dir / "index.html").read_text()
    assert ">lr<" in page and "[masked] (" in page
    control = tmp_path / "control"
    build(BuildConfig(store=store_uri, out=str(control), mask_secrets=False))
    shown = site_bytes(control)
    for what in ("experiment name", "param key", "metric key", "log_table cell"):
        assert any(IN_NAMES[what].encode() in data for data in shown.values()), what


def test_the_public_profile_leaves_out_machine_paths_and_pickled_models(store_uri, tmp_path):
    import pickle

    home = "/home/alice-the-user/projects/churn"
    mlflow.set_experiment("paths")
    with mlflow.start_run() as run:
        mlflow.set_tag("mlflow.source.name", f"{home}/train.py")
        mlflow.log_param("data", f"{home}/data/train.csv")
        mlflow.log_param("cmd", f"python {home}/train.py --lr 0.1")
        mlflow.log_param("lr", 0.1)
        model = tmp_path / "model.pkl"
        model.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
        mlflow.log_artifact(str(model), "model")
        mlflow.log_text("clean\n", "notes.txt")
    for profile, shown in (("public", False), ("internal", True)):
        site = tmp_path / profile
        build(
            load_config(
                {"store": store_uri, "out": str(site), "profile": profile}, cwd=str(tmp_path)
            )
        )
        files = site_bytes(site)
        assert any(b"alice-the-user" in data for data in files.values()) is shown, profile
        run_dir = site / "runs" / run.info.run_id
        assert (run_dir / "artifacts/model/model.pkl").exists() is shown, profile
        assert (run_dir / "artifacts/notes.txt").is_file()
        page = (run_dir / "index.html").read_text()
        assert "train.csv" in page and "0.1" in page
        if not shown:
            assert "python ~/projects/churn/train.py --lr 0.1" in page


MISSED_BEFORE = {
    "token before a non-ASCII letter": "glpat-" + "Q7w9ErTy1uIoPaSdFgHj",
    "token run on into more letters": "glpat-" + "Zx8Cv7Bn6Mq5Wl4Kj3Hg_" + "a" * 40,
    "text artifact with a NUL": "ghp_" + "NuL0" * 9,
    "Parquet under another name": "AKIAJ7EXAMPLEPQFILEX",
    "list cell": "sk_live_" + "L1stCell" * 3,
    "bytes cell": "xoxb-3234567890-1234567890123-abcdefghijklmnopqrstuvwx",
    "PNG text chunk": "ghp_" + "PnGt" * 9,
    "stored zip entry": "ghp_" + "Z1pE" * 9,
    "experiment name (in warnings)": "ghp_" + "W4rn" * 9,
}


def test_credentials_an_attacker_hid_from_the_first_scan_are_kept_out(store_uri, tmp_path):
    """Found by an adversarial pass: each of these reached the site once."""
    import io
    import zipfile

    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image, PngImagePlugin

    def artifact(name: str, data: bytes) -> None:
        path = tmp_path / "files" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        mlflow.log_artifact(str(path))

    s = MISSED_BEFORE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecretWarning)
        mlflow.set_experiment(f"exp {s['experiment name (in warnings)']}")
        mlflow.set_experiment_description("see AKIAABCDEFGHIJKLMNOP")  # a masked description
        with mlflow.start_run() as run:
            mlflow.log_param("note", s["token before a non-ASCII letter"] + "é")
            mlflow.log_param("long", s["token run on into more letters"])
            artifact("run.out", b"\x00\n" + s["text artifact with a NUL"].encode() + b"\n")
            table = io.BytesIO()
            pq.write_table(
                pa.table({"a": [s["Parquet under another name"]]}), table, compression="none"
            )
            artifact("data.pq", table.getvalue())
            mlflow.log_table(
                pd.DataFrame({"lst": [[s["list cell"]]], "byt": [s["bytes cell"].encode()]}),
                "y.parquet",
            )
            info = PngImagePlugin.PngInfo()
            info.add_text("Comment", s["PNG text chunk"])
            png = io.BytesIO()
            Image.new("RGB", (4, 4)).save(png, "PNG", pnginfo=info)
            artifact("img.png", png.getvalue())
            bundle = io.BytesIO()
            with zipfile.ZipFile(bundle, "w", zipfile.ZIP_STORED) as z:
                z.writestr("cfg.txt", f"token {s['stored zip entry']}\n")
            artifact("bundle.zip", bundle.getvalue())
            artifact("clean.png", png_bytes())
    out = tmp_path / "site"
    result = build(BuildConfig(store=store_uri, out=str(out)))
    assert hidden_leaks(out, MISSED_BEFORE) == []
    text = "\n".join(result.warnings)
    assert not any(secret in text for secret in MISSED_BEFORE.values())
    for path in ("run.out", "data.pq", "y.parquet", "img.png", "bundle.zip"):
        assert f"Withheld artifact {path} of run" in text, text
    assert (out / "runs" / run.info.run_id / "artifacts/clean.png").is_file()
    control = tmp_path / "control"
    build(BuildConfig(store=store_uri, out=str(control), mask_secrets=False))
    assert len(hidden_leaks(control, MISSED_BEFORE)) >= len(MISSED_BEFORE) - 1  # the zip's


def png_bytes() -> bytes:
    """A small PNG with no metadata."""
    import io

    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(png, "PNG")
    return png.getvalue()


def test_the_public_profile_finds_pickles_by_content_and_home_folders_everywhere(
    store_uri, tmp_path
):
    import gzip
    import io
    import pickle
    import zipfile

    pickled = pickle.dumps({"weights": [1, 2, 3]}, protocol=4)
    torch_like = io.BytesIO()
    with zipfile.ZipFile(torch_like, "w") as z:
        z.writestr("archive/data.pkl", pickled)
    files = {
        "model.PKL": pickled,
        "MODEL.PTH": pickled,
        "model.sav": pickled,
        "pickle_noext": pickled,
        "model.pkl.gz": gzip.compress(pickled),
        "state.ckpt.1": pickled,
        "weights.bin": torch_like.getvalue(),
        "compressed": gzip.compress(pickled),
    }
    home = "/home/alice-the-user"
    mlflow.set_experiment("home folders")
    mlflow.set_experiment_description(f"Data at {home}/proj/data.csv")
    with mlflow.start_run(run_name=f"from {home}/proj/train.py") as run:
        mlflow.log_param(f"{home}/key", 1)
        mlflow.log_metric(f"loss_{home}/x", 0.5)
        mlflow.log_text(f"cwd={home}/proj\n", "env.txt")
        mlflow.log_text("clean\n", "clean.txt")
        for name, data in files.items():
            path = tmp_path / "files" / name
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)
            mlflow.log_artifact(str(path), "models")
    site = tmp_path / "public"
    result = build(
        load_config({"store": store_uri, "out": str(site), "profile": "public"}, cwd=str(tmp_path))
    )
    assert not any(b"alice-the-user" in data for data in site_bytes(site).values())
    text = "\n".join(result.warnings)
    run_dir = site / "runs" / run.info.run_id
    for name in files:  # left out by the profile, like exclude_artifacts: not even listed
        assert f"models/{name}" not in text, name
        assert not list(run_dir.glob(f"artifacts/models/{name}*")), name
        assert name not in (run_dir / "index.html").read_text(), name
    assert "Withheld artifact env.txt" in text
    assert (run_dir / "artifacts/clean.txt").is_file()
    page = (run_dir / "index.html").read_text()
    assert "from ~/proj/train.py" in page


def test_exclude_tags_with_an_old_tag_name_excludes_mlflows_name():
    """A settings file written when system tags had `reporter.` names keeps working: the
    store reads `reporter.user` as `mlflow.user`, and the glob excludes both."""
    import pandas as pd

    from reporter.view import publish

    frame = pd.DataFrame(
        {
            "run_id": ["r1"],
            "run_name": ["a"],
            "tags.mlflow.user": ["alice"],
            "tags.mlflow.source.name": ["train.py"],
            "tags.team": ["x"],
        }
    )
    config = BuildConfig(store=".", exclude_tags=("reporter.user", "team"))
    shown = publish.runs_frame(frame, config, config.secret_rules())
    assert "tags.mlflow.user" not in shown.columns and "tags.team" not in shown.columns
    assert list(shown["tags.mlflow.source.name"]) == ["train.py"]


def test_metric_keys_that_read_alike_once_shortened_show_one_series(store_uri):
    """A public build shows an absolute path as its file name: two metric keys of one run that
    read alike then are one series (the last in key order) for every part of the build, its
    facts and point counts included, never two series under one name."""
    from reporter.view import loader

    mlflow.set_experiment("paths in keys")
    with mlflow.start_run() as run:
        for step in range(3):
            mlflow.log_metric("/srv/a/loss", 1.0 + step, step=step)
        for step in range(5):
            mlflow.log_metric("/srv/b/loss", 2.0 + step, step=step)
        mlflow.log_metric("rmse", 0.5)
    config = BuildConfig(store=store_uri, hide_paths=True, batch_points=4)  # several batches
    snapshot = loader.load(loader.open_store(store_uri), config)
    (data,) = snapshot.experiments
    source = data.series
    points = source.read([run.info.run_id])
    assert sorted(points.slices()) == [(run.info.run_id, "loss"), (run.info.run_id, "rmse")]
    a, b = points.slices()[(run.info.run_id, "loss")]
    assert points.value[a:b].tolist() == [2.0, 3.0, 4.0, 5.0, 6.0]  # /srv/b/loss
    assert source.rows[run.info.run_id] == 6 == len(points)
    assert sorted(source.lengths[run.info.run_id]) == [1, 5]
    assert source.facts["loss"].runs == 1 and source.facts["loss"].step.high == 4.0


@pytest.mark.parametrize("batch_points", [1, 1_000_000])
def test_keys_that_read_alike_are_one_column_of_the_runs_table(store_uri, tmp_path, batch_points):
    """Runs whose metric and param keys read alike once shortened (a public build) build, and
    show one column per name: each run's value from the last such key it logged."""
    from reporter.view import loader

    mlflow.set_experiment("alike")
    ids = {}
    for name, keys in (
        ("a", ["/home/alice/loss"]),
        ("b", ["/home/bob/loss"]),
        ("c", ["/x/loss", "loss"]),
    ):
        with mlflow.start_run(run_name=name) as run:
            for i, key in enumerate(keys):
                mlflow.log_metric(key, 0.5 + i, step=0)
                mlflow.log_param(key, f"v{i}")
        ids[name] = run.info.run_id
    config = BuildConfig(store=store_uri, hide_paths=True, batch_points=batch_points)
    (data,) = loader.load(loader.open_store(store_uri), config).experiments
    assert not data.runs.columns.duplicated().any()
    by_name = data.runs.set_index("run_name")
    # "/x/loss" sorts before "loss": run c shows its "loss"
    assert by_name["metrics.loss"].to_dict() == {"a": 0.5, "b": 0.5, "c": 1.5}
    assert by_name["params.loss"].to_dict() == {"a": "v0", "b": "v0", "c": "v1"}
    result = build(BuildConfig(store=store_uri, out=str(tmp_path / "site"), hide_paths=True))
    assert result.runs == 3
