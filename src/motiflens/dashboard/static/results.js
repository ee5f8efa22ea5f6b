// motiflens dashboard: the stored-results panel (any analysis' per-sequence arrays,
// drawn by their axes). Loaded before app.js, whose helpers (el, plot, getJSON, REPORT,
// DIVERGING, ...) it calls when the panel opens.
"use strict";

// One stored sequence and target of one result file: from the API, or from the report's
// precomputed data (the first sequences of each file).
async function getResult(id, index, target) {
  if (REPORT) {
    const views = (REPORT.result_data || {})[id] || {};
    const view = (views[String(index)] || {})[target || ""];
    if (!view) throw new Error("not included in this report (use `motiflens serve`)");
    return view;
  }
  const params = { sequence: String(index) };
  if (target) params.target = target;
  return getJSON(`results/${id.split("/").map(encodeURIComponent).join("/")}`, params);
}

// x values (1-based positions) of an array's position axis: the stored window's positions
// when the file has them for this length, else 1..n.
function positionsOf(res, n) {
  if (res.positions && res.positions.length === n) return res.positions.map((p) => p + 1);
  return Array.from({ length: n }, (_, i) => i + 1);
}

// The stored base at each drawn position ("" when the sequence is not stored).
function basesAt(res, xs) {
  return xs.map((x) => (res.bases ? res.bases[x - 1] || "" : ""));
}

function drawBasePosition(div, res, name, values) {
  const n = values[0].length;
  const xs = positionsOf(res, n);
  const bases = basesAt(res, xs);
  const layout = { height: 260, title: { text: `${name}: ${res.sequence}, ${res.target || ""}`, font: { size: 13 } }, xaxis: { title: { text: "position" } } };
  // Hypothetical contributions cover every base, so they draw as a heat map; the
  // projection on the sequence ("attributions", listed first) draws as bars.
  if (res.kind === "attribution" && name !== "hypothetical") {
    // The value of the observed base at each position (all bases summed where the
    // sequence is not stored), coloured by that base: a logo reduced to one bar.
    const y = xs.map((_, j) => {
      const b = "ACGT".indexOf(bases[j]);
      return b >= 0 ? values[b][j] : values.reduce((sum, row) => sum + row[j], 0);
    });
    const colors = bases.map((b) => Logo.COLORS[b] || "#98a2b3");
    return plot(div, [{ type: "bar", x: xs, y, text: bases, customdata: bases, marker: { color: colors }, name, hovertemplate: "%{x} (%{customdata}): %{y:.4g}<extra></extra>" }], Object.assign(layout, { yaxis: { title: { text: name } } }));
  }
  return plot(div, [{ type: "heatmap", x: xs, y: ["A", "C", "G", "T"], z: values, customdata: [bases, bases, bases, bases], colorscale: DIVERGING, zmid: 0, name, hovertemplate: "%{x} (%{customdata}) → %{y}: %{z:.4g}<extra></extra>" }], layout);
}

function drawLines(div, res, arrays, axis) {
  const traces = arrays.map(([name, values]) => {
    const xs = axis === "position" ? positionsOf(res, values.length) : values.map((_, i) => i + 1);
    return { type: "scatter", mode: "lines", x: xs, y: values, name, hovertemplate: `%{x}: %{y:.4g}<extra>${name}</extra>` };
  });
  return plot(div, traces, { height: 280, showlegend: true, xaxis: { title: { text: axis } }, title: { text: `${res.sequence}${res.target ? `, ${res.target}` : ""}`, font: { size: 13 } } });
}

function showResult(out, res) {
  out.replaceChildren();
  const info = el("dl", { id: "result-info" });
  const add = (k, v) => info.append(el("dt", { text: k }), el("dd", { text: v }));
  add("sequence", `${res.sequence} (${res.index + 1} of ${res.n})`);
  if (res.target !== null) add("target", res.target);
  add("kind", res.kind);
  const lines = { position: [], step: [] };
  const plots = [];
  for (const [name, a] of Object.entries(res.arrays)) {
    const key = a.axes.join(",");
    if (a.axes.length === 0) add(name, fmt(a.values, 4));
    else if (key === "base,position") plots.push([name, a.values]);
    else if (key === "position" || key === "step") lines[key].push([name, a.values]);
    else add(name, `axes (${a.axes.join(", ")}): not drawn`);
  }
  if (Object.keys(res.params || {}).length) add("parameters", JSON.stringify(res.params));
  out.append(el("div", { class: "card" }, info));
  for (const [name, values] of plots) {
    const div = el("div", { class: "plot", id: `result-${name}` });
    out.append(div);
    drawBasePosition(div, res, name, values);
  }
  for (const axis of ["position", "step"]) {
    if (!lines[axis].length) continue;
    const div = el("div", { class: "plot", id: `result-${axis}-lines` });
    out.append(div);
    drawLines(div, res, lines[axis], axis);
  }
}

async function renderResults(sec) {
  const listed = await getJSON("results");
  sec.replaceChildren(el("h2", { text: "Stored results per sequence" }));
  if (listed.error) sec.append(el("div", { class: "error", text: listed.error }));
  const results = listed.results || [];
  if (!results.length) {
    const run = state.overview ? state.overview.run_dir : "RUN_DIR";
    sec.append(missingBox({ message: "no stored results in this run", command: REPORT ? null : `motiflens ism ${run}   (or saliency, temporal)` }, "Stored results"));
    return;
  }
  if (REPORT) sec.append(el("p", { class: "note", text: "The report holds the first stored sequences of each file; `motiflens serve` shows them all." }));
  const fileSelect = el("select", { id: "result-file" }, results.map((r, i) => el("option", { value: String(i), text: `${r.analysis}/${r.file} (${r.kind}, ${r.n} sequences)` })));
  const seqSelect = el("select", { id: "result-sequence" });
  const targetSelect = el("select", { id: "result-target" });
  const status = el("p", { class: "note", id: "result-status" });
  const out = el("div", { id: "result-output" });
  sec.append(el("div", { class: "controls" }, el("label", {}, "result ", fileSelect), el("label", {}, "sequence ", seqSelect), el("label", {}, "target ", targetSelect)), status, out);
  let latest = 0; // only the last choice is drawn, whatever order the answers come in
  const draw = async () => {
    const r = results[Number(fileSelect.value)];
    const mine = ++latest;
    status.textContent = "loading…";
    try {
      const res = await getResult(r.id, Number(seqSelect.value), targetSelect.value);
      if (mine !== latest) return;
      status.textContent = r.n > r.names.length ? `${r.names.length} of ${r.n} sequences listed` : "";
      showResult(out, res);
    } catch (err) {
      if (mine !== latest) return;
      status.textContent = "";
      out.replaceChildren(errorBox(err));
    }
  };
  const fill = () => {
    const r = results[Number(fileSelect.value)];
    seqSelect.replaceChildren(...r.names.map((name, i) => el("option", { value: String(i), text: name })));
    targetSelect.replaceChildren(...(r.targets.length ? r.targets : [""]).map((t) => el("option", { value: t, text: t || "(no target axis)" })));
    targetSelect.disabled = !r.targets.length;
    draw();
  };
  fileSelect.addEventListener("change", fill);
  seqSelect.addEventListener("change", draw);
  targetSelect.addEventListener("change", draw);
  fill();
}
