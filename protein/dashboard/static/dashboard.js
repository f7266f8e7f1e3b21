// Protein's dashboard: one page, live (polling the read-only JSON routes of `protein
// dashboard`) or static (the data embedded by `protein report --html`). Plots: plotly.js.
"use strict";

const S = {
  studies: [], study: null, rev: 0, trials: new Map(), summary: null, selected: null,
  sort: {key: "id", dir: 1}, filter: "", page: 0, token: null, dirty: true,
  timings: {},  // milliseconds each part of the last render took (window.proteinTimings)
};
window.proteinTimings = S.timings;
window.proteinState = S;
const PAGE_ROWS = 200;
const POLL_MS = 3000;
const STATIC = window.PROTEIN_DATA || null;
const CONFIG = {responsive: true, displaylogo: false};
const COLORS = {complete: "#1f77b4", pruned: "#ff7f0e", failed: "#d62728", running: "#2ca02c"};

function $(id) { return document.getElementById(id); }
function esc(v) {
  return String(v).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
    '"': "&quot;", "'": "&#39;"}[c]));
}
function fmt(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return (a !== 0 && (a < 1e-3 || a >= 1e5)) ? v.toExponential(3) : v.toPrecision(4);
  }
  return String(v);
}
function dur(s) {
  if (s === null || s === undefined) return "";
  if (s < 120) return s.toFixed(1) + " s";
  if (s < 7200) return (s / 60).toFixed(1) + " min";
  return (s / 3600).toFixed(1) + " h";
}
function when(t) { return t ? new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) : ""; }

// ------------------------------------------------------------------ fetching
async function getJSON(path) {
  const headers = S.token ? {Authorization: "Bearer " + S.token} : {};
  const r = await fetch(path, {headers, cache: "no-store"});
  if (r.status === 401) { askToken(); throw new Error("token needed"); }
  if (!r.ok) throw new Error(path + ": " + r.status);
  return r.json();
}

function askToken() {
  $("token-box").hidden = false;
}

function saveToken(ev) {
  ev.preventDefault();
  S.token = $("token-input").value.trim();
  sessionStorage.setItem("protein-token", S.token);
  $("token-box").hidden = true;
  refresh(true);
}

async function loadStudies() {
  S.studies = STATIC ? STATIC.studies : (await getJSON("/api/studies")).studies;
  renderStudies();
  if (!S.study && S.studies.length) {  // the caller (refresh) loads it next
    const wanted = new URLSearchParams(location.search).get("study");
    selectStudy(S.studies.some(s => s.study === wanted) ? wanted : S.studies[0].study, false);
  }
}

async function loadStudy() {
  if (!S.study) return;
  const feed = STATIC ? STATIC.feeds[S.study]
    : await getJSON("/api/studies/" + encodeURIComponent(S.study) + "?since=" + S.rev);
  if (feed.full) S.trials = new Map();
  for (const t of feed.trials) S.trials.set(t.id, t);
  if (feed.trials.length || feed.full || !S.summary) S.dirty = true;
  S.rev = feed.rev;
  S.summary = feed.summary;
  render();
}

let studiesAt = 0;
let busy = false;
async function refresh(force) {
  if (busy) return;  // the last refresh is still coming: never ask twice for the same rows
  busy = true;
  try {
    if (force || Date.now() - studiesAt > 10000) { studiesAt = Date.now(); await loadStudies(); }
    await loadStudy();
    $("status").textContent = STATIC ? "written " + when(S.summary && S.summary.updated)
      : "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    $("status").textContent = "not updated: " + e.message;
  } finally {
    busy = false;
  }
}

function selectStudy(name, load) {
  S.study = name; S.rev = 0; S.trials = new Map(); S.summary = null; S.selected = null;
  S.page = 0; S.dirty = true;
  $("detail").innerHTML = "<p class=hint>Click a trial in the table for its params, why it was chosen or stopped, and its logs.</p>";
  renderStudies();
  if (load !== false) refresh(false);
}

// ------------------------------------------------------------------ rendering
function renderStudies() {
  const rows = S.studies.map(s => {
    const counts = Object.entries(s.states).map(([k, v]) => v + " " + k).join(", ");
    return `<tr data-study="${esc(s.study)}" class="${s.study === S.study ? "sel" : ""}">` +
      `<td>${esc(s.study)}</td><td>${esc(counts)}</td><td>${esc(s.metric)} ${fmt(s.best)}</td>` +
      `<td>${when(s.last_activity)}</td></tr>`;
  }).join("");
  $("studies").querySelector("tbody").innerHTML = rows;
  for (const tr of $("studies").querySelectorAll("tbody tr")) {
    tr.onclick = () => selectStudy(tr.dataset.study, true);
  }
}

