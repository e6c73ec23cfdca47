/* wxapush dashboard charts: stacked bars and a line, drawn as SVG with DOM calls only.
 *
 * Hand-written instead of a vendored library: the dashboard needs two small charts, and ~120
 * lines the project owns keep the layer small, need no CDN and no license file, and never build
 * markup from strings (every label is set with textContent), which keeps the page safe under a
 * strict Content-Security-Policy. Colours come from style.css classes (st-<status>).
 */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var W = 560, H = 240, PAD = { l: 40, r: 10, t: 12, b: 34 };

  function el(name, attrs, text) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function frame(container, label) {
    while (container.firstChild) container.removeChild(container.firstChild);
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": label });
    container.appendChild(svg);
    return svg;
  }

  /* the smallest "round" maximum >= v whose quarters are whole numbers (4 grid steps) */
  function niceMax(v) {
    if (v <= 4) return 4;
    if (v <= 8) return 8;
    if (v <= 12) return 12;
    var p = Math.pow(10, Math.floor(Math.log10(v)) - 1);
    var steps = [12, 16, 20, 24, 32, 40, 60, 80, 100];
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= v) return steps[i] * p;
    return 120 * p;
  }

  function axes(svg, max, format) {
    var innerH = H - PAD.t - PAD.b;
    for (var i = 0; i <= 4; i++) {
      var y = PAD.t + innerH - (innerH * i) / 4;
      svg.appendChild(el("line", { x1: PAD.l, x2: W - PAD.r, y1: y, y2: y, "class": "axis" }));
      svg.appendChild(el("text", { x: PAD.l - 4, y: y + 4, "text-anchor": "end" },
        format((max * i) / 4)));
    }
  }

  function xLabels(svg, labels, slot) {
    var every = Math.max(1, Math.ceil(labels.length / 10));
    labels.forEach(function (label, i) {
      if (i % every) return;
      svg.appendChild(el("text", {
        x: PAD.l + slot * (i + 0.5), y: H - PAD.b + 16, "text-anchor": "middle"
      }, label.slice(5)));
    });
  }

  /* data: {labels: [..], keys: [..], series: [{key: count}] per label} */
  function stackedBars(container, data) {
    var svg = frame(container, "messages per day, stacked by status");
    var totals = data.series.map(function (s) {
      return data.keys.reduce(function (a, k) { return a + (s[k] || 0); }, 0);
    });
    var max = niceMax(Math.max.apply(null, [0].concat(totals)));
    axes(svg, max, function (v) { return String(Math.round(v)); });
    var innerW = W - PAD.l - PAD.r, innerH = H - PAD.t - PAD.b;
    var slot = innerW / Math.max(1, data.labels.length);
    var bw = Math.max(2, slot * 0.7);
    data.series.forEach(function (counts, i) {
      var g = el("g", { "class": "day", "data-day": data.labels[i], "data-total": totals[i] });
      g.appendChild(el("title", {}, data.labels[i] + ": " + totals[i]));
      var y = PAD.t + innerH;
      data.keys.forEach(function (k) {
        var n = counts[k] || 0;
        if (!n) return;
        var h = (innerH * n) / max;
        y -= h;
        var rect = el("rect", {
          x: PAD.l + slot * i + (slot - bw) / 2, y: y, width: bw, height: h,
          "class": "st-" + k, "data-series": k, "data-count": n
        });
        rect.appendChild(el("title", {}, data.labels[i] + " · " + k + ": " + n));
        g.appendChild(rect);
      });
      svg.appendChild(g);
    });
    xLabels(svg, data.labels, slot);
    return svg;
  }

  /* data: {labels: [..], values: [number or null]} — values in 0..1 */
  function rateLine(container, data) {
    var svg = frame(container, "delivery rate per day");
    axes(svg, 1, function (v) { return Math.round(v * 100) + "%"; });
    var innerW = W - PAD.l - PAD.r, innerH = H - PAD.t - PAD.b;
    var slot = innerW / Math.max(1, data.labels.length);
    var points = [];
    data.values.forEach(function (v, i) {
      if (v === null || v === undefined) return;
      var x = PAD.l + slot * (i + 0.5), y = PAD.t + innerH - innerH * v;
      points.push(x + "," + y);
      var dot = el("circle", { cx: x, cy: y, r: 3, "class": "rate-dot", "data-day": data.labels[i] });
      dot.appendChild(el("title", {}, data.labels[i] + ": " + (v * 100).toFixed(1) + "%"));
      svg.appendChild(dot);
    });
    if (points.length > 1) {
      svg.insertBefore(el("polyline", { points: points.join(" "), "class": "rate-line" }),
        svg.firstChild.nextSibling);
    }
    xLabels(svg, data.labels, slot);
    return svg;
  }

  window.WxCharts = { stackedBars: stackedBars, rateLine: rateLine };
})();
