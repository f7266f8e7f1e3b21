"""A PostgreSQL password never reaches an output: messages, JSON, files (issue: security)."""

from __future__ import annotations

import json
import os

import pytest
from _cli import protein

from protein.errors import StorageError
from protein.masking import mask_url, scrub

SECRET = "S3cr3tPw"


@pytest.mark.parametrize("url,shown", [
    (f"postgresql://user:{SECRET}@127.0.0.1/test", "postgresql://user:***@127.0.0.1/test"),
    (f"postgresql://user:{SECRET}@h:5432/db?sslmode=require",
     "postgresql://user:***@h:5432/db?sslmode=require"),
    (f"postgresql://h/db?password={SECRET}&sslmode=a", "postgresql://h/db?password=***&sslmode=a"),
    (f"postgresql://u:p@ss{SECRET}@h/db", "postgresql://u:***@h/db"),
    (f"mysql://u:{SECRET}@h", "mysql://u:***@h"),
    ("postgresql://127.0.0.1/test", "postgresql://127.0.0.1/test"),
    ("runs/protein.db", "runs/protein.db"),
])
def test_mask_url_hides_every_password_form(url, shown):
    assert mask_url(url) == shown and SECRET not in mask_url(url)
    if SECRET in url:  # a driver's message quotes the password, or (with "@") a piece of it
        piece = f"ss{SECRET}@h" if "p@ss" in url else SECRET
        assert SECRET not in scrub(f"could not connect to {url}: bad {piece} near {url}", url)


def _pg_url(password: str) -> str | None:
    from conftest import PG_URL, _pg_available

    if _pg_available():
        return None
    return PG_URL.replace("postgresql://", f"postgresql://root:{password}@", 1)


def test_no_output_or_file_shows_the_password(tmp_path):
    url = _pg_url(SECRET)
    if url is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL not reachable")
        pytest.skip("PostgreSQL not reachable")
    import uuid

    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url.replace(f":{SECRET}", ""), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{url}?options=-csearch_path%3D{schema}"
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text("metrics: {acc: maximize, mem: minimize}\nparameters:\n"
                   "  x: {distribution: uniform, min: 0, max: 1}\n")
    (tmp_path / "train.py").write_text(
        "import json, sys\nx = float(sys.argv[1].split('=')[1])\n"
        "print(json.dumps({'acc': x, 'mem': 1 - x}))\n")
    outputs = []
    try:
        for args in (["init", str(cfg), "--study", "s", "--storage", url],
                     ["init", str(cfg), "--study", "s", "--storage", url],  # exists: fine
                     ["trials", "--study", "missing", "--storage", url],
                     ["run", str(cfg), "--study", "r", "--storage", url, "--command",
                      f"{sys_executable()} train.py", "--max-trials", "2"],
                     ["trials", "--storage", url],
                     ["init", str(cfg), "--storage", url.replace("127.0.0.1", "127.0.0.9"),
                      "--study", "t"],
                     ["init", str(cfg), "--storage", f"mysql://u:{SECRET}@h/db", "--study", "t"]):
            r = protein(*args, cwd=tmp_path, check=False)
            outputs.append(r.stdout + r.stderr)
            if len(outputs) == 1:
                assert json.loads(r.stdout)["storage"].startswith("postgresql://root:***@")
        for text in outputs:
            assert SECRET not in text, text
        for path in tmp_path.rglob("*"):
            if path.is_file():
                assert SECRET not in path.read_text(errors="replace"), path
    finally:
        with psycopg.connect(url.split("?")[0].replace(f":{SECRET}", ""), autocommit=True) as c:
            c.execute(f"DROP SCHEMA {schema} CASCADE")


def sys_executable() -> str:
    import sys

    return sys.executable


def test_a_password_with_an_unencoded_at_sign_leaks_no_fragment():
    from protein.storage import open_backend

    with pytest.raises(StorageError) as e:
        open_backend("postgresql://u:S3cret@Xy@127.0.0.1:5432/test")
    assert "Xy" not in str(e.value) and "S3cret" not in str(e.value)
    assert "***@127.0.0.1" in str(e.value)
