// motiflens dashboard: one page, seven panels, vanilla JS + Plotly.
// Live (served by `motiflens serve`) it reads api/*; as a report (`motiflens report`) it
// reads the same structures from window.MOTIFLENS_REPORT, inlined in the file.
// Every string that comes from data or the user goes in through textContent, never as
// HTML.
//
// Speed: the first view is drawn before Plotly.js is loaded. Plotly (4.8 MB) takes the
// browser's main thread for a second or more to evaluate, so the page only preloads it
// (index.html) and runs it once the first view is on screen; plots asked for before then
// are drawn as soon as it has run (withPlotly). When the first view is usable the page
// sets document.body.dataset.ready = "1" (and dataset.plotly = "1" once Plotly has run):
// the tests and bench/dashboard.py wait for these. The report inlines Plotly, so there
// it is there from the start.
"use strict";

const REPORT = window.MOTIFLENS_REPORT || null;
// Blue for a decrease, white for none, red for an increase (heat maps are centred on 0).
const DIVERGING = [
  [0, "#2166ac"],
  [0.5, "#f7f7f7"],
  [1, "#b2182b"],
];
const state = { model: null, overview: null, rendered: {} };

// ------------------------------------------------------------------ small helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return node;
}

function errorText(body, status) {
  let text = (body && (body.error || (typeof body.detail === "string" ? body.detail : null))) || `HTTP ${status}`;
  if (body && Array.isArray(body.detail)) text = body.detail.map((d) => d.msg).join("; ");
  if (body && body.hint) text += `\nhint: ${body.hint}`;
  return text;
}

async function getJSON(name, params) {
  if (REPORT) {
    if (name in REPORT) return REPORT[name];
    return { missing: true, message: "not included in this report (use `motiflens serve`)" };
  }
  const query = params ? `?${new URLSearchParams(params)}` : "";
  const response = await fetch(`api/${name}${query}`);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(errorText(body, response.status));
  return body;
}

