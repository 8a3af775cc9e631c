"""What looks like a secret: key names, credential-shaped values, secret files; the masking
rules of the build; the warning at logging time."""

from __future__ import annotations

import warnings

import pytest

import reporter as mlflow
from reporter.core import secrets
from reporter.core.errors import InvalidArgumentError
from reporter.core.secrets import MASK, SecretRules, SecretWarning

# Fake credentials of the documented shapes (none of them is real).
CREDENTIALS = {
    "aws access key": "AKIAIOSFODNN7EXAMPLE",
    "github token": "ghp_" + "a1B2" * 9,
    "gitlab token": "glpat-" + "x1Y2z3" * 3 + "ab",
    "slack token": "xoxb-1234567890-1234567890123-" + "abcdefghijklmnopqrstuvwx",
    "stripe key": "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "jwt": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "url with a password": "postgres://trainer:s3cr3t-pass@db.internal:5432/features",
    "bearer token": "Bearer abcdefghijklmnopqrstuvwxyz012345",
    "private key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n"
    "-----END RSA PRIVATE KEY-----",
}


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "db_password",
        "PASSWD",
        "apiKey",
        "api-key",
        "OPENAI_API_KEY",
        "secret",
        "client_secret",
        "AWS_SECRET_ACCESS_KEY",
        "access_token",
        "authToken",
        "auth",
        "credentials",
        "private_key",
        "hf.token",
        "x-api-key",
        "sentry_dsn",
    ],
)
def test_secret_key_names(key):
    assert secrets.key_looks_secret(key)


@pytest.mark.parametrize(
    "key",
    [
        "author",
        "max_tokens",
        "tokenizer",
        "lr",
        "key",
        "monkey",
        "passes",
        "authority_score",
        "keyframe",
        "n_estimators",
        "secretary_id",
    ],
)
def test_ordinary_key_names(key):
    assert not secrets.key_looks_secret(key)


@pytest.mark.parametrize("kind", sorted(CREDENTIALS))
def test_credentials_are_found_in_text_and_masked_whole(kind):
    value = CREDENTIALS[kind]
    assert secrets.credentials_in(f"prefix {value} suffix")
    rules = SecretRules()
    masked = rules.mask("param", "notes", f"before {value} after")
    assert masked.startswith("before ") and MASK in masked
    # the credential itself (beyond any scheme or user name) is gone
    secret_part = value.split("@")[0].split(":")[-1] if "://" in value else value
    assert secret_part not in masked
    assert rules.masked == {"param": {"notes"}}


@pytest.mark.parametrize(
    "value",
    [
        "0.001",
        "8",
        "adam",
        "d1c3e5f7a9b1c3e5f7a9b1c3e5f7a9b1c3e5f7a9",  # a git commit
        "https://github.com/org/repo.git",
        "s3://bucket/models/v1",
        "/home/me/data.csv",
        "e4b1c7d2a9f04f5c8d3b2a1e0f9c8b7a",
    ],  # a run id
)
def test_ordinary_values_are_left_alone(value):
    rules = SecretRules()
    assert rules.mask("param", "source", value) == value
    assert not rules.masked


def test_secret_keys_mask_values_but_not_harmless_ones():
    rules = SecretRules()
    assert rules.mask("param", "api_key", "abc123") == MASK
    for harmless in ("", "0", "1.5", "true", "None", "***"):
        assert rules.mask("param", "api_key", harmless) == harmless
    assert list(rules.report()) == ["Masked param values that look like secrets: api_key"]


def test_extra_patterns_and_allow_list():
    rules = SecretRules(extra_keys=("^internal_",), allow=("pad_token*",))
    assert rules.mask("tag", "internal_id", "xyz123") == MASK
    assert rules.mask("tag", "pad_token", "<pad>") == "<pad>"
    assert (
        rules.mask("tag", "pad_token", CREDENTIALS["aws access key"])
        == CREDENTIALS["aws access key"]
    )  # allowed keys are never touched
    assert SecretRules(enabled=False).mask("param", "password", "hunter2") == "hunter2"
    with pytest.raises(InvalidArgumentError, match="is not a valid regular expression"):
        SecretRules(extra_keys=("(",))


@pytest.mark.parametrize(
    ("path", "secret"),
    [
        (".env", True),
        ("config/.env.production", True),
        ("keys/server.pem", True),
        ("id_rsa", True),
        ("ssh/id_ed25519.pub", True),
        ("gcp/service-account-prod.json", True),
        ("credentials.json", True),
        ("model.pkl", False),
        ("plots/loss.png", False),
        ("environment.yaml", False),
        ("requirements.txt", False),
    ],
)
def test_secret_file_names(path, secret):
    assert SecretRules().file_is_secret(path) is secret


def test_secrets_in_text_files_are_found_without_printing_them():
    rules = SecretRules()
    content = (
        "lr: 0.1\n"
        "password: hunter22\n"
        "detect-secrets==1.5.0\n"
        f'url = "{CREDENTIALS["url with a password"]}"\n'
        "max_tokens = 512\n"
    )
    found = rules.secrets_in_file(content)
    assert found == ["line 2: password", "line 4: a credential"]
    assert not any("hunter22" in reason for reason in found)
    assert rules.secrets_in_file("a = 1\nname: adam\n") == []


def test_logging_a_secret_warns_once_per_key_at_the_callers_line(store_uri):
    secrets._warned.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with mlflow.start_run():
            mlflow.log_param("db_password", "hunter22")
            mlflow.set_tag("db_password", "hunter23")  # a tag is another key kind
            mlflow.log_params({"db_password_2": "abc", "lr": 0.1})
            mlflow.set_tag("endpoint", CREDENTIALS["url with a password"])
            mlflow.set_tag("endpoint", CREDENTIALS["url with a password"])  # once only
            mlflow.log_param("max_tokens", 512)
    found = [w for w in caught if issubclass(w.category, SecretWarning)]
    messages = [str(w.message) for w in found]
    assert [m.split(":")[0] for m in messages] == [
        "Param 'db_password'",
        "Tag 'db_password'",
        "Param 'db_password_2'",
        "Tag 'endpoint'",
    ]
    assert all(w.filename == __file__ for w in found)  # points at the user's line
    assert not any("hunter" in m or "s3cr3t" in m for m in messages)  # never the value
    assert "stored as given" in messages[0]
    run = mlflow.last_active_run()
    assert run is not None and run.data.params["db_password"] == "hunter22"  # stored as given