function ordered() { return [...S.trials.values()].sort((a, b) => a.id - b.id); }

// The progress and the table first (the page is usable at once), then each plot in a
// task of its own, once plotly.js (loaded without blocking the page) is there.
let drawing = null;
function render() {
  if (!S.summary) return;
  renderProgress();
  if (!S.dirty) return;
  S.dirty = false;
  timed("table", () => renderTable());
  if (S.timings.table_shown_at === undefined) S.timings.table_shown_at = Math.round(performance.now());
  if (S.selected !== null && S.trials.has(S.selected)) showDetail(S.selected, false);
  S.plotsWanted = true;
  if (!drawing) drawing = drawLoop();
}

// A big study's plots take seconds to draw: after drawing for D ms the page waits 2 D
// before it draws them again, so a busy sweep never keeps the page drawing all the time.
async function drawLoop() {
  try {
    while (S.plotsWanted) {
      S.plotsWanted = false;
      const t0 = performance.now();
      await drawPlots();
      const spent = performance.now() - t0;
      if (spent > 500) await new Promise(r => setTimeout(r, 2 * spent));
    }
  } finally {
    drawing = null;
  }
}

function timed(name, fn) {
  const t0 = performance.now();
  fn();
  S.timings[name] = Math.round(performance.now() - t0);
}

const nextTask = () => new Promise(r => setTimeout(r, 0));

function loadPlotly() {  // live pages fetch plotly.js (3.5 MB) after the table is shown
  if (window.Plotly || document.getElementById("plotly-js")) return;
  const tag = document.createElement("script");
  tag.id = "plotly-js";
  tag.src = "plotly.min.js";
  document.head.appendChild(tag);
}

async function drawPlots() {
  loadPlotly();
  while (!window.Plotly) await new Promise(r => setTimeout(r, 50));
  const rev = S.rev;
  const trials = ordered();
  const steps = [["best", () => plotBest(trials)], ["cost", () => plotCost(trials)],
                 ["front", () => plotFront(trials)], ["curves", () => plotCurves(trials)],
                 ["slices", () => plotSlices(trials)], ["parallel", () => plotParallel(trials)],
                 ["importance", () => plotImportance()]];
  for (const [name, fn] of steps) {
    await nextTask();
    if (S.summary === null) return;  // another study was chosen meanwhile
    timed(name, fn);
  }
  S.plotted = rev;  // every plot shows this revision (the benchmark waits for it)
}

function renderProgress() {
  const s = S.summary;
  const st = s.states;
  const done = Object.entries(st).filter(([k]) => k !== "running").reduce((a, [, v]) => a + v, 0);
  const total = s.max_trials ? " of " + s.max_trials : "";
  const parts = ["complete", "running", "pruned", "failed"].filter(k => st[k])
    .map(k => `<span class="pill ${k}">${st[k]} ${k}</span>`).join(" ");
  const best = s.best !== null && S.trials.has(s.best) ? S.trials.get(s.best) : null;
  const eta = s.eta_s !== null ? " &middot; ETA " + dur(s.eta_s) + " at the current rate" : "";
  $("progress").innerHTML =
    `<h2>${esc(s.study)}</h2><p>${done}${total} finished ${parts}${eta}</p>` +
    `<p>${s.objectives.map(o => o.goal + " " + esc(o.name)).join(", ")}` +
    (best ? ` &middot; best ${esc(s.metric)} <b>${fmt(best.score)}</b> (trial ${best.id})` : "") +
    ` &middot; method ${esc(s.method)} &middot; ${esc(s.storage)}</p>` +
    "<table class=small><thead><tr><th>worker</th><th>trials</th></tr></thead><tbody>" +
    Object.entries(s.workers).map(([w, c]) => `<tr><td>${esc(w)}</td><td>${
      Object.entries(c).map(([k, v]) => v + " " + k).join(", ")}</td></tr>`).join("") +
    "</tbody></table>";
}

function sign() { return S.summary.goal === "minimize" ? -1 : 1; }

