"""The dashboard's one page: HTML, its CSS and script (``static/``), and plotly.js from the
plotly Python package (``pip install 'protein-hpo[dashboard]'``), so nothing comes from a CDN.

``html_page(live=True)`` is what ``protein dashboard`` serves (the script polls its JSON
routes); ``html_page(live=False, data=...)`` is one self-contained file with the data and
plotly.js inside (``protein report --html``).
"""

from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from protein.dashboard.data import Feed, study_row
from protein.errors import MissingDependencyError

STATIC = Path(__file__).parent / "static"

BODY = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Protein dashboard</title>
<style>{css}</style>
{plotly}
</head><body>
<header><h1>Protein</h1><span id="status">loading...</span></header>
<form id="token-form"><div id="token-box" hidden>This dashboard needs its token (the one given
to <code>protein dashboard --token</code>): <input id="token-input" type="password">
<button>open</button></div></form>
<section><table id="studies" class="small"><thead><tr><th>study</th><th>trials</th>
<th>best</th><th>last activity (UTC)</th></tr></thead><tbody></tbody></table></section>
<section id="progress"></section>
<section class="grid">
<div id="plot-best" class="plot"></div><div id="plot-cost" class="plot"></div>
<div id="plot-front" class="plot"></div><div id="plot-curves" class="plot"></div>
</section>
<h3 id="slices-title">Each parameter against the score (complete trials)</h3>
<section id="slices" class="slices"></section>
<section class="grid"><div id="plot-parallel" class="plot wide"></div>
<div id="plot-importance" class="plot"></div></section>
<section class="split"><div class="tablebox">
<div class="tools"><input id="filter" placeholder="filter: any text, e.g. pruned or a worker">
<button id="prev">&lt;</button><button id="next">&gt;</button> <span id="table-note"></span></div>
<table id="trials-table"><thead></thead><tbody></tbody></table></div>
<aside id="detail"><p class="hint">Click a trial in the table for its params, why it was
chosen or stopped, and its logs.</p></aside></section>
{data}
<script>{script}</script>
</body></html>
"""


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """plotly.min.js as the plotly Python package ships it."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("the dashboard needs the 'plotly' package, which is not "
                                     "installed: pip install 'protein-hpo[dashboard]'")
    path = Path(list(spec.submodule_search_locations)[0]) / "package_data" / "plotly.min.js"
    return path.read_text(encoding="utf-8")


def html_page(live: bool, needs_token: bool = False, data: Any = None) -> str:
    """The page: served (``live``, plotly.js from ``/plotly.min.js``) or self-contained."""
    css = (STATIC / "dashboard.css").read_text(encoding="utf-8")
    script = (STATIC / "dashboard.js").read_text(encoding="utf-8")
    if live:
        plotly, embedded = "", ""  # the script adds plotly.js once the table is shown
    else:
        plotly = f"<script>{plotly_js()}</script>"
        text = json.dumps(data, allow_nan=False).replace("</", "<\\/")  # no early </script>
        embedded = f"<script>window.PROTEIN_DATA = {text};</script>"
    return BODY.format(css=css, plotly=plotly, data=embedded, script=script)


HTML_LOGS = 200  # trials whose log tails a self-contained page keeps (the best and the latest)


def report_html(study: Any, run_dir: Path | None) -> str:
    """One self-contained page of ``study``: its data, the log tails of its best and latest
    trials, and plotly.js, all inside; it opens offline."""
    feed = Feed(study, run_dir)
    data = feed.since(0)
    done = sorted((t for t in feed.trials if t.is_complete),
                  key=lambda t: study.config.sign * t.score, reverse=True)
    keep = {t.trial_id for t in done[:HTML_LOGS // 2]}
    keep |= {t.trial_id for t in feed.trials[-(HTML_LOGS - len(keep)):]}
    logs = {str(i): feed.trial_logs(i) for i in sorted(keep)}
    return html_page(live=False, data={"studies": [study_row(feed)],
                                       "feeds": {study.name: data},
                                       "logs": {study.name: logs}})