async function postJSON(name, payload) {
  const response = await fetch(`api/${name}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(errorText(body, response.status));
  return body;
}

function fmt(value, digits) {
  if (value === null || value === undefined || value === "") return "";
  if (typeof value !== "number") return String(value);
  if (Number.isInteger(value)) return String(value);
  const d = digits === undefined ? 3 : digits;
  if (Math.abs(value) > 0 && (Math.abs(value) < 10 ** -d || Math.abs(value) >= 1e5)) return value.toExponential(2);
  return value.toFixed(d);
}

function missingBox(view, what) {
  return el(
    "div",
    { class: "missing" },
    el("p", { text: `${what}: ${(view && view.message) || "not available"}` }),
    view && view.command ? [el("p", { class: "note", text: "Run:" }), el("pre", { class: "cmd", text: view.command })] : null,
  );
}

function errorBox(err, id) {
  return el("div", { class: "error", id: id || null, text: String(err.message || err) });
}

// Plotly, loaded once: a promise of window.Plotly. loadPlotly() starts the load;
// withPlotly(fn) runs fn(Plotly) once it is there (calls keep their order).
let plotlyPromise = null;
let plotlyWanted = null;
const plotlyReady = new Promise((resolve) => (plotlyWanted = resolve));

function loadPlotly() {
  if (plotlyPromise) return plotlyPromise;
  plotlyPromise = window.Plotly
    ? Promise.resolve(window.Plotly)
    : new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = "vendor/plotly.min.js";
        script.addEventListener("load", () => resolve(window.Plotly));
        script.addEventListener("error", () => reject(new Error("Plotly.js could not be loaded (vendor/plotly.min.js)")));
        document.head.appendChild(script);
      });
  plotlyPromise.then(() => (document.body.dataset.plotly = "1")).catch(() => {});
  plotlyWanted(plotlyPromise);
  return plotlyPromise;
}

function withPlotly(fn) {
  return plotlyReady.then(fn);
}

function plot(div, traces, layout, config) {
  const base = {
    margin: { l: 60, r: 20, t: 30, b: 40 },
    font: { family: "system-ui, sans-serif", size: 12 },
    paper_bgcolor: "#fff",
    plot_bgcolor: "#fff",
  };
  return withPlotly((P) => P.newPlot(div, traces, Object.assign(base, layout), Object.assign({ displaylogo: false, responsive: true }, config || {})));
}

function safeName(name) {
  // As the CLI's file names for targets (cli.common._safe).
  return String(name).replace(/[^A-Za-z0-9\-_.]/g, "_").slice(0, 80);
}

// A table sorted by clicking a header. columns: [{key, label, num, render(row)}].
function sortableTable(columns, rows, opts) {
  const o = opts || {};
  const table = el("table", { class: "data", id: o.id || null });
  const thead = el("thead");
  const tbody = el("tbody");
  table.append(thead, tbody);
  let current = rows.slice();
  let sortKey = o.sortKey || null;
  let sortDir = o.sortDir || 1;
  const headRow = el("tr");
  const ths = columns.map((c) => {
    const th = el("th", { text: c.label || c.key, title: c.title || null });
    if (c.sortable !== false) {
      th.addEventListener("click", () => {
        sortDir = sortKey === c.key ? -sortDir : c.num ? -1 : 1;
        sortKey = c.key;
        draw();
      });
    }
    headRow.appendChild(th);
    return th;
  });
  thead.appendChild(headRow);
  function draw() {
    const data = current.slice();
    if (sortKey) {
      data.sort((a, b) => {
        const x = a[sortKey];
        const y = b[sortKey];
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        return (x < y ? -1 : x > y ? 1 : 0) * sortDir;
      });
    }
    columns.forEach((c, i) => {
      ths[i].classList.toggle("sorted-asc", sortKey === c.key && sortDir === 1);
      ths[i].classList.toggle("sorted-desc", sortKey === c.key && sortDir === -1);
    });
    tbody.replaceChildren();
    const limit = o.limit || 2000;
    for (const row of data.slice(0, limit)) {
      const tr = el("tr", { class: o.onRowClick ? "clickable" : null });
      if (o.onRowClick) tr.addEventListener("click", () => o.onRowClick(row, tr));
      for (const c of columns) {
        const value = c.render ? c.render(row) : fmt(row[c.key]);
        tr.appendChild(el("td", { class: c.num ? "num" : null }, value));
      }
      tbody.appendChild(tr);
    }
    if (o.onDraw) o.onDraw(data.length);
  }
  draw();
  return {
    table,
    update(newRows) {
      current = newRows.slice();
      draw();
    },
  };
}

function figureLinks(paths, label) {
  if (REPORT || !paths || !paths.length) return null;
  return el(
    "div",
    { class: "figures" },
    el("span", { class: "note", text: label || "Figures:" }),
    paths.map((p) => el("a", { href: `files/${p.split("/").map(encodeURIComponent).join("/")}`, target: "_blank", text: p.split("/").pop() })),
  );
}

// ------------------------------------------------------------------ overview

function modelCard(ov) {
  const model = (ov.config && ov.config.model) || {};
  const arch = model.arch || {};
  const dl = el("dl");
  const add = (k, v, id) => dl.append(el("dt", { text: k }), el("dd", { text: v, id: id || null }));
  add("architecture", model.name || "?");
  add("task", model.task || "?");
  add("targets", String(ov.targets.length), "n-targets");
  add("input length", model.length ? `${model.length} bp` : "any");
  for (const [k, v] of Object.entries(arch)) add(k, Array.isArray(v) ? v.join(", ") : String(v));
  return el("div", { class: "card" }, el("h3", { text: "Model" }), dl);
}

function datasetCard(ov) {
  const d = ov.dataset;
  const dl = el("dl");
  const add = (k, v) => dl.append(el("dt", { text: k }), el("dd", { text: v }));
  if (!d) {
    add("dataset", "not found (the manifest names none, or the file has moved)");
  } else if (d.error) {
    add("dataset", d.path);
    add("error", d.error);
  } else {
    add("file", d.path);
    add("length", `${d.length} bp`);
    for (const [split, s] of Object.entries(d.splits || {})) {
      const rate = s.positive_rate_mean === undefined || s.positive_rate_mean === null ? "" : `, mean positive rate ${fmt(s.positive_rate_mean, 3)}`;
      add(split, `${s.n.toLocaleString()} sequences${rate}`);
    }
  }
  return el("div", { class: "card" }, el("h3", { text: "Dataset" }), dl);
}

function stepsCard(ov) {
  const dl = el("dl");
  for (const s of ov.steps) dl.append(el("dt", { text: s.step }), el("dd", { text: `${s.time || ""}  ${s.command || ""}` }));
  if (!ov.steps.length) dl.append(el("dt", { text: "steps" }), el("dd", { text: "none recorded (no manifest.json)" }));
  return el("div", { class: "card" }, el("h3", { text: "Steps run" }), dl);
}

function drawTraining(container, training) {
  const c = training.columns;
  const epoch = c.epoch || c[Object.keys(c)[0]].map((_, i) => i);
  const lossDiv = el("div", { class: "plot", id: "training-loss" });
  const metricDiv = el("div", { class: "plot", id: "training-metrics" });
  container.append(el("div", { class: "grid2" }, lossDiv, metricDiv));
  const lines = (keys) => keys.filter((k) => c[k]).map((k) => ({ x: epoch, y: c[k], name: k, mode: "lines+markers", type: "scatter" }));
  plot(lossDiv, lines(Object.keys(c).filter((k) => k.includes("loss"))), { title: { text: "Loss" }, xaxis: { title: { text: "epoch" } }, height: 320 });
  const metricKeys = Object.keys(c).filter((k) => /au(roc|prc)|pearson|spearman|r2/.test(k));
  plot(metricDiv, lines(metricKeys), { title: { text: "Validation metrics" }, xaxis: { title: { text: "epoch" } }, height: 320 });
}

function drawCurves(rocDiv, prDiv, curves, targets) {
  const roc = [];
  const pr = [];
  for (const t of targets) {
    const c = curves.targets[t];
    if (!c) continue;
    roc.push({ x: c.fpr, y: c.tpr, name: t, mode: "lines", type: "scatter" });
    pr.push({ x: c.recall, y: c.precision, name: t, mode: "lines", type: "scatter" });
  }
  roc.push({ x: [0, 1], y: [0, 1], mode: "lines", line: { dash: "dot", color: "#aaa" }, showlegend: false, hoverinfo: "skip" });
  plot(rocDiv, roc, { title: { text: "ROC" }, xaxis: { title: { text: "false positive rate" }, range: [0, 1] }, yaxis: { title: { text: "true positive rate" }, range: [0, 1.02] }, height: 380 });
  plot(prDiv, pr, { title: { text: "Precision-recall" }, xaxis: { title: { text: "recall" }, range: [0, 1] }, yaxis: { title: { text: "precision" }, range: [0, 1.02] }, height: 380 });
}

// The model against a logistic regression on k-mer counts (k <= 6, both strands) fitted on
// the same training split: does the deep model beat it?
function baselineCard(b) {
  const dl = el("dl");
  const add = (k, v) => dl.append(el("dt", { text: k }), el("dd", { text: v }));
  add("AUROC (mean)", `model ${fmt(b.model_auroc_mean, 4)}, baseline ${fmt(b.baseline_auroc_mean, 4)}`);
  if (b.model_auprc_mean !== undefined) add("AUPRC (mean)", `model ${fmt(b.model_auprc_mean, 4)}, baseline ${fmt(b.baseline_auprc_mean, 4)}`);
  add("model better", `on ${b.model_better} of ${b.n} targets (AUROC)`);
  const beaten = b.n > 0 && b.model_better === b.n;
  const verdict = b.n === 0 ? "no target has both figures" : beaten ? "the model beats the k-mer baseline on every target" : `the k-mer baseline is as good or better on: ${b.baseline_not_beaten.slice(0, 10).join(", ")}${b.baseline_not_beaten.length > 10 ? ", …" : ""}`;
  return el(
    "div",
    { class: "card", id: "baseline-card" },
    el("h3", { text: "Against a k-mer baseline" }),
    el("p", { class: "note", text: "Logistic regression on k-mer counts (k ≤ 6, both strands), trained on the same training split, regularization chosen on its validation split." }),
    dl,
    el("p", { class: beaten ? "note" : "error", id: "baseline-verdict", text: verdict }),
  );
}

async function renderOverview(sec) {
  const ov = await getJSON("overview");
  state.overview = ov;
  document.getElementById("run-name").textContent = ov.run_dir;
  sec.replaceChildren();
  sec.append(el("h2", { text: "Run" }));
  if (ov.config_error) sec.append(el("div", { class: "error", text: ov.config_error }));
  sec.append(el("div", { class: "cards" }, modelCard(ov), datasetCard(ov), stepsCard(ov)));

  sec.append(el("h2", { text: "Training" }));
  if (ov.training.missing) sec.append(missingBox(ov.training, "Training curves"));
  else drawTraining(sec, ov.training);

  sec.append(el("h2", { text: "Test performance per target" }));
  if (ov.test.missing) {
    sec.append(missingBox(ov.test, "Test metrics"));
    return;
  }
  if (ov.test.summary) sec.append(el("p", { class: "note", text: ov.test.summary }));
  if (ov.test.baseline) sec.append(el("div", { class: "cards" }, baselineCard(ov.test.baseline)));
  const rows = ov.test.rows;
  const selected = new Set(rows.slice(0, 8).map((r) => r.target));
  const rocDiv = el("div", { class: "plot", id: "roc-plot" });
  const prDiv = el("div", { class: "plot", id: "pr-plot" });
  let curves = null;
  const redraw = () => curves && !curves.missing && drawCurves(rocDiv, prDiv, curves, [...selected]);
  const columns = [
    {
      key: "_curve",
      label: "curve",
      sortable: false,
      render: (r) => {
        const box = el("input", { type: "checkbox", title: "show on the ROC/PR plots" });
        box.checked = selected.has(r.target);
        box.addEventListener("change", () => {
          if (box.checked) selected.add(r.target);
          else selected.delete(r.target);
          redraw();
        });
        return box;
      },
    },
  ].concat(ov.test.columns.map((k) => ({ key: k, label: k, num: typeof rows[0]?.[k] === "number" })));
  const count = el("p", { id: "target-count", class: "note", text: `${rows.length} targets` });
  const tbl = sortableTable(columns, rows, { id: "targets-table" });
  sec.append(count, el("div", { class: "scroll" }, tbl.table));
  sec.append(el("h2", { text: "ROC and PR curves (test split; tick targets in the table)" }));
  const curveNote = el("p", { class: "note", id: "curve-note", text: "computing the curves on the test split…" });
  const holder = el("div", { class: "grid2" }, rocDiv, prDiv);
  sec.append(curveNote, holder);
  // Not awaited: the view is usable before the curves come (the server may still be
  // computing them).
  getJSON("curves").then(
    (got) => {
      curves = got;
      const rc = curves.reverse_complement ? "; forward and reverse-complement predictions averaged, as the test step did" : "";
      curveNote.textContent = curves.missing ? "" : `${curves.n.toLocaleString()} test sequences${curves.n >= 5000 ? " (the first 5,000)" : ""}${rc}`;
      if (curves.missing) holder.replaceWith(missingBox(curves, "ROC/PR curves"));
      else redraw();
    },
    (err) => holder.replaceWith(errorBox(err)),
  );
}

// ------------------------------------------------------------------ filters

// A motif over its database match, aligned. motifs.compare's (and TomTom's) convention:
// own column i at x = i, the oriented match's column j at x = offset + j.
function alignedPair(ownProbs, ownTitle, match, strand, offset) {
  const probs = strand === "-" ? Logo.reverseComplement(match.probs) : match.probs;
  return Logo.pwmSVG(
    [
      { probs: ownProbs, offset: 0 },
      { probs, offset: Number(offset) || 0 },
    ],
    { col: 8, height: 26, titles: [ownTitle, `${match.name} (${strand || "+"})`] },
  );
}

function alignedLogo(fv, row) {
  const own = fv.pwms[`filter${row.filter}`];
  const match = row.match_id ? fv.matched[row.match_id] : null;
  if (!own || !match) return null;
  return alignedPair(own.probs, `filter${row.filter}`, match, row.match_strand, row.match_offset);
}

async function renderFilters(sec) {
  const fv = await getJSON("filters");
  sec.replaceChildren(el("h2", { text: "First-layer filters" }));
  if (fv.missing) {
    sec.append(missingBox(fv, "Filter analysis"));
    return;
  }
  for (const w of fv.warnings || []) sec.append(el("div", { class: "error", text: w }));
  const annotated = el("input", { type: "checkbox", id: "annotated-only" });
  const search = el("input", { type: "search", id: "filter-search", placeholder: "search: motif name, id, consensus, filter" });
  const shown = el("span", { class: "note", id: "filters-shown" });
  sec.append(el("div", { class: "controls" }, el("label", {}, annotated, " annotated only"), search, shown));

  if (fv.influence) {
    sec.append(el("h2", { text: "Influence of each filter on each target (clustered)" }));
    const names = {};
    for (const r of fv.rows) names[String(r.filter)] = r.match_name || "";
    const ylabels = fv.influence.rows.map((f) => `filter${f}${names[f] ? ` ${names[f]}` : ""}`);
    const div = el("div", { class: "plot", id: "influence-heatmap" });
    sec.append(div);
    plot(
      div,
      [
        {
          type: "heatmap",
          z: fv.influence.values,
          x: fv.influence.cols,
          y: ylabels,
          colorscale: DIVERGING,
          zmid: 0,
          hovertemplate: "%{y}<br>target %{x}<br>influence %{z:.4g}<extra></extra>",
        },
      ],
      { height: Math.min(600, 120 + 14 * ylabels.length), margin: { l: 160, r: 20, t: 20, b: 90 }, yaxis: { automargin: true, autorange: "reversed" } },
    );
  }

  sec.append(el("h2", { text: "Filters" }));
  const columns = [
    { key: "filter", label: "filter", num: true },
    {
      key: "_logo",
      label: "logo",
      sortable: false,
      render: (r) => {
        const pwm = fv.pwms[`filter${r.filter}`];
        return pwm ? Logo.pwmSVG([{ probs: pwm.probs, offset: 0 }], { titles: [`filter${r.filter}`] }) : el("span", { class: "note", text: "few sites" });
      },
    },
    { key: "consensus", label: "consensus", render: (r) => el("code", { text: r.consensus || "" }) },
    { key: "ic", label: "IC (bits)", num: true },
    { key: "sites", label: "sites", num: true },
    { key: "influence", label: "influence", num: true },
    {
      key: "match_name",
      label: "best match",
      render: (r) => (r.match_name ? el("span", {}, el("span", { class: "match-name", text: r.match_name }), el("span", { class: "note", text: ` ${r.match_id || ""}` })) : ""),
    },
    { key: "match_q", label: "q-value", num: true },
    { key: "_aligned", label: "filter / match (aligned)", sortable: false, render: (r) => alignedLogo(fv, r) || "" },
    {
      key: "_more",
      label: "other matches",
      sortable: false,
      render: (r) => {
        const m = (fv.matches[String(r.filter)] || []).filter((x) => x.target_id !== r.match_id);
        return m.slice(0, 4).map((x) => el("span", { class: "tag", title: `q = ${fmt(x.q_value)}`, text: x.target_name || x.target_id }));
      },
    },
  ];
  const tbl = sortableTable(columns, fv.rows, { id: "filters-table", sortKey: "influence", sortDir: -1, onDraw: (n) => (shown.textContent = `${n} of ${fv.rows.length} filters`) });
  sec.append(el("div", { class: "scroll" }, tbl.table));
  const apply = () => {
    const q = search.value.trim().toLowerCase();
    tbl.update(
      fv.rows.filter((r) => {
        if (annotated.checked && !r.match_name) return false;
        if (!q) return true;
        return [`filter${r.filter}`, r.match_name, r.match_id, r.consensus].some((v) => v && String(v).toLowerCase().includes(q));
      }),
    );
  };
  annotated.addEventListener("change", apply);
  search.addEventListener("input", apply);
  if (fv.recovery) {
    sec.append(el("h2", { text: "Planted motifs recovered (simulated data)" }));
    const cols = Object.keys(fv.recovery[0] || {}).map((k) => ({ key: k, label: k, num: typeof fv.recovery[0][k] === "number" }));
    sec.append(sortableTable(cols, fv.recovery, { id: "recovery-table" }).table);
  }
  const links = figureLinks(fv.figures);
  if (links) sec.append(links);
}

// ------------------------------------------------------------------ explorer

// Rows for the match track: each match in the first row where it overlaps nothing; at
// most maxLanes rows (weaker matches that do not fit are left out: -1).
function laneLayout(matches, maxLanes) {
  const lanes = [];
  return matches.map((m) => {
    let lane = lanes.findIndex((end) => end <= m.start);
    if (lane < 0) {
      if (lanes.length >= maxLanes) return -1;
      lane = lanes.length;
      lanes.push(0);
    }
    lanes[lane] = m.end;
    return lane;
  });
}

// Where a result's first shown base sits on the x axis: its 1-based genome position for a
// sequence read from the genome, else 1 (positions in the shown sequence).
function firstPosition(res) {
  return Number.isInteger(res.genome_start) ? res.genome_start : 1;
}

// Variants as markers on a track: a dotted line each, and a hover marker at height y.
function variantMarks(variants, target, y, yaxis, xref) {
  const shapes = variants.map((v) => ({ type: "line", x0: v.pos, x1: v.pos, xref: xref || "x", yref: "paper", y0: 0, y1: 1, line: { color: "#7b3294", width: 1, dash: "dot" }, layer: "below" }));
  const sadText = (v) => {
    const keys = target ? [target] : Object.keys(v.sad);
    return keys.filter((k) => k in v.sad).map((k) => `SAD ${k}: ${fmt(v.sad[k])}`).join("<br>");
  };
  const trace = {
    type: "scatter",
    mode: "markers",
    x: variants.map((v) => v.pos),
    y: variants.map(() => y),
    yaxis: yaxis || "y",
    name: "variants",
    marker: { symbol: "triangle-down", size: 11, color: "#7b3294" },
    customdata: variants.map((v) => [v.id && v.id !== "." ? v.id : `${v.chrom}:${v.pos}`, `${v.ref}>${v.alt}`, sadText(v)]),
    hovertemplate: "%{customdata[0]} %{customdata[1]} at %{x:,}<br>%{customdata[2]}<extra>variant</extra>",
  };
  return { shapes, trace };
}

function genomeAxis(res, n, x0) {
  if (!res.chrom) return { title: { text: `position in ${res.name}` }, range: [0.5, n + 0.5], zeroline: false };
  return { title: { text: `${res.chrom} (1-based)` }, range: [x0 - 0.5, x0 + n - 0.5], zeroline: false, tickformat: ",d", separatethousands: true };
}

// The explorer's match tracks in drawing order (explorer.TRACKS), and their colours.
const MATCH_TRACKS = ["annotated filters", "unannotated filters", "JASPAR hits", "modisco hits"];
const MATCH_COLORS = { "annotated filters": "#255C99", "unannotated filters": "#98a2b3", "JASPAR hits": "#c4841d", "modisco hits": "#7b3294" };

function matchTrack(m) {
  if (m.track) return m.track;
  if (m.source === "modisco") return "modisco hits";
  if (m.source === "motif") return "JASPAR hits";
  return m.label ? "annotated filters" : "unannotated filters";
}

function drawExplain(div, res, marks) {
  const n = res.sequence.length;
  const x0 = firstPosition(res);
  const xs = Array.from({ length: n }, (_, i) => i + x0);
  const seq = res.sequence;
  const tracks = ["loss/gain", "ISM", "attribution"];
  // one track per kind of match, each with its own label and legend entry
  const groups = {};
  for (const m of res.matches || []) (groups[matchTrack(m)] = groups[matchTrack(m)] || []).push(m);
  const matchTracks = MATCH_TRACKS.filter((t) => groups[t]);
  tracks.push(...matchTracks);
  if (res.temporal) tracks.push("temporal");
  const heights = { "loss/gain": 1, ISM: 1.4, attribution: 1.2, temporal: 1 };
  for (const t of matchTracks) heights[t] = 0.45 + 0.12 * Math.min(8, groups[t].length);
  const total = tracks.reduce((s, t) => s + heights[t], 0);
  const gap = 0.04;
  const domains = {};
  let y = 0;
  for (const t of tracks) {
    const h = (heights[t] / total) * (1 - gap * (tracks.length - 1));
    domains[t] = [y, y + h];
    y += h + gap;
  }
  const axis = {};
  tracks.forEach((t, i) => (axis[t] = i === 0 ? "y" : `y${i + 1}`));
  const layout = {
    height: 180 + 110 * (tracks.length - matchTracks.length) + 70 * matchTracks.length,
    margin: { l: 90, r: 30, t: 30, b: 40 },
    showlegend: true,
    legend: { orientation: "h", y: -0.08 },
    xaxis: genomeAxis(res, n, x0),
    shapes: [],
    title: { text: `${res.target}: logit ${fmt(res.ism.reference)}`, font: { size: 13 } },
  };
  const yaxis = (t, extra) => {
    const key = axis[t] === "y" ? "yaxis" : `yaxis${axis[t].slice(1)}`;
    layout[key] = Object.assign({ domain: domains[t], title: { text: t, font: { size: 11 } }, anchor: "x", zeroline: false }, extra || {});
  };
  const traces = [];
  // loss / gain
  traces.push({ x: xs, y: res.ism.gain, name: "gain", type: "scatter", mode: "lines", line: { color: "#109648" }, yaxis: axis["loss/gain"], hovertemplate: "%{x}: gain %{y:.3f}<extra></extra>" });
  traces.push({ x: xs, y: res.ism.loss.map((v) => -v), name: "loss", type: "scatter", mode: "lines", line: { color: "#D62839" }, yaxis: axis["loss/gain"], hovertemplate: "%{x}: loss %{y:.3f}<extra></extra>" });
  yaxis("loss/gain");
  // ISM heat map
  const ref = xs.map((_, i) => seq[i]);
  traces.push({
    type: "heatmap",
    x: xs,
    y: ["A", "C", "G", "T"],
    z: res.ism.delta,
    customdata: [ref, ref, ref, ref],
    colorscale: DIVERGING,
    zmid: 0,
    yaxis: axis.ISM,
    name: "ISM",
    showscale: true,
    colorbar: { len: domains.ISM[1] - domains.ISM[0], y: (domains.ISM[0] + domains.ISM[1]) / 2, thickness: 12, title: { text: "Δ logit", side: "right" } },
    hovertemplate: "position %{x} (%{customdata}) → %{y}: Δ logit %{z:.3f}<extra></extra>",
  });
  yaxis("ISM", { title: { text: "ISM" } });
  // attribution logo: letters as shapes on the same x axis
  const attr = res.attribution;
  let lo = 0;
  let hi = 0;
  for (let j = 0; j < n; j++) {
    let p = 0;
    let q = 0;
    for (let b = 0; b < 4; b++) {
      if (attr[b][j] > 0) p += attr[b][j];
      else q += attr[b][j];
    }
    hi = Math.max(hi, p);
    lo = Math.min(lo, q);
  }
  const pad = (hi - lo || 1) * 0.08;
  const attrAxis = axis.attribution;
  layout.shapes.push(...Logo.plotlyShapes(attr, x0, "x", attrAxis));
  traces.push({
    x: xs,
    y: xs.map((_, j) => attr[0][j] + attr[1][j] + attr[2][j] + attr[3][j]),
    customdata: ref,
    type: "scatter",
    mode: "markers",
    marker: { opacity: 0 },
    yaxis: attrAxis,
    name: "gradient × input",
    showlegend: false,
    hovertemplate: "%{x} (%{customdata}): %{y:.4f}<extra>gradient × input</extra>",
  });
  yaxis("attribution", { title: { text: "grad × input" }, range: [lo - pad, hi + pad] });
  for (const track of matchTracks) {
    const placed = laneLayout(groups[track], 8);
    const shown = groups[track].filter((_, i) => placed[i] >= 0);
    const lanes = placed.filter((l) => l >= 0);
    const label = (m) => `${m.label || m.id}${m.also ? ` +${m.also.length}` : ""}`;
    // A label is drawn only where it fits inside its bar (about 6 px a character at 10 px);
    // the others show on hover, so no two labels overlap or run off their bar.
    const pxPerBase = Math.max(1, (div.clientWidth || 1000) - layout.margin.l - layout.margin.r) / n;
    traces.push({
      type: "bar",
      orientation: "h",
      base: shown.map((m) => m.start + x0 - 0.5),
      x: shown.map((m) => m.end - m.start),
      y: lanes,
      text: shown.map((m) => (label(m).length * 6 + 4 <= (m.end - m.start) * pxPerBase ? label(m) : "")),
      textposition: "inside",
      insidetextanchor: "middle",
      textfont: { size: 10, color: "#fff" },
      constraintext: "none",
      cliponaxis: true,
      customdata: shown.map((m) => [m.id, label(m), m.score, m.start + x0, m.end + x0 - 1, m.also ? `<br>also: ${m.also.slice(0, 8).join(", ")}` : ""]),
      marker: { color: MATCH_COLORS[track] || "#98a2b3" },
      yaxis: axis[track],
      name: track,
      legendgroup: track,
      hovertemplate: `${track}: %{customdata[0]} %{customdata[1]}<br>%{customdata[3]}-%{customdata[4]}, score %{customdata[2]:.0%} of its best%{customdata[5]}<extra></extra>`,
    });
    yaxis(track, { title: { text: track.replace(" ", "<br>") }, showticklabels: false, autorange: "reversed", range: [Math.max(...lanes, 0) + 0.6, -0.6] });
  }
  if (res.temporal) {
    traces.push({ x: xs, y: res.temporal.forward, name: "forward (prefix)", type: "scatter", mode: "lines", yaxis: axis.temporal });
    traces.push({ x: xs, y: res.temporal.backward, name: "backward (suffix)", type: "scatter", mode: "lines", yaxis: axis.temporal });
    yaxis("temporal", { title: { text: "temporal" }, range: [0, 1] });
  }
  for (const m of marks || []) {
    layout.shapes.push({ type: "line", x0: m, x1: m, yref: "paper", y0: 0, y1: 1, line: { color: "#111", width: 1, dash: "dot" } });
  }
  if (res.variants && res.variants.length) {
    // on the loss/gain track, just above its highest gain
    const top = Math.max(0, ...res.ism.gain) * 1.1 || 0.1;
    const v = variantMarks(res.variants, res.target, top, axis["loss/gain"]);
    traces.push(v.trace);
    layout.shapes.push(...v.shapes);
  }
  return plot(div, traces, layout);
}

function drawPredictions(div, res, onPick) {
  const preds = res.predictions;
  const trace = {
    type: "bar",
    x: preds.map((p) => p.target),
    y: preds.map((p) => p.prediction),
    marker: { color: preds.map((p) => (p.target === res.target ? "#D62839" : "#255C99")) },
    hovertemplate: "%{x}: %{y:.3f}<extra>click to explain</extra>",
  };
  return plot(div, [trace], { height: 260, title: { text: "Prediction per target (click a bar to explain that target)", font: { size: 13 } }, xaxis: { type: "category", automargin: true }, yaxis: { title: { text: "prediction" } } }).then(() => {
    if (onPick) div.on("plotly_click", (ev) => onPick(ev.points[0].x));
  });
}

function explainOutput(sec) {
  const locusStatus = el("p", { class: "note", id: "locus-status", hidden: true });
  const locusDiv = el("div", { class: "plot", id: "locus-plot", hidden: true });
  const status = el("p", { class: "note", id: "explain-status" });
  const error = el("div", { id: "explorer-error" });
  const predDiv = el("div", { class: "plot", id: "pred-bar" });
  const ismDiv = el("div", { class: "plot", id: "ism-plot" });
  sec.append(error, locusStatus, locusDiv, status, predDiv, ismDiv);
  return { status, error, predDiv, ismDiv, locusDiv, locusStatus };
}

// The prediction track of a locus: one line per target (the mean of the windows covering
// each base), variants as markers; a click calls onClick with the genome position.
function drawLocus(div, res, onClick) {
  const xs = Array.from({ length: res.length }, (_, i) => res.start + i);
  const traces = res.targets.map((t) => ({ x: xs, y: res.per_base[t], name: t, type: "scatter", mode: "lines", hovertemplate: `%{x:,}: %{y:.3f}<extra>${t}</extra>` }));
  let lo = Infinity;
  let hi = -Infinity;
  for (const t of res.targets) for (const v of res.per_base[t]) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
  const pad = (hi - lo || 1) * 0.1;
  const layout = {
    height: 320,
    margin: { l: 70, r: 30, t: 30, b: 50 },
    title: { text: `${res.name}: prediction per base (mean of the ${res.window} bp windows over it; click to explain a window)`, font: { size: 13 } },
    xaxis: { title: { text: `${res.chrom} (1-based)` }, range: [res.start - 0.5, res.end + 0.5], tickformat: ",d", separatethousands: true, zeroline: false },
    yaxis: { title: { text: "prediction" }, range: [lo - pad, hi + pad], zeroline: false },
    legend: { orientation: "h", y: -0.25 },
    // a click anywhere over the track picks the position under it (not only near a line)
    hovermode: "x",
    shapes: [],
  };
  if (res.variants && res.variants.length) {
    const v = variantMarks(res.variants, null, hi + pad * 0.5, "y");
    traces.push(v.trace);
    layout.shapes.push(...v.shapes);
  }
  return plot(div, traces, layout).then(() => {
    if (onClick) div.on("plotly_click", (ev) => ev.points.length && onClick(Math.round(ev.points[0].x)));
  });
}

// Shade the window being explained on the locus track.
function markWindow(div, res, first, last) {
  const keep = (div.layout.shapes || []).filter((s) => s.name !== "window");
  keep.push({ name: "window", type: "rect", xref: "x", yref: "paper", x0: first - 0.5, x1: last + 0.5, y0: 0, y1: 1, fillcolor: "rgba(214,40,57,0.12)", line: { width: 0 }, layer: "below" });
  withPlotly((P) => P.relayout(div, { shapes: keep }));
}

function hideLocus(out) {
  if (out.locusDiv.hidden) return;
  withPlotly((P) => P.purge(out.locusDiv));
  out.locusDiv.hidden = true;
  out.locusStatus.hidden = true;
}

// 1-based inclusive length of a chrom:start-end text, or null when it is not one.
function regionLength(text) {
  const m = /^\s*([^\s:]+):([\d,]+)-([\d,]+)\s*$/.exec(text);
  if (!m) return null;
  const [a, b] = [m[2], m[3]].map((v) => Number(v.replace(/,/g, "")));
  return b - a + 1;
}

function showExplain(out, res, onPick, marks) {
  out.error.replaceChildren();
  const where = res.chrom ? `${res.chrom}:${res.genome_start.toLocaleString()}-${(res.genome_start + res.sequence.length - 1).toLocaleString()}` : res.name;
  const parts = [`${where}: ${res.sequence.length} bp shown`, res.note, `ISM (${res.ism.method}) + gradient × input for ${res.target}`];
  if (res.seconds !== undefined) parts.push(`${res.seconds.toFixed(2)} s on the server`);
  out.status.textContent = parts.filter(Boolean).join(" · ");
  drawPredictions(out.predDiv, res, onPick);
  drawExplain(out.ismDiv, res, marks);
}

async function renderExplorer(sec) {
  const model = await getJSON("model");
  state.model = model;
  sec.replaceChildren(el("h2", { text: "Sequence explorer" }));
  if (!model.available) {
    sec.append(missingBox(model, "The explorer needs a trained model"));
    return;
  }
  if (REPORT) {
    const views = REPORT.views || [];
    if (!views.length) {
      sec.append(missingBox({ message: "no precomputed sequences in this report" }, "Explorer"));
      return;
    }
    sec.append(el("p", { class: "note", text: "Precomputed for the report: the test sequences each target predicts highest. For any other sequence, run `motiflens serve`." }));
    const select = el("select", { id: "view-select" }, views.map((v, i) => el("option", { value: String(i), text: `${v.target}: ${v.name}` })));
    sec.append(el("div", { class: "controls" }, el("label", {}, "sequence ", select)));
    const out = explainOutput(sec);
    const show = () => showExplain(out, views[Number(select.value)], null);
    select.addEventListener("change", show);
    show();
    return;
  }
  const max = model.length ? `at most ${model.length} bp; shorter sequences are centre-padded with N` : "any length";
  const text = el("textarea", { id: "seq-input", placeholder: `Paste a DNA sequence (A, C, G, T, N; ${max}); a FASTA header line may come first.` });
  const target = el("select", { id: "target-select" }, el("option", { value: "", text: "highest prediction" }), model.targets.map((t) => el("option", { value: t, text: t })));
  const testSelect = el("select", { id: "test-select" }, el("option", { value: "", text: "(pick a test sequence)" }));
  const region = el("input", { type: "text", id: "region-input", placeholder: model.genome ? "chr1:1,000,001-1,000,600" : "needs serve --genome", disabled: !model.genome, title: model.genome && model.length ? `a region longer than ${model.length} bp (up to ${(model.max_locus || 100000).toLocaleString()} bp) is shown as a prediction track; click it to explain a window` : null });
  const button = el("button", { type: "button", class: "primary", id: "explain-btn", text: "Explain" });
  sec.append(
    el("p", { class: "note", text: `Model input: ${max}. Predictions for every target, then ISM (every single-base change), gradient × input and the first-layer filters that fire, for the chosen target.` }),
    text,
    el("div", { class: "controls" }, el("label", {}, "or test sequence ", testSelect), el("label", {}, "or region ", region), el("label", {}, "target ", target), button),
  );
  const out = explainOutput(sec);
  let source = "text";
  testSelect.addEventListener("change", () => (source = testSelect.value ? "test" : "text"));
  region.addEventListener("input", () => (source = region.value ? "region" : "text"));
  text.addEventListener("input", () => (source = "text"));
  // A region longer than the model's input is a locus: its prediction track first, then
  // the window around a clicked position explained below it.
  let locus = null;
  const explainAt = async (position) => {
    out.status.textContent = `explaining the window around ${locus.chrom}:${position.toLocaleString()}…`;
    try {
      const res = await postJSON("explain", { region: locus.name, position, target: target.value || null });
      markWindow(out.locusDiv, locus, res.genome_start, res.genome_start + res.sequence.length - 1);
      showExplain(out, res, (t) => {
        target.value = t;
        explainAt(position);
      });
    } catch (err) {
      out.status.textContent = "";
      out.error.replaceChildren(errorBox(err));
    }
  };
  const showLocus = async (payload) => {
    const res = await postJSON("locus", { region: payload.region, targets: payload.target ? [payload.target] : null });
    locus = res;
    out.locusDiv.hidden = false;
    out.locusStatus.hidden = false;
    const nv = (res.variants || []).length;
    out.locusStatus.textContent = `${res.name}: ${res.length.toLocaleString()} bp in ${res.window_starts.length} windows of ${res.window} bp (stride ${res.stride})${nv ? ` · ${nv} scored variant${nv === 1 ? "" : "s"}` : ""} · ${res.seconds.toFixed(2)} s on the server`;
    out.status.textContent = "click the track to explain the window around a position";
    withPlotly((P) => {
      P.purge(out.predDiv);
      P.purge(out.ismDiv);
    });
    await drawLocus(out.locusDiv, res, explainAt);
  };
  const run = async () => {
    const payload = { target: target.value || null };
    if (source === "test" && testSelect.value) payload.test_index = Number(testSelect.value);
    else if (source === "region" && region.value) payload.region = region.value;
    else payload.sequence = text.value;
    button.disabled = true;
    out.error.replaceChildren();
    out.status.textContent = "computing…";
    try {
      const span = payload.region ? regionLength(payload.region) : null;
      if (span !== null && model.length && span > model.length) {
        await showLocus(payload);
        return;
      }
      hideLocus(out);
      const res = await postJSON("explain", payload);
      showExplain(out, res, (t) => {
        target.value = t;
        run();
      });
    } catch (err) {
      out.status.textContent = "";
      out.error.replaceChildren(errorBox(err));
    } finally {
      button.disabled = false;
    }
  };
  button.addEventListener("click", run);
  getJSON("test_sequences")
    .then((ts) => {
      if (ts.missing) {
        testSelect.disabled = true;
        testSelect.title = ts.message;
        return;
      }
      for (const r of ts.rows) testSelect.appendChild(el("option", { value: String(r.index), text: `${r.name}${r.positive.length ? `  [${r.positive.join(", ")}]` : ""}` }));
    })
    .catch(() => (testSelect.disabled = true));
}

// ------------------------------------------------------------------ optimization & insertion

// What each class-optimization method is (the step's folder names).
const OPTIMIZE_METHODS = {
  sequence: ["sequence (default)", "the best valid DNA found, and the model's preference at each of its positions"],
  demo: ["demo", "DeMo's procedure: a continuous input with an L2 penalty, normalised into a probability matrix"],
};

// The designed sequence around its motif window (0-based start, exclusive end): the
// window in bold with a few bases either side; the whole sequence as the tooltip.
function designedSequence(r, flank) {
  const seq = r.sequence || "";
  const lo = Number.isInteger(r.motif_start) ? r.motif_start : null;
  const hi = Number.isInteger(r.motif_end) ? r.motif_end : null;
  if (lo === null || hi === null || hi <= lo) return el("code", { title: seq, text: seq.slice(0, 60) + (seq.length > 60 ? "…" : "") });
  const a = Math.max(0, lo - flank);
  const b = Math.min(seq.length, hi + flank);
  return el("code", { title: seq }, a > 0 ? "…" : "", seq.slice(a, lo), el("b", { text: seq.slice(lo, hi) }), seq.slice(hi, b), b < seq.length ? "…" : "");
}

function optimizeMethod(m) {
  const id = safeName(m.method);
  const box = el("div", { class: "optimize-method", id: `optimize-${id}` });
  const [title, about] = OPTIMIZE_METHODS[m.method] || [m.method, null];
  box.append(el("h3", { text: title, style: "font-size: 1rem; margin: 1rem 0 0.2rem" }));
  if (about) box.append(el("p", { class: "note", text: about }));
  if (m.missing) {
    box.append(missingBox(m, `Class optimization (${m.method})`));
    return box;
  }
  const p = m.params || {};
  const facts = [
    p.steps !== undefined ? `${p.steps} steps` : null,
    p.starts !== undefined ? `${p.starts} start${p.starts === 1 ? "" : "s"} per target (start 0 scores highest)` : null,
    p.db ? `motifs matched (TomTom) against ${p.db}` : p.db === null ? "no motif database" : null,
    p.time ? `run ${p.time}` : null,
  ].filter(Boolean);
  box.append(el("p", { class: "note", text: `${m.folder}${facts.length ? ": " + facts.join(" · ") : ""}` }));
  for (const w of m.warnings || []) box.append(el("div", { class: "error", text: w }));
  const has = (k) => m.columns.includes(k);
  const columns = [
    { key: "target", label: "target" },
    has("start") ? { key: "start", label: "start", num: true } : null,
    {
      key: "logo",
      label: "motif window",
      sortable: false,
      render: (r) => {
        const pwm = r.logo ? m.pwms[r.logo] : null;
        return pwm ? Logo.pwmSVG([{ probs: pwm.probs, offset: 0 }], { col: 9, height: 36 }) : "";
      },
    },
    { key: "score", label: "score", num: true },
    has("motif") ? { key: "motif", label: "consensus", render: (r) => el("code", { text: r.motif || "" }) } : null,
    // 1-based, inclusive, as a position shown to a reader
    has("motif_start") ? { key: "motif_start", label: "window", num: true, render: (r) => (Number.isInteger(r.motif_start) ? `${r.motif_start + 1}–${r.motif_end}` : "") } : null,
    has("match_name")
      ? {
          key: "match_name",
          label: "best match",
          render: (r) => (r.match_id ? el("span", {}, el("span", { class: "match-name", text: r.match_name || r.match_id }), ` ${r.match_id}`) : el("span", { class: "note", text: p.db === null ? "" : "none" })),
        }
      : null,
    has("match_q") ? { key: "match_q", label: "q", num: true } : null,
    { key: "sequence", label: "designed sequence (motif window in bold)", sortable: false, render: (r) => designedSequence(r, 8) },
  ].filter(Boolean);
  const best = has("start") ? m.rows.filter((r) => r.start === 0) : m.rows;
  const tbl = sortableTable(columns, best, { id: `optimize-table-${id}` });
  if (best.length < m.rows.length) {
    const all = el("input", { type: "checkbox", id: `optimize-all-${id}` });
    all.addEventListener("change", () => tbl.update(all.checked ? m.rows : best));
    box.append(el("div", { class: "controls" }, el("label", {}, all, " every start (else the best per target)")));
  }
  if (m.n_rows > m.rows.length) box.append(el("p", { class: "note", text: `first ${m.rows.length.toLocaleString()} of ${m.n_rows.toLocaleString()} rows` }));
  box.append(el("div", { class: "scroll" }, tbl.table));
  for (const links of [figureLinks(m.figures), figureLinks(m.files, "Files:")]) if (links) box.append(links);
  return box;
}

async function renderAnalyses(sec) {
  const [opt, ins] = await Promise.all([getJSON("optimize"), getJSON("insertion")]);
  sec.replaceChildren(el("h2", { text: "Class optimization" }));
  if (opt.missing) sec.append(missingBox(opt, "Class optimization"));
  else {
    sec.append(el("p", { class: "note", text: "The input each target's output likes most, per method, and the motif window in it (the run of highest information) with its best database match." }));
    for (const m of opt.methods) sec.append(optimizeMethod(m));
  }
  sec.append(el("h2", { text: "Motif insertion" }));
  if (ins.missing) sec.append(missingBox(ins, "Motif insertion"));
  else renderInsertion(sec, ins);
}

// The top motifs per target as a table (mean change, its spread over the backgrounds) and
// a heat map of the union of each target's top N, one legible row per motif.
function renderInsertion(sec, ins) {
  const table = ins.table || [];
  const targets = [...new Set(table.map((r) => r.target))];
  const pick = el("select", { id: "insertion-target" }, el("option", { value: "", text: "all targets" }), targets.map((t) => el("option", { value: t, text: t })));
  const shown = el("span", { class: "note" });
  sec.append(
    el("p", { class: "note", text: `Top ${ins.top} of ${ins.n_motifs} motifs per target by |mean change| of the logit when the motif is inserted into background sequences; SD is the spread of the change over the backgrounds.` }),
    el("div", { class: "controls" }, el("label", {}, "target ", pick), shown),
  );
  const columns = [
    { key: "target", label: "target" },
    { key: "rank", label: "rank", num: true },
    { key: "motif_name", label: "motif", render: (r) => el("span", {}, el("span", { class: "match-name", text: r.motif_name || r.motif_id }), el("span", { class: "note", text: ` ${r.motif_id}` })) },
    { key: "delta_score", label: "mean Δ", num: true },
    { key: "sd", label: "SD over backgrounds", num: true },
    { key: "n", label: "backgrounds", num: true },
  ];
  const tbl = sortableTable(columns, table, { id: "insertion-table", onDraw: (n) => (shown.textContent = `${n} rows`) });
  sec.append(el("div", { class: "scroll" }, tbl.table));
  pick.addEventListener("change", () => tbl.update(table.filter((r) => !pick.value || r.target === pick.value)));

  const h = ins.heatmap;
  sec.append(el("h3", { text: `Top ${ins.heatmap_top} motifs of each target (${h.rows.length} motifs), clustered` }));
  const div = el("div", { class: "plot", id: "insertion-heatmap" });
  sec.append(div);
  const zmax = h.zmax || Math.max(1e-9, ...h.values.flat().filter((v) => v !== null).map(Math.abs));
  // 18 px a row so every name is drawn; the colour scale is symmetric and clipped at a
  // high percentile (values beyond it show the end colour; the hover gives the value).
  plot(
    div,
    [{ type: "heatmap", z: h.values, x: h.cols, y: h.rows, colorscale: DIVERGING, zmin: -zmax, zmax, zmid: 0, colorbar: { title: { text: "mean Δ" } }, hovertemplate: "%{y} → %{x}: Δ %{z:.3f}<extra></extra>" }],
    {
      height: 160 + 18 * h.rows.length,
      margin: { l: 20, r: 20, t: 20, b: 120 },
      yaxis: { automargin: true, autorange: "reversed", tickmode: "array", tickvals: h.rows, ticktext: h.rows, tickfont: { size: 12 } },
      xaxis: { automargin: true, tickangle: -45 },
    },
  );
  const links = figureLinks(ins.figures);
  if (links) sec.append(links);
}

// ------------------------------------------------------------------ motifs

function insertionText(list) {
  if (!list || !list.length) return "";
  return list.map((e) => el("div", {}, el("span", { class: "match-name", text: `${fmt(e.delta_score)}` }), e.sd !== null && e.sd !== undefined ? ` ± ${fmt(e.sd)}` : "", el("span", { class: "note", text: ` ${e.motif_name || ""} ${e.motif_id}${e.n ? `, n = ${e.n}` : ""}` })));
}

async function renderMotifs(sec) {
  const mp = await getJSON("motifs");
  sec.replaceChildren(el("h2", { text: "Motifs: which motif drives which target, found three ways" }));
  if (mp.missing) {
    sec.append(missingBox(mp, "TF-MoDISco patterns"));
    return;
  }
  for (const w of mp.warnings || []) sec.append(el("div", { class: "error", text: w }));
  sec.append(el("p", { class: "note", text: "Per target: each TF-MoDISco pattern (logo, seqlets, its TomTom match aligned), the first-layer filters whose best match is the same motif with their influence on the target, and the motif's insertion effect on the target (mean Δ ± SD over backgrounds)." }));
  if (mp.filters && mp.filters.missing) sec.append(missingBox(mp.filters, "Filter analysis"));
  if (mp.insertion && mp.insertion.missing) sec.append(missingBox(mp.insertion, "Motif insertion"));
  const pick = el("select", { id: "motif-target" }, mp.targets.map((t) => el("option", { value: t.target, text: `${t.target} (${t.patterns.length} patterns)` })));
  sec.append(el("div", { class: "controls" }, el("label", {}, "target ", pick)));
  const holder = el("div", { id: "motif-patterns" });
  sec.append(holder);
  const columns = [
    { key: "pattern", label: "pattern", render: (r) => el("span", {}, r.pattern, el("span", { class: "note", text: r.kind ? ` ${r.kind}` : "" })) },
    {
      key: "_logo",
      label: "pattern / match (aligned)",
      sortable: false,
      render: (r) => {
        const own = mp.pwms[r.id];
        if (!own) return el("span", { class: "note", text: "no PWM" });
        const match = r.match_key ? mp.pwms[r.match_key] : null;
        // the match's offset counts from the trimmed pattern TomTom compared
        return match ? alignedPair(own.probs, r.pattern, match, r.strand, (Number(r.trim_start) || 0) + (Number(r.offset) || 0)) : Logo.pwmSVG([{ probs: own.probs, offset: 0 }], { titles: [r.pattern] });
      },
    },
    { key: "n_seqlets", label: "seqlets", num: true },
    { key: "match_name", label: "TomTom match", render: (r) => (r.match_name ? el("span", {}, el("span", { class: "match-name", text: r.match_name }), el("span", { class: "note", text: ` ${r.match_id || ""}` })) : el("span", { class: "note", text: "no match" })) },
    { key: "q_value", label: "q-value", num: true },
    { key: "_filters", label: "filters matched to it (influence)", sortable: false, render: (r) => r.filters.map((f) => el("span", { class: "tag", title: `best match ${f.match_name} ${f.match_id}`, text: `filter${f.filter} ${fmt(f.influence)}` })) },
    { key: "_insertion", label: "insertion Δ ± SD", sortable: false, render: (r) => insertionText(r.insertion) },
  ];
  const draw = () => {
    const t = mp.targets.find((x) => x.target === pick.value) || mp.targets[0];
    holder.replaceChildren();
    if (!t) return;
    holder.append(sortableTable(columns, t.patterns, { id: "motif-table" }).table);
  };
  pick.addEventListener("change", draw);
  draw();
}

// ------------------------------------------------------------------ variants

async function renderVariants(sec) {
  const vv = await getJSON("variants");
  sec.replaceChildren(el("h2", { text: "Variant effects (SAD)" }));
  if (vv.missing) {
    sec.append(missingBox(vv, "Variant scores"));
    return;
  }
  const model = state.model || (await getJSON("model"));
  const search = el("input", { type: "search", id: "variant-search", placeholder: "search: id, chrom:pos, target" });
  const shown = el("span", { class: "note" });
  sec.append(el("div", { class: "controls" }, search, shown));
  if (vv.n_rows > vv.rows.length) sec.append(el("p", { class: "note", text: `largest |SAD| ${vv.rows.length.toLocaleString()} of ${vv.n_rows.toLocaleString()} rows shown` }));
  const detail = el("div", { id: "variant-detail" });
  const keys = ["chrom", "pos", "id", "ref", "alt", "target", "ref_pred", "alt_pred", "sad", "log_odds_diff"];
  const columns = keys.filter((k) => vv.rows.length && k in vv.rows[0]).map((k) => ({ key: k, label: k, num: ["pos", "ref_pred", "alt_pred", "sad", "log_odds_diff"].includes(k) }));
  const tbl = sortableTable(columns, vv.rows, { id: "variants-table", onRowClick: (r) => showVariant(r), onDraw: (n) => (shown.textContent = `${n} rows`) });
  sec.append(el("div", { class: "scroll" }, tbl.table), detail);
  search.addEventListener("input", () => {
    const q = search.value.trim().toLowerCase();
    tbl.update(vv.rows.filter((r) => !q || [r.id, `${r.chrom}:${r.pos}`, r.target].some((v) => v && String(v).toLowerCase().includes(q))));
  });

  async function showVariant(r) {
    detail.replaceChildren(el("h2", { text: `ISM around ${r.id && r.id !== "." ? r.id : `${r.chrom}:${r.pos}`} (${r.ref}>${r.alt}) for ${r.target}` }));
    // motiflens variants --ism names the two sequences "<chrom>:<pos> <ref>><alt> ref|alt"
    const label = `${r.chrom}:${r.pos} ${r.ref}>${r.alt}`;
    const stored = (vv.ism || []).find((name) => name === `${label} alt`);
    const div = el("div", { class: "plot", id: "variant-ism" });
    try {
      if (stored && !REPORT) {
        const ism = await getJSON("variant_ism", { name: stored, target: r.target });
        detail.append(div);
        const xs = ism.positions.map((p) => p + 1);
        plot(div, [{ type: "heatmap", x: xs, y: ["A", "C", "G", "T"], z: ism.delta, colorscale: DIVERGING, zmid: 0, hovertemplate: "%{x} → %{y}: Δ %{z:.3f}<extra></extra>" }], { height: 260, title: { text: `stored ISM: ${stored}` } });
      } else if (model.genome && !REPORT) {
        // 25 bp either side, or less where the model reads fewer bases
        const flank = model.length ? Math.min(25, Math.floor((model.length - 1) / 2)) : 25;
        const res = await postJSON("explain", { region: `${r.chrom}:${Math.max(1, r.pos - flank)}-${r.pos + flank}`, target: r.target });
        const out = explainOutput(detail);
        // the region's window is drawn at genome positions: the variant is at r.pos
        showExplain(out, res, null, [r.pos]);
      } else {
        detail.append(missingBox({ message: "no ISM stored for this variant and no genome to compute it", command: REPORT ? null : `motiflens variants ${state.overview ? state.overview.run_dir : "RUN_DIR"} VCF --genome FASTA --ism   (or: motiflens serve RUN_DIR --genome FASTA)` }, "ISM around the variant"));
      }
    } catch (err) {
      detail.append(errorBox(err));
    }
  }
}

// ------------------------------------------------------------------ tabs

const PANELS = { overview: renderOverview, filters: renderFilters, explorer: renderExplorer, results: renderResults, analyses: renderAnalyses, motifs: renderMotifs, variants: renderVariants };

async function show(tab) {
  if (!(tab in PANELS)) tab = "overview";
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === tab);
  for (const name of Object.keys(PANELS)) document.getElementById(name).hidden = name !== tab;
  if (state.rendered[tab]) return;
  state.rendered[tab] = true;
  const sec = document.getElementById(tab);
  try {
    await PANELS[tab](sec);
  } catch (err) {
    sec.replaceChildren(errorBox(err));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const b of document.querySelectorAll("#tabs button")) {
    b.addEventListener("click", () => {
      history.replaceState(null, "", `#${b.dataset.tab}`);
      show(b.dataset.tab);
    });
  }
  if (REPORT) document.getElementById("footer").textContent = `motiflens report · ${REPORT.created || ""}`;
  const first = location.hash.slice(1) || "overview";
  if (first !== "overview") {
    // the run name in the header comes with the overview
    getJSON("overview").then((ov) => (document.getElementById("run-name").textContent = ov.run_dir)).catch(() => {});
  }
  show(first).then(() => {
    // The first view is in the DOM (its plots wait for Plotly): usable. Plotly runs once
    // that view is on screen (after the next frame), not before.
    document.body.dataset.ready = "1";
    requestAnimationFrame(() => setTimeout(loadPlotly, 0));
  });
});