// Plots of big studies draw a sample: the best trials and an even spread of the rest (lines
// such as best-so-far still use every trial). The table always has every trial.
const PLOT_POINTS = 1500;
function sample(ts, n) {
  n = n || PLOT_POINTS;
  if (ts.length <= n) return ts;
  const scored = ts.filter(t => t.score !== null).sort((a, b) => sign() * (b.score - a.score));
  const keep = new Set(scored.slice(0, Math.floor(n / 5)).map(t => t.id));
  const step = ts.length / (n - keep.size);
  for (let i = 0; i < ts.length && keep.size < n; i += step) keep.add(ts[Math.floor(i)].id);
  return ts.filter(t => keep.has(t.id));
}
function sampled(ts) {
  return ts.length > PLOT_POINTS ? ` (a sample of ${PLOT_POINTS} of ${ts.length})` : "";
}

function bestSoFar(xs, scores) {
  const out = []; let b = null;
  for (let i = 0; i < xs.length; i++) {
    const v = scores[i];
    if (v !== null && (b === null || sign() * v > sign() * b)) b = v;
    out.push(b);
  }
  return out;
}

function byState(trials, x, state, name, symbol) {
  const ts = trials.filter(t => t.state === state && t.score !== null);
  return {x: ts.map(x), y: ts.map(t => t.score), mode: "markers", type: "scatter", name: name || state,
          marker: {color: COLORS[state], symbol: symbol || "circle", size: 7},
          text: ts.map(t => "trial " + t.id), hoverinfo: "text+x+y"};
}

function failedMarks(trials, x, floor) {
  const ts = trials.filter(t => t.state === "failed");
  return {x: ts.map(x), y: ts.map(() => floor), mode: "markers", type: "scatter", name: "failed",
          marker: {color: COLORS.failed, symbol: "x-thin-open", size: 9},
          text: ts.map(t => "trial " + t.id + " failed"), hoverinfo: "text+x"};
}

function lowest(trials) {
  const v = trials.filter(t => t.score !== null).map(t => t.score);
  return v.length ? Math.min(...v) : 0;
}

function plotBest(trials) {
  const done = trials.filter(t => t.state === "complete");
  const traces = [
    {x: done.map(t => t.id), y: bestSoFar(done, done.map(t => t.score)), mode: "lines",
     line: {shape: "hv", color: "#222"}, name: "best so far", type: "scatter"},
    byState(sample(trials), t => t.id, "complete"),
    byState(sample(trials), t => t.id, "pruned", "pruned (last value)", "triangle-down"),
    failedMarks(sample(trials), t => t.id, lowest(trials)),
  ];
  Plotly.react("plot-best", traces, {title: {text: "Best so far, by trial" + sampled(trials)}, margin: {t: 40},
    xaxis: {title: {text: "trial"}}, yaxis: {title: {text: S.summary.metric}}}, CONFIG);
}

function plotCost(trials) {
  const fin = trials.filter(t => t.finished !== null)
    .sort((a, b) => a.finished - b.finished);
  let cum = 0;
  const at = new Map();
  for (const t of fin) { cum += t.cost || 0; at.set(t.id, cum); }
  const done = fin.filter(t => t.state === "complete");
  const traces = [
    {x: done.map(t => at.get(t.id)), y: bestSoFar(done, done.map(t => t.score)),
     mode: "lines", line: {shape: "hv", color: "#222"}, name: "best so far", type: "scatter"},
    byState(sample(fin), t => at.get(t.id), "complete"),
    byState(sample(fin), t => at.get(t.id), "pruned", "pruned (last value)", "triangle-down"),
    failedMarks(sample(fin), t => at.get(t.id), lowest(trials)),
  ];
  Plotly.react("plot-cost", traces, {title: {text: "Best so far, by cumulative cost" + sampled(fin)}, margin: {t: 40},
    xaxis: {title: {text: "cost spent (finished trials)"}}, yaxis: {title: {text: S.summary.metric}}}, CONFIG);
}

