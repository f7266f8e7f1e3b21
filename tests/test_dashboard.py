"""``protein dashboard`` and ``protein report --html``: the read-only JSON routes (both
storage backends, incremental refreshes, logs, the token), and the page itself in Debian's
headless Chromium against a real sweep as it runs."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from protein.config import load_config
from protein.study import Study

from _cli import ROOT, protein

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from protein.dashboard.server import build_app  # noqa: E402

CONFIG = """
sweep:
  metric: score
  goal: maximize
  method: random
  max_trials: 20
  parameters:
    trainer.lr: {distribution: log_normal, min: 0.001, max: 1.0}
    trainer.act: {distribution: categorical, values: [relu, tanh]}
"""


def _study(tmp_path: Path, url: str) -> Study:
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text(CONFIG)
    study = Study.create(load_config(cfg), "sweep", url)
    a, b, c, d = (study.ask(worker=w) for w in ("w1", "w1", "w2", "w2"))
    study.report(a, 1, 0.2, cost=10)
    study.report(a, 2, 0.4, cost=20)
    study.tell(a, 0.5, 20)
    study.tell(b, 0.3, 5, pruned=True)
    study.tell(c, failed=True, reason="exit code 1: CUDA out of memory")
    study.report(d, 1, 0.1)
    return study


def test_routes_send_what_changed_since_the_last_refresh(tmp_path, storage_url):
    study = _study(tmp_path, storage_url)
    client = TestClient(build_app(storage_url, out_dir=str(tmp_path / "runs")))
    listing = client.get("/api/studies").json()["studies"]
    assert [(s["study"], s["states"]) for s in listing] == [
        ("sweep", {"complete": 1, "pruned": 1, "failed": 1, "running": 1})]
    first = client.get("/api/studies/sweep?since=0").json()
    assert first["full"] and [t["id"] for t in first["trials"]] == [0, 1, 2, 3]
    s = first["summary"]
    assert s["best"] == 0 and s["front"] == [0] and s["max_trials"] == 20
    assert s["workers"] == {"w1": {"complete": 1, "pruned": 1}, "w2": {"failed": 1, "running": 1}}
    assert [p["name"] for p in s["space"]] == ["trainer.lr", "trainer.act"]
    assert s["space"][0]["log"] and s["space"][1]["choices"] == ["relu", "tanh"]
    assert "not yet meaningful" in s["importance"]["note"]
    t0 = first["trials"][0]
    assert t0["curve"] == [[1.0, 0.2, 10.0], [2.0, 0.4, 20.0]] and t0["worker"] == "w1"
    assert first["trials"][2]["info"]["failure"].startswith("exit code 1")
    again = client.get(f"/api/studies/sweep?since={first['rev']}").json()
    assert again["trials"] == [] and again["rev"] == first["rev"]  # nothing changed
    study.tell(3, 0.9, 7)
    e = study.ask(worker="w1")
    later = client.get(f"/api/studies/sweep?since={first['rev']}").json()
    assert sorted(t["id"] for t in later["trials"]) == [3, e.trial_id]
    assert later["summary"]["best"] == 3 and not later["full"]
    assert client.get("/api/studies/nope").status_code == 404
    assert client.get("/api/studies/sweep?since=x").status_code == 400


def test_every_study_of_the_storage_is_followed_through_one_backend(tmp_path, storage_url):
    _study(tmp_path, storage_url)
    app = build_app(storage_url, out_dir=str(tmp_path / "runs"))
    client = TestClient(app)
    assert [s["study"] for s in client.get("/api/studies").json()["studies"]] == ["sweep"]
    # a second study made while the dashboard runs shows up, and is read as it changes
    other = Study.create(load_config(tmp_path / "sweep.yaml"), "other", storage_url)
    t = other.ask(worker="w3")
    names = sorted(s["study"] for s in client.get("/api/studies").json()["studies"])
    assert names == ["other", "sweep"]
    first = client.get("/api/studies/other?since=0").json()
    assert first["summary"]["states"] == {"running": 1}
    other.tell(t, 0.7, 3)
    later = client.get(f"/api/studies/other?since={first['rev']}").json()
    assert [(r["id"], r["state"]) for r in later["trials"]] == [(t.trial_id, "complete")]
    assert client.get("/api/studies/sweep?since=0").json()["summary"]["best"] == 0


def test_logs_come_only_from_the_trials_own_folder(tmp_path):
    url = str(tmp_path / "s.db")
    _study(tmp_path, url)
    d = tmp_path / "runs" / "sweep" / "trial_0000"
    d.mkdir(parents=True)
    (d / "stdout.log").write_text("x" * 20000 + "last line\n")
    (tmp_path / "secret.txt").write_text("do not serve")
    (d / "stderr.log").symlink_to(tmp_path / "secret.txt")
    client = TestClient(build_app(url, out_dir=str(tmp_path / "runs")))
    logs = client.get("/api/studies/sweep/trials/0/logs").json()
    assert logs["stdout.log"].endswith("last line\n") and len(logs["stdout.log"]) <= 8000
    assert "stderr.log" not in logs  # a link out of the folder is not followed
    assert client.get("/api/studies/sweep/trials/99/logs").status_code == 404
    for bad in ("/api/studies/sweep/trials/..%2F..%2Fsecret.txt/logs",
                "/api/studies/sweep/trials/-1/logs", "/api/studies/..%2Fsecret.txt"):
        r = client.get(bad)
        assert r.status_code == 404 and "do not serve" not in r.text


def test_read_only_and_a_token_when_asked(tmp_path):
    url = str(tmp_path / "s.db")
    _study(tmp_path, url)
    before = Path(url).read_bytes()
    client = TestClient(build_app(url, token="s3cret"))
    assert client.get("/").status_code == 200  # the page holds no data
    assert client.get("/api/studies").status_code == 401
    assert client.get("/api/studies/sweep").status_code == 401
    ok = client.get("/api/studies", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    for method in ("post", "put", "delete"):
        assert getattr(client, method)("/api/studies/sweep").status_code == 405
    assert Path(url).read_bytes() == before


def test_another_host_needs_a_token(tmp_path):
    url = str(tmp_path / "s.db")
    _study(tmp_path, url)
    r = protein("dashboard", "--storage", url, "--host", "0.0.0.0", cwd=tmp_path, check=False)
    assert r.returncode == 2 and "--token" in r.stderr


def test_report_html_is_one_file_that_holds_everything(tmp_path):
    url = str(tmp_path / "s.db")
    _study(tmp_path, url)
    protein("report", "--storage", url, "--html", str(tmp_path / "sweep.html"), cwd=tmp_path)
    text = (tmp_path / "sweep.html").read_text()
    assert "window.PROTEIN_DATA" in text and "Plotly" in text
    # nothing loaded from elsewhere: no script, style or image by address
    assert re.findall(r'<(?:script|link|img)\b[^>]*\b(?:src|href)\s*=\s*"?(?:https?:)?//',
                      text) == []
    data = json.loads(text.split("window.PROTEIN_DATA = ", 1)[1].split(";</script>", 1)[0]
                      .replace("<\\/", "</"))
    assert len(data["feeds"]["sweep"]["trials"]) == 4


# ------------------------------------------------------------------ in a real browser
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def _browser():
    if not (CHROMIUM and DRIVER):
        why = "no headless browser here (Debian's chromium and chromium-driver; scripts/test-machine.sh installs them as root)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1400,2200"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(DRIVER), options=opts)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _until(fn, timeout: float, what: str):
    from selenium.common.exceptions import StaleElementReferenceException

    end = time.time() + timeout
    while time.time() < end:
        try:
            v = fn()
        except StaleElementReferenceException:  # the table was redrawn meanwhile
            v = None
        if v:
            return v
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _errors(driver) -> list:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


ARTIFACTS = Path(os.environ.get("PROTEIN_TEST_ARTIFACTS", ROOT / "test-artifacts"))


@pytest.mark.slow
def test_the_page_follows_a_running_sweep(tmp_path):
    driver = _browser()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cfg = tmp_path / "digits.yaml"
    cfg.write_text((ROOT / "examples" / "digits.yaml").read_text())
    sweep = subprocess.Popen([sys.executable, "-m", "protein", "run", str(cfg), "--trainer",
                              "trainers.digits", "--workers", "2", "--max-trials", "7",
                              "--device", "cpu", "--quiet"], cwd=tmp_path, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = _free_port()
    server = None
    try:
        _until(lambda: (tmp_path / "protein.db").exists(), 60, "the study")
        server = subprocess.Popen([sys.executable, "-m", "protein", "dashboard", "--storage",
                                   "protein.db", "--port", str(port)], cwd=tmp_path, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{port}/"
        _until(lambda: _answers(url), 60, "the dashboard")
        driver.get(url)
        rows = lambda: driver.find_elements("css selector", "#trials-table tbody tr")  # noqa: E731
        points = lambda: driver.execute_script(  # noqa: E731
            "const d = document.getElementById('plot-best').data;"
            "return d ? d[1].x.length : 0;")
        _until(lambda: len(rows()) >= 1, 90, "the first rows")
        first_rows, first_points = len(rows()), points()
        _until(lambda: len(rows()) > first_rows and points() > first_points, 180,
               "more rows and more points as trials finish")
        def click_complete() -> bool:
            done = [r for r in rows() if "complete" in r.get_attribute("class")]
            if done:
                done[0].click()
            return bool(done)

        _until(click_complete, 120, "a complete trial to click")
        _until(lambda: "trainer.learning_rate" in driver.find_element(
            "id", "detail-params").text, 20, "the trial's params")
        _until(lambda: "stdout.log" in driver.find_element("id", "detail-logs").text, 20,
               "the trial's log tail")
        sweep.wait(timeout=300)
        _until(lambda: len(rows()) == 7, 30, "every trial in the table")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.execute_script("window.scrollTo(0, 0)")
        time.sleep(0.5)
        driver.save_screenshot(str(ARTIFACTS / "dashboard.png"))
        assert _errors(driver) == []
    finally:
        driver.quit()
        for p in (sweep, server):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait(timeout=30)


def _answers(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.mark.slow
def test_the_html_report_opens_offline(tmp_path):
    driver = _browser()
    try:
        url = str(tmp_path / "s.db")
        _study(tmp_path, url)
        protein("report", "--storage", url, "--html", str(tmp_path / "sweep.html"), cwd=tmp_path)
        driver.get((tmp_path / "sweep.html").as_uri())
        _until(lambda: len(driver.find_elements("css selector", "#trials-table tbody tr")) == 4,
               30, "the table")
        assert driver.execute_script("return document.getElementById('plot-best').data.length") > 0
        assert _errors(driver) == []
    finally:
        driver.quit()
