// Sequence logos drawn in the browser: letter glyphs as SVG paths, usable both as
// standalone SVG (filter and motif logos) and as Plotly shapes in data coordinates
// (attribution logos on the explorer's shared x axis). No dependency; used by the
// dashboard and by the static report.
"use strict";

const Logo = (() => {
  const BASES = ["A", "C", "G", "T"];
  const COLORS = { A: "#109648", C: "#255C99", G: "#F7B32B", T: "#D62839" };

  // Glyphs as polygons in a unit box (x right, y up); the A's hole winds the other way.
  function arc(cx, cy, r, from, to, steps) {
    const pts = [];
    for (let i = 0; i <= steps; i++) {
      const a = ((from + ((to - from) * i) / steps) * Math.PI) / 180;
      pts.push([cx + r * Math.cos(a), cy + r * Math.sin(a)]);
    }
    return pts;
  }
  const GLYPHS = {
    A: [
      [[0, 0], [0.4, 1], [0.6, 1], [1, 0], [0.79, 0], [0.69, 0.28], [0.31, 0.28], [0.21, 0]],
      [[0.37, 0.43], [0.5, 0.8], [0.63, 0.43]],
    ],
    C: [arc(0.5, 0.5, 0.5, 45, 315, 24).concat(arc(0.5, 0.5, 0.32, 315, 45, 24))],
    G: [
      arc(0.5, 0.5, 0.5, 45, 360, 26)
        .concat([[0.55, 0.5], [0.55, 0.36], [0.82, 0.36]])
        .concat(arc(0.5, 0.5, 0.32, 350, 45, 24)),
    ],
    T: [[[0, 1], [1, 1], [1, 0.83], [0.59, 0.83], [0.59, 0], [0.41, 0], [0.41, 0.83], [0, 0.83]]],
  };

  // SVG path of a base's glyph stretched over [x0, x1] x [y0, y1]; with flip the y axis
  // points down (pixel coordinates), else up (data coordinates).
  function glyphPath(base, x0, x1, y0, y1, flip) {
    const parts = [];
    for (const poly of GLYPHS[base]) {
      const pts = poly.map(([u, v]) => {
        const y = flip ? y1 - v * (y1 - y0) : y0 + v * (y1 - y0);
        return `${(x0 + u * (x1 - x0)).toFixed(3)},${y.toFixed(3)}`;
      });
      parts.push(`M${pts.join("L")}Z`);
    }
    return parts.join(" ");
  }

  // Information content of each column of a (4, w) probability matrix, in bits.
  function columnIC(probs) {
    const w = probs[0].length;
    const ic = [];
    for (let j = 0; j < w; j++) {
      let h = 0;
      for (let b = 0; b < 4; b++) {
        const p = probs[b][j];
        if (p > 0) h -= p * Math.log2(p);
      }
      ic.push(Math.max(0, 2 - h));
    }
    return ic;
  }

  function reverseComplement(probs) {
    return [3, 2, 1, 0].map((b) => probs[b].slice().reverse());
  }

  // Letter stacks for one column: [{base, y0, y1}], smallest first from the baseline;
  // negative heights stack downwards.
  function stack(heights) {
    const out = [];
    const pos = [];
    const neg = [];
    heights.forEach((h, b) => (h >= 0 ? pos : neg).push([h, b]));
    pos.sort((a, b) => a[0] - b[0]);
    neg.sort((a, b) => b[0] - a[0]);
    let y = 0;
    for (const [h, b] of pos) {
      if (h > 0) out.push({ base: BASES[b], y0: y, y1: y + h });
      y += h;
    }
    y = 0;
    for (const [h, b] of neg) {
      if (h < 0) out.push({ base: BASES[b], y0: y + h, y1: y });
      y += h;
    }
    return out;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";

  function svgElement(tag, attrs) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    return el;
  }

  // Information-content logo rows: [{probs, offset}] drawn one above the other, column j
  // of a row at x = offset + j (to show a filter aligned with its database match).
  function pwmSVG(rows, opts) {
    const o = Object.assign({ col: 11, height: 34, gap: 4, titles: [] }, opts || {});
    const lo = Math.min(...rows.map((r) => r.offset || 0));
    const hi = Math.max(...rows.map((r) => (r.offset || 0) + r.probs[0].length));
    const width = (hi - lo) * o.col;
    const total = rows.length * o.height + (rows.length - 1) * o.gap;
    const svg = svgElement("svg", {
      width: width,
      height: total,
      viewBox: `0 0 ${width} ${total}`,
      class: "logo",
      role: "img",
    });
    rows.forEach((row, r) => {
      const top = r * (o.height + o.gap);
      const ic = columnIC(row.probs);
      svg.appendChild(
        svgElement("line", {
          x1: ((row.offset || 0) - lo) * o.col,
          x2: ((row.offset || 0) - lo + row.probs[0].length) * o.col,
          y1: top + o.height - 0.5,
          y2: top + o.height - 0.5,
          stroke: "#bbb",
          "stroke-width": 1,
        }),
      );
      for (let j = 0; j < row.probs[0].length; j++) {
        const heights = [0, 1, 2, 3].map((b) => row.probs[b][j] * ic[j]);
        const x0 = ((row.offset || 0) - lo + j) * o.col;
        for (const s of stack(heights)) {
          const scale = o.height / 2; // 2 bits fill the row
          const path = glyphPath(
            s.base,
            x0 + 0.5,
            x0 + o.col - 0.5,
            top + o.height - s.y1 * scale,
            top + o.height - s.y0 * scale,
            true,
          );
          svg.appendChild(svgElement("path", { d: path, fill: COLORS[s.base] }));
        }
      }
      if (o.titles[r]) {
        const t = svgElement("title", {});
        t.textContent = o.titles[r];
        svg.appendChild(t);
      }
    });
    return svg;
  }

  // Plotly shapes of a logo of signed heights (4, n) at x = x0 + j (centred on it), on
  // the given axes: the attribution logo of the explorer.
  function plotlyShapes(heights, x0, xref, yref) {
    const shapes = [];
    const n = heights[0].length;
    for (let j = 0; j < n; j++) {
      const col = [0, 1, 2, 3].map((b) => heights[b][j]);
      for (const s of stack(col)) {
        if (Math.abs(s.y1 - s.y0) < 1e-9) continue;
        shapes.push({
          type: "path",
          path: glyphPath(s.base, x0 + j - 0.45, x0 + j + 0.45, s.y0, s.y1, false),
          fillcolor: COLORS[s.base],
          line: { width: 0 },
          xref: xref,
          yref: yref,
          layer: "above",
        });
      }
    }
    return shapes;
  }

  return { BASES, COLORS, glyphPath, columnIC, reverseComplement, stack, pwmSVG, plotlyShapes };
})();

if (typeof window !== "undefined") window.Logo = Logo;