function plotFront(trials) {
  const s = S.summary;
  const div = $("plot-front");
  if (s.objectives.length > 1) {
    const [a, b] = s.objectives;
    const done = trials.filter(t => t.state === "complete" && t.values[a.name] !== undefined);
    const set = new Set(s.pareto_set);
    const on = done.filter(t => set.has(t.id)).sort((p, q) => p.values[a.name] - q.values[a.name]);
    Plotly.react(div, [
      {x: done.map(t => t.values[a.name]), y: done.map(t => t.values[b.name]), mode: "markers",
       type: "scatter", name: "trials", marker: {color: "#9ab"}, text: done.map(t => "trial " + t.id)},
      {x: on.map(t => t.values[a.name]), y: on.map(t => t.values[b.name]), mode: "lines+markers",
       type: "scatter", name: "Pareto set", marker: {color: COLORS.complete, size: 9},
       text: on.map(t => "trial " + t.id)},
    ], {title: {text: "Pareto set (" + s.objectives.map(o => o.goal + " " + o.name).join(", ") + ")"},
        margin: {t: 40}, xaxis: {title: {text: a.name}}, yaxis: {title: {text: b.name}}}, CONFIG);
    return;
  }
  const all = trials.filter(t => t.state === "complete" && t.cost);
  const done = sample(all);
  const set = new Set(s.front);
  const on = all.filter(t => set.has(t.id)).sort((p, q) => p.cost - q.cost);
  Plotly.react(div, [
    {x: done.map(t => t.cost), y: done.map(t => t.score), mode: "markers", type: "scatter",
     name: "complete" + sampled(all), marker: {color: "#9ab"}, text: done.map(t => "trial " + t.id)},
    {x: on.map(t => t.cost), y: on.map(t => t.score), mode: "lines+markers", type: "scatter",
     name: "cost-score front", line: {shape: "hv"}, marker: {color: COLORS.complete, size: 9},
     text: on.map(t => "trial " + t.id)},
  ], {title: {text: "Cost-score front"}, margin: {t: 40}, xaxis: {title: {text: "cost"}, type: "log"},
      yaxis: {title: {text: s.metric}}}, CONFIG);
}

function plotCurves(trials) {
  const withCurve = trials.filter(t => t.curve.length);
  const running = withCurve.filter(t => t.state === "running");
  const done = withCurve.filter(t => t.state !== "running");
  const best = done.filter(t => t.state === "complete").sort((a, b) => sign() * (b.score - a.score)).slice(0, 10);
  const latest = done.slice(-40);
  const shown = [...new Map([...running, ...best, ...latest].map(t => [t.id, t])).values()];
  const traces = shown.map(t => ({
    x: t.curve.map(p => p[0]), y: t.curve.map(p => p[1]), type: "scatter",
    mode: t.state === "pruned" ? "lines+markers" : "lines", name: "trial " + t.id,
    showlegend: false, hovertemplate: `trial ${t.id} (${t.state})<br>step %{x}<br>%{y}<extra></extra>`,
    line: {color: COLORS[t.state] || "#888", width: t.state === "running" ? 2.5 : 1,
           dash: t.state === "pruned" ? "dot" : "solid"},
    marker: {symbol: "x", size: t.curve.map((_, i) => i === t.curve.length - 1 ? 9 : 0)},
  }));
  Plotly.react("plot-curves", traces, {
    title: {text: "Learning curves (running solid, stopped dotted with an x)"}, margin: {t: 40},
    xaxis: {title: {text: "step"}}, yaxis: {title: {text: S.summary.metric}}}, CONFIG);
}

function plotSlices(trials) {
  const box = $("slices");
  const space = S.summary.space;
  const all = trials.filter(t => t.state === "complete");
  const done = sample(all);
  $("slices-title").textContent = "Each parameter against the score (complete trials" +
    sampled(all) + ")";
  if (box.dataset.names !== space.map(p => p.name).join(",")) {
    box.innerHTML = space.map((_, i) => `<div class="slice" id="slice-${i}"></div>`).join("");
    box.dataset.names = space.map(p => p.name).join(",");
  }
  space.forEach((p, i) => {
    const ts = done.filter(t => t.params[p.name] !== undefined);
    const cat = p.choices !== null || ts.some(t => typeof t.params[p.name] !== "number");
    Plotly.react("slice-" + i, [{
      x: ts.map(t => cat ? String(t.params[p.name]) : t.params[p.name]), y: ts.map(t => t.score),
      mode: "markers", type: "scatter", text: ts.map(t => "trial " + t.id),
      marker: {color: ts.map(t => t.id), colorscale: "Blues", size: 6}}],
      {title: {text: p.name, font: {size: 12}}, margin: {t: 30, l: 45, r: 10, b: 35}, height: 230,
       xaxis: {type: cat ? "category" : (p.log ? "log" : "linear")},
       yaxis: {title: {text: S.summary.metric}}}, {...CONFIG, displayModeBar: false});
  });
}

