/* tracker-report compare page: runs chosen in the URL hash (#runs=a,b,...), side by side.
   Data comes from runs.js and each run's series.js, loaded with <script src> (works from
   file://, where fetch() is blocked). The first run is the baseline. */
(function () {
  "use strict";
  var root = document.getElementById("compare");
  var data = window.TRACKER_EXPERIMENT;
  if (!root || !data) return;
  var siteRoot = root.getAttribute("data-root");
  var numbers = window.TrackerNumbers;  // numbers.js: one number of decimals per row, deltas
  var byId = {};
  data.runs.forEach(function (r) { byId[r.id] = r; });

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text != null) node.textContent = String(text);
    return node;
  }

  function chosenIds() {
    var match = /(?:^|[#&])runs=([^&]*)/.exec(window.location.hash);
    var fixed = root.getAttribute("data-runs");
    if (!match) return fixed ? fixed.split(",") : [];
    var text = match[1];
    try { text = decodeURIComponent(text); } catch (e) { /* a mangled link: use it as it is */ }
    return text.split(",").filter(function (s) { return s; });
  }

  function showError(text) {
    var p = root.querySelector(".compare-error");
    p.textContent = text;
    p.hidden = !text;
  }

  function keysOf(runs, field) {
    var keys = {};
    runs.forEach(function (r) { Object.keys(r[field]).forEach(function (k) { keys[k] = true; }); });
    return Object.keys(keys).sort();
  }

  function headerRow(table, runs, first) {
    var tr = el("tr");
    tr.appendChild(el("th", { scope: "col" }, first));
    runs.forEach(function (r, i) {
      var th = el("th", { scope: "col" });
      var a = el("a", { href: siteRoot + "/runs/" + r.id + "/index.html" }, r.name);
      th.appendChild(a);
      if (i === 0) th.appendChild(el("small", {}, " (baseline)"));
      tr.appendChild(th);
    });
    var thead = el("thead");
    thead.appendChild(tr);
    table.appendChild(thead);
  }

  // a table with no rows says so in one row
  function noneRow(tbody, runs) {
    if (tbody.childNodes.length) return;
    var none = el("tr");
    none.appendChild(el("td", { colspan: String(runs.length + 1) }, "None."));
    tbody.appendChild(none);
  }

  function isNumber(v) {
    return v != null && v !== "" && isFinite(Number(v));
  }

  // Params and tags as logged; a row of numbers (alpha: 0.0001, 0.01) with one number of
  // decimals, the fewest that show each exactly (0.0001, 0.0100), right-aligned, the logged
  // text in the cell's title.
  function valueTable(table, runs, field) {
    table.textContent = "";
    headerRow(table, runs, "Name");
    var tbody = el("tbody");
    keysOf(runs, field).forEach(function (key) {
      var values = runs.map(function (r) { return r[field][key]; });
      var differs = values.some(function (v) { return v !== values[0]; });
      var present = values.filter(function (v) { return v != null; });
      var numeric = field === "params" && present.every(isNumber);
      var decimals = numeric ? numbers.exactDecimals(present) : 0;
      var tr = el("tr", { "data-key": key });
      if (differs) tr.className = "diff";
      tr.appendChild(el("td", {}, key));
      values.forEach(function (v) {
        if (v == null) { tr.appendChild(el("td", numeric ? { class: "num" } : {}, "–")); return; }
        if (!numeric) { tr.appendChild(el("td", String(v).length > 60 ? { class: "long" } : {}, v)); return; }
        tr.appendChild(el("td", { class: "num", title: String(v) }, numbers.fixed(v, decimals)));
      });
      tbody.appendChild(tr);
    });
    noneRow(tbody, runs);
    table.appendChild(tbody);
  }

  // A row per metric: the runs' values with one number of decimals (they share a scale),
  // and under each value but the baseline's its difference to the baseline (3 significant
  // digits, and in percent), coloured by the metric's direction.
  function metricTable(table, runs) {
    table.textContent = "";
    headerRow(table, runs, "Metric");
    var tbody = el("tbody");
    keysOf(runs, "metrics").forEach(function (key) {
      var lower = !!data.lower_is_better[key];
      var base = runs[0].metrics[key];
      var values = runs.map(function (r) { return r.metrics[key]; });
      var decimals = numbers.columnDecimals(values.filter(function (v) { return typeof v === "number"; }));
      var tr = el("tr", { "data-key": key });
      tr.appendChild(el("td", {}, key + (lower ? " ↓" : " ↑")));
      values.forEach(function (v, i) {
        var td = el("td", { class: "num" });
        td.appendChild(el("span", { class: "value" }, v == null ? "–" : numbers.fixed(v, decimals)));
        if (i > 0 && typeof v === "number" && typeof base === "number") {
          var delta = v - base;
          var pct = base !== 0 ? (delta / Math.abs(base)) * 100 : null;
          var text = numbers.delta(delta) + (pct === null || delta === 0 ? "" : " (" + numbers.delta(pct) + "%)");
          var span = el("span", { class: "delta" }, text);
          if (delta !== 0) span.className += (delta < 0) === lower ? " better" : " worse";
          td.appendChild(span);
        }
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
    noneRow(tbody, runs);
    table.appendChild(tbody);
  }

  function images(holder, runs) {
    holder.textContent = "";
    keysOf(runs, "images").forEach(function (path) {
      var block = el("div", { class: "image-row" });
      block.appendChild(el("h3", {}, path));
      var row = el("div", { class: "row" });
      runs.forEach(function (r) {
        var fig = el("figure");
        if (r.images[path]) {
          fig.appendChild(el("img", { src: siteRoot + "/" + r.images[path], alt: r.name + ": " + path,
                                      loading: "lazy" }));
        } else {
          fig.appendChild(el("p", { class: "note" }, "–"));
        }
        fig.appendChild(el("figcaption", {}, r.name));
        row.appendChild(fig);
      });
      block.appendChild(row);
      holder.appendChild(block);
    });
    if (!holder.childNodes.length) holder.appendChild(el("p", {}, "None."));
  }

  function fmtSize(bytes) {
    var units = ["B", "KB", "MB", "GB"], value = bytes, i = 0;
    while (value >= 1024 && i < units.length - 1) { value /= 1024; i += 1; }
    return (i ? value.toFixed(1) : String(value)) + " " + units[i];
  }

  // Artifacts side by side (from each run's series.js): a row per path, a link per run that
  // has it; a row is marked when a run lacks the file or the sizes differ.
  function artifacts(table, runs) {
    table.textContent = "";
    headerRow(table, runs, "Path");
    var lists = window.TRACKER_ARTIFACTS || {}, byRun = {}, paths = {};
    runs.forEach(function (r) {
      var files = byRun[r.id] = {};
      (lists[r.id] || []).forEach(function (f) { files[f[0]] = f; paths[f[0]] = true; });
    });
    var tbody = el("tbody");
    Object.keys(paths).sort().forEach(function (path) {
      var cells = runs.map(function (r) { return byRun[r.id][path] || null; });
      var differs = cells.some(function (f) { return !f || f[1] !== cells[0][1]; }) || !cells[0];
      var tr = el("tr", { "data-key": path });
      if (differs) tr.className = "diff";
      tr.appendChild(el("td", {}, path));
      cells.forEach(function (f) {
        var td = el("td", { class: "num" });
        if (!f) td.textContent = "–";
        else if (f[2]) {
          var href = f[2].indexOf("://") >= 0 ? f[2] : siteRoot + "/" + f[2];
          td.appendChild(el("a", { href: href }, fmtSize(f[1])));
        } else td.textContent = fmtSize(f[1]) + " (not copied)";
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
    noneRow(tbody, runs);
    table.appendChild(tbody);
  }

  function loadSeries(ids, done) {
    var series = window.TRACKER_SERIES = window.TRACKER_SERIES || {};
    var left = ids.filter(function (id) { return !series[id]; });
    if (!left.length) { done(); return; }
    var pending = left.length;
    left.forEach(function (id) {
      var script = el("script", { src: siteRoot + "/runs/" + id + "/series.js" });
      script.onload = script.onerror = function () { pending -= 1; if (!pending) done(); };
      document.body.appendChild(script);
    });
  }

  function drawCharts(runs) {
    var holder = root.querySelector(".cmp-charts-list");
    holder.textContent = "";
    var spec = window.TrackerCharts.read(document.getElementById("spec-metric"));
    var select = root.querySelector("select.x-axis");
    var metricKeys = keysOf(runs.map(function (r) {
      return { s: (window.TRACKER_SERIES || {})[r.id] || {} };
    }), "s");
    var figures = metricKeys.map(function (key) {
      var chart = { key: key, shown: 0, total: 0, series: [] };
      runs.forEach(function (r) {
        var s = (window.TRACKER_SERIES[r.id] || {})[key];
        if (s) { chart.series.push(s); chart.shown += s.n; chart.total += s.total || s.n; }
      });
      var fig = el("figure", { class: "chart" });
      var caption = el("figcaption", {}, key);
      if (chart.shown < chart.total) {
        caption.appendChild(document.createTextNode(" "));
        caption.appendChild(el("span", { class: "note" }, chart.shown.toLocaleString("en-US") +
          " of " + chart.total.toLocaleString("en-US") + " points"));
      }
      fig.appendChild(caption);
      fig.appendChild(el("div", { class: "chart-view", role: "img", "aria-label": "Chart of " + key }));
      var block = el("script", { type: "application/json", class: "chart-data" });
      block.textContent = JSON.stringify(chart);
      fig.appendChild(block);
      holder.appendChild(fig);
      return fig;
    });
    var archived = runs.filter(function (r) { return r.archived; });
    var old = holder.parentNode.querySelector(".archived-note");
    if (old) old.parentNode.removeChild(old);
    if (archived.length) {  // their series.js hold no series: one point is no history
      holder.parentNode.insertBefore(el("p", { class: "note archived-note" }, archived.map(
        function (r) { return r.name; }).join(", ") + (archived.length === 1 ? " is" : " are") +
        " archived: the metric histories are in the archive, so the charts leave " +
        (archived.length === 1 ? "it" : "them") + " out (the metrics table has the latest " +
        "values)."), holder);
    }
    // one legend for every chart, coloured by run id (two runs may share a name)
    var legend = window.TrackerCharts.legend(figures, drawAll, root.querySelector(".run-legend"));
    function drawAll() {
      var opts = { x: select.value, colors: legend && legend.colors,
                   hidden: legend ? legend.hidden : {} };
      figures.forEach(function (f) { window.TrackerCharts.draw(f, spec, opts); });
    }
    select.onchange = drawAll;
    drawAll();
  }

  function render() {
    var ids = chosenIds();
    var unknown = ids.filter(function (id) { return !byId[id]; });
    var runs = ids.filter(function (id) { return byId[id]; }).map(function (id) { return byId[id]; });
    showError(unknown.length ? "Unknown run ids (not in this experiment's report): " + unknown.join(", ") : "");
    root.querySelector(".compare-empty").hidden = runs.length > 0;
    root.querySelector(".compare-body").hidden = runs.length === 0;
    if (!runs.length) return;
    var info = root.querySelector(".cmp-runs");
    info.textContent = "";
    headerRow(info, runs, "");
    var tbody = el("tbody");
    [["Status", "status"], ["Start (UTC)", "start"]].forEach(function (pair) {
      var tr = el("tr");
      tr.appendChild(el("td", {}, pair[0]));
      runs.forEach(function (r) {
        var archived = pair[1] === "status" && r.archived;
        tr.appendChild(el("td", {}, r[pair[1]] + (archived ? " (archived)" : "")));
      });
      tbody.appendChild(tr);
    });
    info.appendChild(tbody);
    valueTable(root.querySelector(".cmp-params"), runs, "params");
    metricTable(root.querySelector(".cmp-metrics"), runs);
    valueTable(root.querySelector(".cmp-tags"), runs, "tags");
    images(root.querySelector(".cmp-images"), runs);
    applyOnlyDiff();
    loadSeries(ids, function () {
      artifacts(root.querySelector(".cmp-artifacts"), runs);
      drawCharts(runs);
    });
  }

  function applyOnlyDiff() {
    var only = root.querySelector(".only-diff").checked;
    Array.prototype.forEach.call(root.querySelectorAll(".cmp-params tbody tr"), function (tr) {
      tr.hidden = only && !tr.classList.contains("diff");
    });
  }

  root.querySelector(".only-diff").addEventListener("change", applyOnlyDiff);
  window.addEventListener("hashchange", render);
  document.addEventListener("DOMContentLoaded", render);
})();
