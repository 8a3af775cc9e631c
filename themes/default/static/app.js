/* tracker-report page script: runs table (sort, filter, columns) and metric charts.
   Everything works from file:// — no fetch(), data comes from inline JSON blocks. */
(function () {
  "use strict";

  function readJson(el) {
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }

  // ---- runs table ------------------------------------------------------------------------
  function sortKey(td, numeric) {
    var raw = td ? td.getAttribute("data-sort") : "";
    if (raw === null || raw === "") return null;
    if (numeric) { var n = parseFloat(raw); return isNaN(n) ? null : n; }
    return raw.toLowerCase();
  }

  // The view (sort, filter, hidden columns) lives in the URL hash, so a link restores it:
  // #sort=<column>:<asc|desc>&q=<text>&hide=<column>,<column>
  function readHash() {
    var state = {};
    window.location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var eq = part.indexOf("=");
      if (eq > 0) state[part.slice(0, eq)] = decodeURIComponent(part.slice(eq + 1));
    });
    return state;
  }

  function writeHash(changes) {
    var state = readHash();
    Object.keys(changes).forEach(function (k) {
      if (changes[k] === "" || changes[k] == null) delete state[k]; else state[k] = changes[k];
    });
    var text = Object.keys(state).map(function (k) {
      return k + "=" + encodeURIComponent(state[k]).replace(/%2C/g, ",").replace(/%3A/g, ":");
    }).join("&");
    history.replaceState(null, "", text ? "#" + text : window.location.pathname + window.location.search);
  }

  function setupTable(table) {
    var tbody = table.tBodies[0];
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var section = table.closest("section") || document;
    var filter = section.querySelector(".table-filter");
    var empty = section.querySelector(".empty-note");
    var boxes = Array.prototype.slice.call(section.querySelectorAll(".column-picker input[data-col]"));

    function sortBy(col, dir) {
      var th = headers[col];
      if (!th || !th.querySelector("button")) return;
      headers.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
      th.setAttribute("aria-sort", dir === "desc" ? "descending" : "ascending");
      var numeric = th.classList.contains("num");
      var keyed = Array.prototype.map.call(tbody.rows, function (row) {
        return { row: row, key: sortKey(row.cells[col], numeric) };
      });
      keyed.sort(function (a, b) {
        var x = a.key, y = b.key;
        if (x === null && y === null) return 0;
        if (x === null) return 1;   // missing values last in both directions
        if (y === null) return -1;
        var c = x < y ? -1 : x > y ? 1 : 0;
        return dir === "desc" ? -c : c;
      });
      var frag = document.createDocumentFragment();
      keyed.forEach(function (k) { frag.appendChild(k.row); });
      tbody.appendChild(frag);
    }

    function applyFilter(text) {
      var q = text.trim().toLowerCase();
      var shown = 0;
      Array.prototype.forEach.call(tbody.rows, function (row) {
        var hit = !q || row.textContent.toLowerCase().indexOf(q) !== -1;
        row.hidden = !hit;
        if (hit) shown += 1;
      });
      if (empty) empty.hidden = shown !== 0;
    }

    function setHidden(col, hidden) {
      Array.prototype.forEach.call(table.rows, function (row) {
        if (row.cells[col]) row.cells[col].classList.toggle("hidden-col", hidden);
      });
    }

    function hiddenCols() {
      return boxes.filter(function (b) { return !b.checked; })
        .map(function (b) { return b.getAttribute("data-col"); }).join(",");
    }

    headers.forEach(function (th, col) {
      var button = th.querySelector("button");
      if (!button) return;
      button.addEventListener("click", function () {
        var dir = th.getAttribute("aria-sort") === "ascending" ? "desc" : "asc";
        sortBy(col, dir);
        writeHash({ sort: col + ":" + dir });
      });
    });
    if (filter) {
      filter.addEventListener("input", function () {
        applyFilter(filter.value);
        writeHash({ q: filter.value });
      });
    }
    boxes.forEach(function (box) {
      box.addEventListener("change", function () {
        setHidden(parseInt(box.getAttribute("data-col"), 10), !box.checked);
        writeHash({ hide: hiddenCols() });
      });
    });

    // restore a shared view
    var state = readHash();
    if (state.hide) {
      state.hide.split(",").forEach(function (c) {
        var box = boxes.filter(function (b) { return b.getAttribute("data-col") === c; })[0];
        if (box) { box.checked = false; setHidden(parseInt(c, 10), true); }
      });
    }
    if (state.sort) {
      var parts = state.sort.split(":");
      sortBy(parseInt(parts[0], 10), parts[1] === "desc" ? "desc" : "asc");
    }
    if (state.q && filter) { filter.value = state.q; applyFilter(state.q); }
  }

  // ---- charts ----------------------------------------------------------------------------
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
    spec.data = { values: rowsOf(data, opts.smooth || 0) };
    if (opts.log) spec.encoding.y.scale = { type: "log" };  // values <= 0 are not drawn
    if (opts.smooth > 0) {
      spec.encoding.tooltip.push({ field: "raw", type: "quantitative", title: "raw value",
                                   format: ".6~g" });
    }
    var longest = Math.max.apply(null, data.series.map(function (s) { return s.n; }));
    if (longest <= 60 && typeof spec.mark === "object") spec.mark.point = true;  // short series
    if (data.series.length < 2) { spec.encoding.color.legend = null; }
    vegaEmbed(view, spec, { actions: false, renderer: "svg" })
      .then(function () { figure.setAttribute("data-drawn", "true"); })
      .catch(function (err) { view.textContent = "Chart failed: " + err; });
  }

  function drawBand(figure, opts) {
    var data = readJson(figure.querySelector("script.chart-data"));
    var view = figure.querySelector(".chart-view");
    if (!data || !view) return;
    var x = X_FIELDS[opts.x] || X_FIELDS.step;
    var spec = JSON.parse(JSON.stringify(opts.bandSpec));
    var rows = bandRows(rowsOf(data, opts.smooth || 0), opts.groupOf, x.field);
    spec.data = { values: rows };
    spec.description = "Chart of " + data.key + " by group";
    spec.layer.forEach(function (layer) {
      layer.encoding.x = { field: "x", type: x.type, title: x.title };
    });
    spec.layer[1].encoding.y.title = data.key;
    if (opts.log) spec.layer.forEach(function (l) { l.encoding.y.scale = { type: "log" }; });
    vegaEmbed(view, spec, { actions: false, renderer: "svg" })
      .then(function () { figure.setAttribute("data-drawn", "true"); })
      .catch(function (err) { view.textContent = "Chart failed: " + err; });
  }

  window.TrackerCharts = { draw: drawChart, read: readJson };

  function setupCompareLink() {
    var link = document.querySelector("a.compare-link");
    if (!link) return;
    var base = link.getAttribute("data-base");
    var boxes = Array.prototype.slice.call(document.querySelectorAll("input.run-pick"));
    function update() {
      var ids = boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
      link.href = base + (ids.length ? "#runs=" + ids.join(",") : "");
      link.setAttribute("aria-disabled", ids.length < 2 ? "true" : "false");
      var count = link.querySelector(".compare-count");
      if (count) count.textContent = String(ids.length);
    }
    boxes.forEach(function (b) { b.addEventListener("change", update); });
    update();
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
    function drawAll() {
      var opts = { x: select ? select.value : "step",
                   smooth: smooth ? parseFloat(smooth.value) || 0 : 0,
                   log: !!(log && log.checked), groupOf: groupOf(), bandSpec: bandSpec };
      if (smoothOut) smoothOut.textContent = opts.smooth.toFixed(2);
      figures.forEach(function (f) { drawChart(f, baseSpec, opts); });
    }
    [select, smooth, log, group].forEach(function (c) {
      if (c) c.addEventListener("change", drawAll);
    });
    drawAll();
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), setupTable);
    setupCompareLink();
    if (!document.getElementById("compare")) setupCharts();
  });
})();