function plotParallel(trials) {
  const space = S.summary.space;
  const all = trials.filter(t => t.state === "complete");
  const done = sample(all, 200);
  if (!done.length) { Plotly.react("plot-parallel", [], {title: {text: "Parallel coordinates (no complete trial yet)"}}, CONFIG); return; }
  const dims = space.map(p => {
    const vals = done.map(t => t.params[p.name]);
    const cat = p.choices !== null || vals.some(v => typeof v !== "number");
    if (cat) {
      const labels = [...new Set(vals.map(String))];
      return {label: p.name, values: vals.map(v => labels.indexOf(String(v))),
              tickvals: labels.map((_, i) => i), ticktext: labels};
    }
    if (p.log && vals.every(v => v > 0)) {
      const lv = vals.map(Math.log10);
      const lo = Math.floor(Math.min(...lv)), hi = Math.ceil(Math.max(...lv));
      const ticks = []; for (let e = lo; e <= hi; e++) ticks.push(e);
      return {label: p.name + " (log)", values: lv, tickvals: ticks, ticktext: ticks.map(e => "1e" + e)};
    }
    return {label: p.name, values: vals};
  });
  dims.push({label: S.summary.metric, values: done.map(t => t.score)});
  Plotly.react("plot-parallel", [{type: "parcoords", dimensions: dims,
    line: {color: done.map(t => t.score), colorscale: "Viridis", showscale: true,
           reversescale: S.summary.goal === "minimize"}}],
    {title: {text: "Parallel coordinates (complete trials)" + (all.length > 200 ? ` (a sample of 200 of ${all.length})` : "")}, margin: {t: 90, l: 60, r: 60}}, CONFIG);
}

function plotImportance() {
  const imp = S.summary.importance;
  const names = Object.keys(imp.shares);
  const title = "Importance" + (imp.note ? " (" + imp.note + ")" : "");
  Plotly.react("plot-importance", names.length ? [{type: "bar", orientation: "h",
    x: names.map(n => imp.shares[n]), y: names}] : [],
    {title: {text: title}, margin: {t: 40, l: 160}, xaxis: {title: {text: "share of the score's variance"}}}, CONFIG);
}

// ------------------------------------------------------------------ the table
function columns() {
  const s = S.summary;
  const metrics = [...new Set(ordered().flatMap(t => Object.keys(t.metrics)))];
  const objs = s.objectives.length > 1 ? s.objectives.map(o => ["value:" + o.name, o.name]) : [["score", s.metric]];
  return [["id", "trial"], ["state", "state"], ...objs, ["cost", "cost"],
          ...metrics.filter(m => !s.objectives.some(o => o.name === m)).map(m => ["metric:" + m, m]),
          ...s.space.map(p => ["param:" + p.name, p.name]), ["worker", "worker"],
          ["duration", "duration"]];
}

function cell(t, key) {
  if (key.startsWith("param:")) return t.params[key.slice(6)];
  if (key.startsWith("metric:")) return t.metrics[key.slice(7)];
  if (key.startsWith("value:")) return t.values[key.slice(6)];
  return t[key];
}

function renderTable() {
  const cols = columns();
  const f = S.filter.toLowerCase();
  let rows = ordered();
  if (f) rows = rows.filter(t => cols.map(([k]) => fmt(cell(t, k))).join(" ").toLowerCase().includes(f));
  const k = S.sort.key, d = S.sort.dir;
  rows.sort((a, b) => {
    const x = cell(a, k), y = cell(b, k);
    if (x === y) return a.id - b.id;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * d;
  });
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_ROWS));
  S.page = Math.min(S.page, pages - 1);
  const shown = rows.slice(S.page * PAGE_ROWS, (S.page + 1) * PAGE_ROWS);
  const table = $("trials-table");
  table.querySelector("thead").innerHTML = "<tr>" + cols.map(([key, label]) =>
    `<th data-key="${esc(key)}">${esc(label)}${key === k ? (d > 0 ? " &#9650;" : " &#9660;") : ""}</th>`).join("") + "</tr>";
  table.querySelector("tbody").innerHTML = shown.map(t =>
    `<tr data-id="${t.id}" class="${t.state}${t.id === S.selected ? " sel" : ""}">` +
    cols.map(([key]) => `<td>${esc(key === "duration" ? dur(t.duration) : fmt(cell(t, key)))}</td>`).join("") +
    "</tr>").join("");
  for (const th of table.querySelectorAll("th")) {
    th.onclick = () => {
      S.sort = {key: th.dataset.key, dir: S.sort.key === th.dataset.key ? -S.sort.dir : 1};
      renderTable();
    };
  }
  for (const tr of table.querySelectorAll("tbody tr")) {
    tr.onclick = () => showDetail(Number(tr.dataset.id), true);
  }
  $("table-note").textContent = `${rows.length} of ${S.trials.size} trials` +
    (pages > 1 ? `, page ${S.page + 1} of ${pages}` : "");
  $("prev").disabled = S.page === 0;
  $("next").disabled = S.page >= pages - 1;
}

