/* tracker-report metric charts: one Vega-Lite spec per chart kind (made by Altair at build time),
   data zipped in from inline JSON blocks, one run legend for every chart of a page.
   Loaded after app.js (window.TrackerPage). Everything works from file://. */
(function () {
  "use strict";

  var page = window.TrackerPage;
  var readJson = page.readJson, readHash = page.readHash, writeHash = page.writeHash;

  // Every chart of the site is drawn through embed(): one place for the Vega options and the
  // site's chart theme.
  function embed(el, spec, options) {
    var opts = { actions: false, renderer: "svg" };
    Object.keys(options || {}).forEach(function (k) { opts[k] = options[k]; });
    return vegaEmbed(el, spec, opts);
  }

  var X_FIELDS = {
    step: { field: "step", type: "quantitative", title: "step" },
    time: { field: "time", type: "temporal", title: "wall time" },
    relative: { field: "relative", type: "quantitative", title: "relative time (s)" }
  };

  // A column is base64 of little-endian float64 values (see reporter/site/charts.py).
  function decode(text) {
    var bin = atob(text), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Float64Array(bytes.buffer);
  }

  function finite(v) { return isFinite(v) ? v : null; }

  // smooth: exponential moving average weight in [0, 1) (0 = raw values), as TensorBoard's
  function rowsOf(data, smooth) {
    var rows = [];
    data.series.forEach(function (s) {
      var step = decode(s.step), value = decode(s.value), time = decode(s.time);
      var start = s.start != null ? s.start : (time.length ? time[0] : 0);
      var last = null;
      for (var i = 0; i < step.length; i++) {
        var v = finite(value[i]), shown = v;
        if (smooth > 0 && v !== null) {
          last = last === null ? v : last * smooth + (1 - smooth) * v;
          shown = last;
        }
        rows.push({ run: s.run, run_id: s.run_id, step: step[i], value: shown, raw: v,
                    time: time[i], relative: (time[i] - start) / 1000 });
      }
    });
    return rows;
  }

  // Mean and min-max band per group of runs, for each x value (runs grouped by a param/tag).
  function bandRows(rows, groupOf, xField) {
    var cells = {};
    rows.forEach(function (r) {
      if (r.value === null) return;
      var g = groupOf(r.run_id);
      var id = g + "\u0000" + r[xField];
      var c = cells[id] || (cells[id] = { group: g, x: r[xField], sum: 0, n: 0, lo: r.value,
                                          hi: r.value });
      c.sum += r.value; c.n += 1;
      if (r.value < c.lo) c.lo = r.value;
      if (r.value > c.hi) c.hi = r.value;
    });
    return Object.keys(cells).map(function (k) {
      var c = cells[k];
      return { group: c.group, x: c.x, mean: c.sum / c.n, lo: c.lo, hi: c.hi, runs: c.n };
    });
  }

  function drawChart(figure, baseSpec, options) {
    var opts = typeof options === "string" ? { x: options } : (options || {});
    var xName = opts.x || "step";
    if (opts.groupOf && opts.bandSpec) return drawBand(figure, opts);
    var dataEl = figure.querySelector("script.chart-data");
    var view = figure.querySelector(".chart-view");
    var data = dataEl && readJson(dataEl);
    if (!data || !view || typeof vegaEmbed !== "function") return;
    var spec = JSON.parse(JSON.stringify(baseSpec));
    var x = X_FIELDS[xName] || X_FIELDS.step;
    spec.encoding.x = { field: x.field, type: x.type, title: x.title };
    spec.encoding.y.title = data.key;
    spec.description = "Chart of " + data.key;  // vega uses it as the chart's accessible name
    spec.encoding.x.axis = { format: x.type === "temporal" ? undefined : "~g" };
    spec.encoding.y.axis = { format: "~g" };
    var rows = rowsOf(data, opts.smooth || 0);
    if (opts.colors) {
      // the page's own legend names the runs and hides them; colours stay put when runs hide
      var hidden = opts.hidden || {};
      rows = rows.filter(function (r) { return !hidden[r.run_id]; });
      delete spec.params;
      delete spec.encoding.opacity;
      spec.encoding.color = { field: "run_id", type: "nominal", legend: null,
                              scale: { domain: opts.colors.domain, range: opts.colors.range } };
    }
    spec.data = { values: rows };
    if (opts.log) spec.encoding.y.scale = { type: "log" };  // values <= 0 are not drawn
    if (opts.smooth > 0) {
      spec.encoding.tooltip.push({ field: "raw", type: "quantitative", title: "raw value",
                                   format: ".6~g" });
    }
    var longest = Math.max.apply(null, data.series.map(function (s) { return s.n; }));
    if (longest <= 60 && typeof spec.mark === "object") spec.mark.point = true;  // short series
    if (data.series.length < 2) { spec.encoding.color.legend = null; }
    embed(view, spec)
      .then(function () { figure.setAttribute("data-drawn", "true"); })
      .catch(function (err) { view.textContent = "Chart failed: " + err; });
  }

  function drawBand(figure, opts) {
    var data = readJson(figure.querySelector("script.chart-data"));
    var view = figure.querySelector(".chart-view");
    if (!data || !view) return;
    // runs' wall times never line up: groups are drawn against relative time instead
    var x = opts.x === "time" ? X_FIELDS.relative : (X_FIELDS[opts.x] || X_FIELDS.step);
    var spec = JSON.parse(JSON.stringify(opts.bandSpec));
    var hidden = opts.hidden || {};
    var rows = bandRows(rowsOf(data, opts.smooth || 0).filter(function (r) {
      return !hidden[r.run_id];
    }), opts.groupOf, x.field);
    spec.data = { values: rows };
    spec.description = "Chart of " + data.key + " by group";
    spec.layer.forEach(function (layer) {
      layer.encoding.x = { field: "x", type: x.type, title: x.title };
    });
    spec.layer[1].encoding.y.title = data.key;
    if (opts.log) spec.layer.forEach(function (l) { l.encoding.y.scale = { type: "log" }; });
    embed(view, spec)
      .then(function () { figure.setAttribute("data-drawn", "true"); })
      .catch(function (err) { view.textContent = "Chart failed: " + err; });
  }

  window.TrackerCharts = { draw: drawChart, read: readJson, embed: embed,
                           legend: function (f, c, h) { return runLegend(f, c, h); } };

  // Vega's default category colours (tableau10), cycled.
  var PALETTE = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2",
                 "#ff9da6", "#9d755d", "#bab0ac"];

  // One legend for every chart of the page: a button per run that hides or shows it in all of
  // them. Hidden runs are kept in the URL hash (#hidden=<id>,<id>).
  function runLegend(figures, changed, holder) {
    var box = holder || document.querySelector(".run-legend");
    if (!box) return null;
    box.textContent = "";
    box.hidden = true;
    var names = {}, ids = [];
    figures.forEach(function (f) {
      var data = readJson(f.querySelector("script.chart-data") || document.createElement("i"));
      ((data && data.series) || []).forEach(function (s) {
        if (!Object.prototype.hasOwnProperty.call(names, s.run_id)) {
          names[s.run_id] = s.run;
          ids.push(s.run_id);
        }
      });
    });
    if (ids.length < 2) return null;
    var state = { hidden: {}, colors: { domain: ids, range: ids.map(function (_, i) {
      return PALETTE[i % PALETTE.length]; }) } };
    (readHash().hidden || "").split(",").forEach(function (id) {
      if (Object.prototype.hasOwnProperty.call(names, id)) state.hidden[id] = true;
    });
    ids.forEach(function (id, i) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "run-toggle";
      button.setAttribute("data-run", id);
      button.setAttribute("aria-pressed", state.hidden[id] ? "false" : "true");
      button.title = "Show or hide this run in every chart";
      var swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.backgroundColor = state.colors.range[i];
      button.appendChild(swatch);
      button.appendChild(document.createTextNode(names[id]));
      button.addEventListener("click", function () {
        if (state.hidden[id]) delete state.hidden[id]; else state.hidden[id] = true;
        button.setAttribute("aria-pressed", state.hidden[id] ? "false" : "true");
        writeHash({ hidden: Object.keys(state.hidden).join(",") });
        changed();
      });
      box.appendChild(button);
    });
    box.hidden = false;
    return state;
  }

  function setupCharts() {
    var specEl = document.getElementById("spec-metric");
    if (!specEl) return;
    var baseSpec = readJson(specEl);
    var figures = Array.prototype.slice.call(document.querySelectorAll("figure.chart"));
    var select = document.querySelector("select.x-axis");
    var smooth = document.querySelector("input.smoothing");
    var smoothOut = document.querySelector("output.smoothing-value");
    var log = document.querySelector("input.log-scale");
    var group = document.querySelector("select.group-by");
    var bandSpec = readJson(document.getElementById("spec-band") || document.createElement("i"));
    function groupOf() {
      var choice = group && group.value;
      var exp = window.TRACKER_EXPERIMENT;
      if (!choice || !exp) return null;
      var kind = choice.split(":")[0], key = choice.slice(kind.length + 1);
      var byId = {};
      exp.runs.forEach(function (r) { byId[r.id] = r; });
      return function (runId) {
        var value = ((byId[runId] || {})[kind] || {})[key];
        return value == null ? "(none)" : String(value);
      };
    }
    var legend = runLegend(figures, function () { drawAll(); });
    function drawAll() {
      var opts = { x: select ? select.value : "step",
                   smooth: smooth ? parseFloat(smooth.value) || 0 : 0,
                   log: !!(log && log.checked), groupOf: groupOf(), bandSpec: bandSpec,
                   colors: legend && legend.colors, hidden: legend ? legend.hidden : {} };
      if (smoothOut) smoothOut.textContent = opts.smooth.toFixed(2);
      var note = document.querySelector(".group-note");
      if (note) {
        note.hidden = !opts.groupOf;
        note.textContent = opts.groupOf ? "Each group's mean and min-max band over the runs in " +
          "these charts (" + (legend ? legend.colors.domain.length : 1) + " runs)" +
          (opts.x === "time" ? "; wall time is shown as time since each run's start." : ".") : "";
      }
      figures.forEach(function (f) { drawChart(f, baseSpec, opts); });
    }
    [select, smooth, log, group].forEach(function (c) {
      if (c) c.addEventListener("change", drawAll);
    });
    drawAll();
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!document.getElementById("compare")) setupCharts();
  });
})();