async function showDetail(id, fetchLogs) {
  S.selected = id;
  for (const tr of $("trials-table").querySelectorAll("tbody tr")) {
    tr.classList.toggle("sel", Number(tr.dataset.id) === id);
  }
  const t = S.trials.get(id);
  if (!t) return;
  const info = t.info || {};
  const why = [];
  if (info.reason) why.push("chosen by: " + info.reason);
  for (const k of ["predicted_score", "predicted_cost"]) {
    if (info[k] !== undefined) why.push(k.replace("_", " ") + ": " + fmt(info[k]));
  }
  if (info.predicted_values) {
    why.push("predicted: " + Object.entries(info.predicted_values).map(([k, v]) => k + " " + fmt(v)).join(", "));
  }
  if (info.failure) why.push("ended: " + info.failure);
  if (info.pruned) why.push("stopped: " + info.pruned);
  if (info.early_stop && !info.pruned) why.push("stop rule: " + JSON.stringify(info.early_stop));
  if (info.released) why.push("handed back: " + info.released);
  $("detail").innerHTML =
    `<h3>Trial ${t.id} <span class="pill ${t.state}">${t.state}</span></h3>` +
    `<p>${esc(S.summary.metric)} ${fmt(t.score)} &middot; cost ${fmt(t.cost)} &middot; worker ${esc(t.worker || "")} &middot; ${dur(t.duration)}</p>` +
    (why.length ? "<ul>" + why.map(w => `<li>${esc(w)}</li>`).join("") + "</ul>" : "") +
    `<h4>params</h4><pre id="detail-params">${esc(JSON.stringify(t.params, null, 2))}</pre>` +
    `<details><summary>info</summary><pre>${esc(JSON.stringify(info, null, 2))}</pre></details>` +
    `<h4>logs</h4><div id="detail-logs">${S.logs && S.logs.id === id ? logsHtml(S.logs) : "<p class=hint>loading...</p>"}</div>`;
  if (!fetchLogs && S.logs && S.logs.id === id) return;
  try {
    const logs = STATIC ? ((STATIC.logs[S.study] || {})[id] || {id: id, missing: true})
      : await getJSON("/api/studies/" + encodeURIComponent(S.study) + "/trials/" + id + "/logs");
    S.logs = logs;
    if (S.selected === id) $("detail-logs").innerHTML = logsHtml(logs);
  } catch (e) {
    $("detail-logs").textContent = "logs not available: " + e.message;
  }
}

function logsHtml(logs) {
  const parts = [];
  for (const name of ["stdout.log", "stderr.log", "error.txt"]) {
    if (typeof logs[name] === "string") {
      parts.push(`<h5>${name} (tail)</h5>` + (logs[name] ? `<pre class="log">${esc(logs[name])}</pre>`
                                                              : "<p class=hint>(empty)</p>"));
    }
  }
  if (logs.traceback && !logs["error.txt"]) parts.push(`<h5>traceback</h5><pre class="log">${esc(logs.traceback)}</pre>`);
  return parts.join("") || (logs.missing ? "<p class=hint>not kept in this file</p>" : "<p class=hint>no log files</p>");
}

// ------------------------------------------------------------------ start
function start() {
  S.token = sessionStorage.getItem("protein-token");
  $("token-form").onsubmit = saveToken;
  $("filter").oninput = () => { S.filter = $("filter").value; S.page = 0; renderTable(); };
  $("prev").onclick = () => { S.page -= 1; renderTable(); };
  $("next").onclick = () => { S.page += 1; renderTable(); };
  refresh(true);
  if (!STATIC) setInterval(() => refresh(false), POLL_MS);
}
start();
