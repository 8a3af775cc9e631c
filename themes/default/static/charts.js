/* tracker-report metric charts. The Vega-Lite specs of each chart kind are made by Altair at
   build time (reporter/site/charts.py: line, bars, band), one bundle per page (#spec-metric);
   each chart's data is an inline JSON block zipped into its spec here.
   - a metric with history is a line per run, with a rule at the x nearest the pointer whose
     tooltip lists every run's value there;
   - a metric logged once per run (a final rmse) is ranked bars, best first;
   - grouping by a param or tag draws every run of the experiment, from the group script the
     build wrote for that choice (loaded by a <script> tag only when chosen);
   - every number reads as the site writes it (numbers.js: humanNumber), log scales only where
     every value is above 0, and every chart takes the page's colours (dark mode included).
   Loaded after numbers.js and app.js (window.TrackerPage). Everything works from file://. */
(function () {
  "use strict";

  var page = window.TrackerPage;
  var readJson = page.readJson, readHash = page.readHash, writeHash = page.writeHash;

  function human(v, digits) {
    return window.TrackerNumbers ? window.TrackerNumbers.human(v, digits) : String(v);
  }

  // ---- axis labels ---------------------------------------------------------------------------
  // Axis labels read as the site writes numbers (humanNumber); when a narrow range needs more
  // digits than that to tell its ticks apart (1.245M and 1.25M; 0.6931 and 0.6932), they get
  // them from chartNumber(value, digits), in the same format.
  var HUMAN = "humanNumber(datum.value)";
  var SI = [[1e15, "P"], [1e12, "T"], [1e9, "G"], [1e6, "M"]];  // largest first

  function chartNumber(v, digits) {
    var a = Math.abs(v);
    if (!(digits > 0) || !isFinite(v) || a === 0 || a < 1e-3 || a >= 1e18) return human(v);
    if (a < 1e6) return human(v, digits);
    for (var i = 0; a < SI[i][0]; i++) { /* the largest unit not above a */ }
    var scaled = v / SI[i][0];
    var decimals = Math.max(0, Math.min(6, digits - 1 - Math.floor(Math.log10(Math.abs(scaled)))));
    return scaled.toFixed(decimals).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "") + SI[i][1];
  }

  if (window.vega && typeof window.vega.expressionFunction === "function") {
    window.vega.expressionFunction("chartNumber", chartNumber);
  }

  // The label expression of a linear axis over [lo, hi].
  function labelsFor(lo, hi) {
    var top = Math.max(Math.abs(lo), Math.abs(hi)), span = hi - lo;
    if (!(span > 0) || !(top > 0) || !isFinite(span)) return HUMAN;
    var digits = Math.floor(Math.log10(top)) - Math.floor(Math.log10(span / 10)) + 1;
    return digits > (top >= 1e6 ? 3 : 4) ? "chartNumber(datum.value, " + Math.min(digits, 12) + ")"
      : HUMAN;
  }

  // A format for numbers shown side by side (a tooltip's list, a column of bar values): one
  // number of decimals for all of them, as the site's tables do.
  // When that would show two different values alike (0.000152 and 0.000152), each value gets
  // its own significant digits instead.
  function columnFormat(values) {
    var numbers = window.TrackerNumbers;
    if (!numbers) return function (v) { return String(v); };
    var decimals = numbers.columnDecimals(values), seen = {}, clash = false;
    values.forEach(function (v) {
      if (v === null || !isFinite(v) || clash) return;
      var text = numbers.fixed(v, decimals);
      if (Object.prototype.hasOwnProperty.call(seen, text) && seen[text] !== v) clash = true;
      seen[text] = v;
    });
    return clash ? function (v) { return numbers.human(v); }
      : function (v) { return numbers.fixed(v, decimals); };
  }

  function extent(values) {
    var lo = Infinity, hi = -Infinity;
    values.forEach(function (v) {
      if (v !== null && isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
    });
    return lo <= hi ? [lo, hi] : [0, 0];
  }

  // ---- the site's chart theme ------------------------------------------------------------
  var DARK = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function isDark() { return !!(DARK && DARK.matches); }

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name);
    return (value && value.trim()) || fallback;
  }

  function transparent(color) {
    return !color || color === "transparent" || /^rgba\(.*,\s*0\)$/.test(color);
  }

  // The colour the chart sits on: the first ancestor (its card) with a background.
  function backgroundOf(el) {
    for (var e = el; e && e.nodeType === 1; e = e.parentElement) {
      var color = getComputedStyle(e).backgroundColor;
      if (!transparent(color)) return color;
    }
    return cssVar("--bg", isDark() ? "#0d1117" : "#ffffff");
  }

  function themeConfig(el) {
    var fg = cssVar("--fg", "#1b1f24"), muted = cssVar("--muted", "#57606a");
    var line = cssVar("--line", "#d0d7de");
    return {
      background: backgroundOf(el),
      font: getComputedStyle(document.body).fontFamily,
      view: { stroke: line },
      axis: { labelColor: muted, titleColor: fg, gridColor: line, domainColor: muted,
              tickColor: muted, labelFontSize: 11, titleFontSize: 11, titleFontWeight: 600 },
      legend: { labelColor: fg, titleColor: fg, labelFontSize: 11, titleFontSize: 11 },
      title: { color: fg },
      header: { labelColor: fg, titleColor: fg },
      text: { fill: fg },
      rule: { stroke: fg }
    };
  }

  // Vega fails ("Operator not defined") on a title that names a member of Object.prototype,
  // as a metric called "toString" would: such a title gets a trailing space, never shown.
  function safeTitles(node) {
    if (!node || typeof node !== "object") return;
    Object.keys(node).forEach(function (k) {
      var v = node[k];
      if (k === "title" && typeof v === "string" && v in Object.prototype) node[k] = v + " ";
      else safeTitles(v);
    });
  }

  // The spec with the page's colours merged over its own config (the data is not copied).
  function themed(spec, el) {
    var out = {}, theme = themeConfig(el), config = {};
    Object.keys(spec).forEach(function (k) {
      var data = k === "data" || k === "datasets";
      out[k] = data ? spec[k] : JSON.parse(JSON.stringify(spec[k]));
      if (!data) safeTitles(out[k]);
    });
    Object.keys(spec.config || {}).forEach(function (k) { config[k] = spec.config[k]; });
    Object.keys(theme).forEach(function (k) {
      var mine = theme[k], theirs = config[k];
      if (mine && typeof mine === "object" && theirs && typeof theirs === "object") {
        var merged = {};
        Object.keys(theirs).forEach(function (j) { merged[j] = theirs[j]; });
        Object.keys(mine).forEach(function (j) { merged[j] = mine[j]; });
        config[k] = merged;
      } else {
        config[k] = mine;
      }
    });
    out.config = config;
    return out;
  }

  // Every chart of the site is drawn through embed(el, spec, options): one place for the Vega
  // options and the theme. options.after(result) runs after each drawing of the chart, which
  // is drawn again, in the new colours, when the reader's system switches light and dark.
  var embedded = [];

  function embed(el, spec, options) {
    var entry = null;
    for (var i = 0; i < embedded.length; i++) if (embedded[i].el === el) entry = embedded[i];
    if (!entry) { entry = { el: el, ticket: 0, result: null }; embedded.push(entry); }
    entry.spec = spec;
    entry.options = options || {};
    return render(entry);
  }

  // Vega-Lite gives the cells of a `nearest` selection (a voronoi over the marks) the
  // tooltip of the marks, but reads it from the cell instead of from the mark's datum.
  function patchNearestTooltips(vg) {
    (function walk(marks) {
      (marks || []).forEach(function (m) {
        var tip = m.encode && m.encode.update && m.encode.update.tooltip;
        if (m.type === "path" && /_voronoi$/.test(m.name || "") && tip && tip.signal &&
            tip.signal.indexOf("datum.datum") < 0) {
          tip.signal = tip.signal.replace(/\bdatum\[/g, "datum.datum[");
        }
        walk(m.marks);
      });
    })(vg.marks);
    return vg;
  }

  function render(entry) {
    var opts = { actions: false, renderer: "svg", patch: patchNearestTooltips,
                 tooltip: { theme: isDark() ? "dark" : "light" } };
    var after = null;
    Object.keys(entry.options).forEach(function (k) {
      if (k === "after") after = entry.options[k];
      else if (k === "patch" && typeof entry.options.patch === "function") {
        var theirs = entry.options.patch;
        opts.patch = function (vg) { return theirs(patchNearestTooltips(vg)); };
      } else opts[k] = entry.options[k];
    });
    if (entry.result) { entry.result.finalize(); entry.result = null; }
    var ticket = entry.ticket += 1;
    return vegaEmbed(entry.el, themed(entry.spec, entry.el), opts).then(function (result) {
      if (ticket !== entry.ticket) return result;  // drawn again since: that one stays
      entry.result = result;
      if (after) after(result);
      return result;
    });
  }

  function schemeChanged() {
    embedded = embedded.filter(function (e) { return document.documentElement.contains(e.el); });
    embedded.forEach(function (e) {
      render(e).catch(function (err) { e.el.textContent = "Chart failed: " + err; });
    });
  }

  if (DARK) {
    if (DARK.addEventListener) DARK.addEventListener("change", schemeChanged);
    else if (DARK.addListener) DARK.addListener(schemeChanged);
  }

  // ---- data --------------------------------------------------------------------------------
  var X_FIELDS = {
    step: { field: "step", type: "quantitative", title: "step" },
    time: { field: "time", type: "temporal", title: "wall time (UTC)" },
    relative: { field: "relative", type: "quantitative", title: "relative time (s)" }
  };
  var HOVER_ROWS = 400;  // x values the hover rule can stop at (evenly picked when more)

  // A column is base64 of little-endian float64 values (see reporter/site/charts.py).
  function decode(text) {
    var bin = atob(text), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Float64Array(bytes.buffer);
  }

  function finite(v) { return isFinite(v) ? v : null; }

  // Exponential moving average with weight smooth in [0, 1) (0 = raw values), as TensorBoard's.
  function smoother(smooth) {
    var last = null;
    return function (v) {
      if (!(smooth > 0) || v === null) return v;
      last = last === null ? v : last * smooth + (1 - smooth) * v;
      return last;
    };
  }

  function rowsOf(series, smooth) {
    var rows = [];
    series.forEach(function (s) {
      var step = decode(s.step), value = decode(s.value), time = decode(s.time);
      var start = s.start != null ? s.start : (time.length ? time[0] : 0);
      var ema = smoother(smooth);
      for (var i = 0; i < step.length; i++) {
        var v = finite(value[i]);
        rows.push({ run: s.run, run_id: s.run_id, step: step[i], value: ema(v), raw: v,
                    time: time[i], relative: (time[i] - start) / 1000 });
      }
    });
    return rows;
  }

  function lowerIsBetter(data) {
    if (typeof data.lower_is_better === "boolean") return data.lower_is_better;
    var exp = window.TRACKER_EXPERIMENT;  // the compare page: runs.js knows each metric's way
    return !!(exp && own(exp.lower_is_better, data.key));
  }

  function kindOf(data) {
    if (data.kind) return data.kind;
    return data.series.every(function (s) { return s.n <= 1; }) ? "bars" : "line";
  }

  function positive(values) {
    return values.every(function (v) { return v === null || !isFinite(v) || v > 0; });
  }

  // A value of an object by a key that is data (a metric, run or group name): never one of
  // Object.prototype's (a metric may be called "toString").
  function own(object, key) {
    return object && Object.prototype.hasOwnProperty.call(object, key) ? object[key] : undefined;
  }

  // Tooltip keys are names shown as text; vega-tooltip reads `title` and `image` itself, two
  // runs may share a name, and no name may replace one of Object.prototype's members.
  function tipKey(name, taken) {
    var reserved = name === "title" || name === "image" || name in Object.prototype;
    var key = reserved ? name + " (name)" : name;
    for (var n = 2; Object.prototype.hasOwnProperty.call(taken, key); n++) key = name + " (" + n + ")";
    taken[key] = true;
    return key;
  }

  function formatX(x, xName) {
    if (xName === "time") return new Date(x).toISOString().slice(0, 19).replace("T", " ");
    return human(x) + (xName === "relative" ? " s" : "");
  }

  // Rows of the hover rule: at each x, every line's value there (its last point at or before
  // x, while x is within the line), best first, in one number format.
  // lines: [{name, xs, values, text(i, format)}].
  function hoverRows(lines, field, xName, xTitle, lower) {
    var all = [];
    lines.forEach(function (l) { for (var i = 0; i < l.xs.length; i++) all.push(l.xs[i]); });
    all.sort(function (a, b) { return a - b; });
    var xs = [];
    all.forEach(function (x) { if (!xs.length || xs[xs.length - 1] !== x) xs.push(x); });
    if (xs.length > HOVER_ROWS) {
      var picked = [];
      for (var p = 0; p < HOVER_ROWS; p++) picked.push(xs[Math.round(p * (xs.length - 1) / (HOVER_ROWS - 1))]);
      xs = picked;
    }
    var at = lines.map(function () { return -1; });
    return xs.map(function (x) {
      var found = [];
      lines.forEach(function (l, j) {
        while (at[j] + 1 < l.xs.length && l.xs[at[j] + 1] <= x) at[j] += 1;
        var i = at[j];
        if (i >= 0 && x <= l.xs[l.xs.length - 1]) found.push({ line: l, i: i, v: l.values[i] });
      });
      found.sort(function (a, b) { return lower ? a.v - b.v : b.v - a.v; });
      var format = columnFormat(found.map(function (f) { return f.v; }));
      var tip = { title: xTitle + " " + formatX(x, xName) }, taken = { title: true, image: true };
      found.forEach(function (f) { tip[tipKey(f.line.name, taken)] = f.line.text(f.i, format); });
      var row = { tip: tip };
      row[field] = x;
      return row;
    });
  }

  // ---- spec helpers ------------------------------------------------------------------------
  function copy(spec) { return JSON.parse(JSON.stringify(spec)); }

  function eachChannel(spec, channel, fn) {
    [spec].concat(spec.layer || []).forEach(function (l) {
      if (l.encoding && l.encoding[channel]) fn(l.encoding[channel], l);
    });
  }

  // An x axis of about one tick per 70 pixels, whose labels never overlap.
  function xAxis(width, labelExpr) {
    var axis = { labelFlush: true, labelOverlap: true, labelSeparation: 6,
                 tickCount: Math.max(2, Math.floor(width / 70)) };
    if (labelExpr) axis.labelExpr = labelExpr;
    return axis;
  }

  // A scale over the data's range, given rather than left to Vega: a layer with no data yet
  // (the hover dots) has no range of its own to add.
  function withDomain(scale, range) {
    if (range[0] < range[1]) scale.domain = range;
    return scale;
  }

  // range: the [lo, hi] of the x values, for the scale and the digits of the labels
  function setX(spec, field, type, title, range, width) {
    eachChannel(spec, "x", function (enc) {
      enc.field = field;
      enc.type = type;
      enc.title = title;
      if (type === "temporal") {
        enc.scale = withDomain({ type: "utc" }, range);
        enc.axis = xAxis(width, null);
      } else {
        enc.scale = withDomain({ zero: false, nice: true }, range);
        enc.axis = xAxis(width, labelsFor(range[0], range[1]));
      }
    });
  }

  // A log scale keeps the data's own range (a "nice" one would stretch it to whole decades
  // and flatten the curves).
  function setY(spec, title, log, range) {
    eachChannel(spec, "y", function (enc) {
      enc.title = title;
      enc.scale = withDomain(log ? { type: "log", nice: false } : { zero: false, nice: true },
                             range);
      enc.axis = { labelExpr: labelsFor(range[0], range[1]), labelOverlap: log ? "greedy" : true,
                   labelSeparation: 4, tickCount: 5 };
    });
  }

  function widthOf(view) { return view.clientWidth || 320; }

  // A chart's line under its caption: what kind of chart it is, why the log scale is off.
  function info(figure, text) {
    var caption = figure.querySelector("figcaption");
    if (!caption) return;
    var span = caption.querySelector(".chart-info");
    if (!span) {
      span = document.createElement("span");
      span.className = "chart-info";
      caption.appendChild(document.createTextNode(" "));
      caption.appendChild(span);
    }
    span.textContent = text;
    span.hidden = !text;
  }

  function finish(figure, view, spec, state, options) {
    figure.setAttribute("data-drawn", "false");
    Object.keys(state).forEach(function (k) { figure.setAttribute("data-" + k, state[k]); });
    embed(view, spec, options)
      .then(function () { figure.setAttribute("data-drawn", "true"); })
      .catch(function (err) { view.textContent = "Chart failed: " + err; });
  }

  // ---- the chart kinds ---------------------------------------------------------------------
  function drawLines(figure, view, data, specs, opts) {
    var spec = copy(specs.line);
    var xName = X_FIELDS[opts.x] ? opts.x : "step", x = X_FIELDS[xName];
    var hidden = opts.hidden || {};
    var series = data.series.filter(function (s) { return !hidden[s.run_id]; });
    var rows = rowsOf(series, opts.smooth || 0);
    var logOk = typeof data.log_ok === "boolean" ? data.log_ok
      : positive(rows.map(function (r) { return r.raw; }));
    var log = !!opts.log && logOk;
    setX(spec, x.field, x.type, x.title, extent(rows.map(function (r) { return r[x.field]; })),
         widthOf(view));
    setY(spec, data.key, log, extent(rows.map(function (r) { return r.value; })));
    if (opts.colors) {
      // the page's own legend names the runs; colours stay put when runs hide
      eachChannel(spec, "color", function (enc) {
        enc.scale = { domain: opts.colors.domain, range: opts.colors.range };
      });
    }
    var longest = Math.max.apply(null, [0].concat(data.series.map(function (s) { return s.n; })));
    if (longest <= 60) spec.layer[0].mark.point = true;  // short series: show the points
    var lower = lowerIsBetter(data);
    var lines = series.map(function (s) {
      var mine = rows.filter(function (r) { return r.run_id === s.run_id && r.value !== null; })
        .sort(function (a, b) { return a[x.field] - b[x.field]; });
      return { name: s.run, xs: mine.map(function (r) { return r[x.field]; }),
               values: mine.map(function (r) { return r.value; }),
               text: function (i, format) { return format(mine[i].value); } };
    });
    spec.datasets = { points: rows,
                      hover: hoverRows(lines, x.field, xName, x.title, lower) };
    spec.description = "Chart of " + data.key;  // vega uses it as the chart's accessible name
    info(figure, opts.log && !logOk ? "linear: log scale needs values above 0" : "");
    finish(figure, view, spec, { kind: "line", scale: log ? "log" : "linear" });
  }

  // Ranked bars: bars = [{key, name, value, lo, hi, tip}], best first by the metric's way.
  // Each bar's name is written on a line above it (the whole width: names are not cut) and
  // its value in a column at the right, which the bars end before.
  function drawRanked(figure, view, data, specs, bars, colors, opts, what) {
    var spec = copy(specs.bars);
    var lower = lowerIsBetter(data);
    bars.sort(function (a, b) { return lower ? a.value - b.value : b.value - a.value; });
    var format = columnFormat(bars.map(function (b) { return b.value; })), longest = 0;
    bars.forEach(function (b, i) {
      b.rank = i;
      b.text = format(b.value);
      b.label = b.name + ": " + b.text;  // what a screen reader says of the bar
      longest = Math.max(longest, b.text.length);
    });
    var width = widthOf(view), column = longest * 7.5 + 14;
    var range = extent([0].concat.apply([0], bars.map(function (b) { return [b.value, b.lo, b.hi]; })));
    var top = range[1] > 0 ? range[1] * width / Math.max(width - column, width / 2) : 0;
    var scale = withDomain({ zero: true, nice: false }, [Math.min(range[0], 0), top]);
    eachChannel(spec, "x", function (enc) {
      if (enc.field) { enc.title = data.key; enc.scale = scale; }
      if (enc.axis) enc.axis = xAxis(width, labelsFor(range[0], range[1]));
    });
    spec.layer.forEach(function (layer) {  // a name has its row's whole width
      if (layer.encoding.text && layer.encoding.text.field === "name") {
        layer.mark.limit = Math.max(60, width - 2);
      }
    });
    if (!bars.some(function (b) { return b.lo != null; })) {  // no ranges: no whiskers
      spec.layer = spec.layer.filter(function (layer) { return !layer.encoding.x2; });
    }
    if (colors) {
      eachChannel(spec, "color", function (enc) {
        enc.scale = { domain: colors.domain, range: colors.range };
      });
    }
    spec.data = { values: bars };
    spec.description = "Bars of " + data.key + " " + what;
    info(figure, what + ", best first (" + (lower ? "lower" : "higher") + " is better)" +
         (opts.log ? "; bars stay linear" : ""));
    // Vega-Lite warns that a container's width leaves a list's height to its rows: it does
    var quiet = window.vega ? { logLevel: window.vega.Error } : {};
    finish(figure, view, spec, { kind: "bars", scale: "linear" }, quiet);
  }

  function drawBars(figure, view, data, specs, opts) {
    var hidden = opts.hidden || {};
    var bars = [];
    data.series.forEach(function (s) {
      if (hidden[s.run_id]) return;
      var values = decode(s.value), steps = decode(s.step), i = values.length - 1;
      if (i < 0 || !isFinite(values[i])) return;
      var tip = { title: s.run };
      tip[tipKey(data.key, tip)] = human(values[i]);
      tip[tipKey("step", tip)] = human(steps[i]);
      bars.push({ key: s.run_id, name: s.run, value: values[i], tip: tip });
    });
    drawRanked(figure, view, data, specs, bars, opts.colors, opts, "final values");
  }

  // ---- groups ----------------------------------------------------------------------------
  var PALETTE = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2",
                 "#ff9da6", "#9d755d", "#bab0ac"];

  function groupLabel(name, runs) { return name + " (" + runs + (runs === 1 ? " run)" : " runs)"); }

  function groupColors(groups) {
    var domain = groups.groups.map(function (g) { return g.name; });
    return { domain: domain, range: domain.map(function (_, i) { return PALETTE[i % PALETTE.length]; }) };
  }

  function drawBand(figure, view, data, specs, metric, groups, opts) {
    var spec = copy(specs.band);
    // runs' wall times never line up: groups are drawn against time since each run's start
    var xName = opts.x === "step" ? "step" : "relative", x = X_FIELDS[xName];
    var axis = metric[xName], xs = decode(axis.x);
    var lower = lowerIsBetter(metric.lower_is_better === undefined ? data : metric);
    // a group's line is keyed by its label, "name (N runs)": the legend shows it as it is
    var rows = [], lines = [], colors = { domain: [], range: [] };
    groups.groups.forEach(function (g, i) {
      var cols = axis.groups[i];
      if (!metric.runs[i]) return;
      var runs = metric.runs[i], label = groupLabel(g.name, runs);
      colors.domain.push(label);
      colors.range.push(PALETTE[i % PALETTE.length]);  // a group's colour in every chart
      var mean = decode(cols.mean), lo = decode(cols.lo), hi = decode(cols.hi), n = decode(cols.n);
      var m = smoother(opts.smooth), l = smoother(opts.smooth), h = smoother(opts.smooth);
      var mine = [];
      for (var k = 0; k < xs.length; k++) {
        if (!isFinite(mean[k])) continue;
        var row = { group: label, x: xs[k], mean: m(mean[k]), lo: l(lo[k]), hi: h(hi[k]), n: n[k] };
        rows.push(row);
        mine.push(row);
      }
      lines.push({ name: label, xs: mine.map(function (r) { return r.x; }),
                   values: mine.map(function (r) { return r.mean; }),
                   text: function (j, format) {
                     var r = mine[j];
                     return format(r.mean) + " (" + format(r.lo) + " to " + format(r.hi) +
                       (r.n === runs ? ")" : ", " + r.n + (r.n === 1 ? " run)" : " runs)"));
                   } });
    });
    var log = !!opts.log && metric.log_ok;
    setX(spec, "x", x.type, x.title, extent(rows.map(function (r) { return r.x; })),
         widthOf(view));
    setY(spec, data.key, log, extent([].concat.apply([], rows.map(function (r) {
      return [r.lo, r.hi]; }))));
    var width = widthOf(view);
    var longest = Math.max.apply(null, [8].concat(colors.domain.map(function (label) {
      return label.length; })));
    var columns = Math.max(1, Math.min(colors.domain.length, Math.floor((width - 20) / (longest * 7 + 40))));
    eachChannel(spec, "color", function (enc) {
      enc.scale = colors;
      if (enc.legend) {
        enc.legend.title = groups.key;
        enc.legend.columns = columns;
        enc.legend.labelLimit = Math.floor((width - 20) / columns) - 30;
      }
    });
    spec.datasets = { points: rows, hover: hoverRows(lines, "x", xName, x.title, lower) };
    spec.description = "Chart of " + data.key + " by " + groups.key;
    info(figure, opts.log && !metric.log_ok ? "linear: log scale needs values above 0" : "");
    finish(figure, view, spec, { kind: "band", scale: log ? "log" : "linear" });
  }

  function drawGroupBars(figure, view, data, specs, metric, groups, opts) {
    var bars = [];
    groups.groups.forEach(function (g, i) {
      if (!metric.runs[i] || metric.mean[i] === null) return;
      var label = groupLabel(g.name, metric.runs[i]);
      var tip = { title: g.name };
      tip[tipKey("mean", tip)] = human(metric.mean[i]);
      tip[tipKey("min", tip)] = human(metric.lo[i]);
      tip[tipKey("max", tip)] = human(metric.hi[i]);
      tip[tipKey("runs", tip)] = String(metric.runs[i]);
      // keyed by position: Vega looks keys up in plain objects, where a group named
      // "constructor" or "__proto__" (a param's value) would find Object's own members
      bars.push({ key: "g" + i, name: label, value: metric.mean[i], lo: metric.lo[i],
                  hi: metric.hi[i], tip: tip });
    });
    var colors = groupColors(groups);
    colors.domain = colors.domain.map(function (_, i) { return "g" + i; });
    drawRanked(figure, view, { key: data.key, lower_is_better: metric.lower_is_better }, specs,
               bars, colors, opts, "group means with min-max");
  }

  // A chart's data: its JSON block, whose series a run page leaves in the run's series.js
  // (loaded before this script: window.TRACKER_SERIES[run id][key], the same points).
  function chartData(figure) {
    var el = figure && figure.querySelector("script.chart-data");
    var data = el && readJson(el);
    if (data && typeof data.series_of === "string") {
      var all = window.TRACKER_SERIES || {};
      var run = Object.prototype.hasOwnProperty.call(all, data.series_of) ? all[data.series_of] : {};
      data.series = Object.prototype.hasOwnProperty.call(run, data.key) ? [run[data.key]] : [];
    }
    return data;
  }

  // ---- one chart ---------------------------------------------------------------------------
  // specs: the bundle of #spec-metric; options: {x, smooth, log, colors, hidden, groups}.
  function drawChart(figure, specs, options) {
    var opts = typeof options === "string" ? { x: options } : (options || {});
    var view = figure.querySelector(".chart-view");
    var data = chartData(figure);
    if (!data || !view || !specs || typeof vegaEmbed !== "function") return;
    var bundle = specs.line ? specs : { line: specs };
    var metric = opts.groups && own(opts.groups.metrics, data.key);
    if (metric && metric.kind === "bars") drawGroupBars(figure, view, data, bundle, metric, opts.groups, opts);
    else if (metric) drawBand(figure, view, data, bundle, metric, opts.groups, opts);
    else if (kindOf(data) === "bars" && bundle.bars) drawBars(figure, view, data, bundle, opts);
    else drawLines(figure, view, data, bundle, opts);
  }

  // Whether a chart can be drawn on a log scale (a line of values above 0).
  function canLog(figure, groups) {
    var data = chartData(figure);
    if (!data) return false;
    var metric = groups && own(groups.metrics, data.key);
    if (metric) return metric.kind === "line" && !!metric.log_ok;
    return kindOf(data) === "line" && data.log_ok !== false;
  }

  // A page of charts drawn from one bundle of specs made at build time (#<specId>, Altair)
  // and each figure's rows (its script.chart-data): the storage page and a registered model's
  // page. kindOf(figure) names the figure's spec in the bundle; adjust(spec, figure, view)
  // makes a copy of it the figure's own (titles, a narrow view). A figure with nothing to draw
  // is marked drawn at once, as each one is after its drawing.
  function drawFigures(selector, specId, kindOf, adjust) {
    if (typeof vegaEmbed !== "function") return;
    var specs = readJson(document.getElementById(specId));
    Array.prototype.forEach.call(document.querySelectorAll(selector), function (figure) {
      var rows = readJson(figure.querySelector("script.chart-data"));
      var view = figure.querySelector(".chart-view");
      var base = specs && specs[kindOf(figure)];
      if (!base || !rows || !rows.length || !view) {
        figure.setAttribute("data-drawn", "true");
        return;
      }
      var spec = JSON.parse(JSON.stringify(base));
      if (adjust) adjust(spec, figure, view);
      spec.datasets = { points: rows };
      embed(view, spec, {
        after: function () { figure.setAttribute("data-drawn", "true"); }
      }).catch(function (err) { view.textContent = "Chart failed: " + err; });
    });
  }

  window.TrackerCharts = { draw: drawChart, read: readJson, embed: embed,
                           drawFigures: drawFigures,
                           legend: function (f, c, h) { return runLegend(f, c, h); } };

  // One legend for every chart of the page: a button per run that hides or shows it in all of
  // them. Hidden runs are kept in the URL hash (#hidden=<id>,<id>).
  function runLegend(figures, changed, holder) {
    var box = holder || document.querySelector(".run-legend");
    if (!box) return null;
    box.textContent = "";
    box.hidden = true;
    var names = {}, ids = [];
    figures.forEach(function (f) {
      var data = chartData(f);
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
      button.title = names[id] + ": show or hide this run in every chart";
      var swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.backgroundColor = state.colors.range[i];
      button.appendChild(swatch);
      var label = document.createElement("span");
      label.className = "run-name";
      label.textContent = names[id];
      button.appendChild(label);
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

  // A group script of the build (experiments/<slug>/groups/<n>.js), by <script> tag.
  function loadScript(src, done) {
    var script = document.createElement("script");
    script.src = src;
    script.onload = function () { done(true); };
    script.onerror = function () { done(false); };
    document.body.appendChild(script);
  }

  function groupNote(groups, x) {
    var parts = groups.groups.map(function (g) { return g.name + " (" + g.runs + ")"; });
    return "Grouped by " + groups.key + " over all " + groups.runs + " runs: " +
      parts.join(", ") + ". Lines are each group's mean and bands its min to max; bars a " +
      "group's mean with its range" +
      (x === "step" ? "." : "; time is shown as seconds since each run's start.");
  }

  function setupCharts() {
    var specEl = document.getElementById("spec-metric");
    if (!specEl) return;
    var specs = readJson(specEl);
    var figures = Array.prototype.slice.call(document.querySelectorAll("figure.chart"));
    var select = document.querySelector("select.x-axis");
    var smooth = document.querySelector("input.smoothing");
    var smoothOut = document.querySelector("output.smoothing-value");
    var log = document.querySelector("input.log-scale");
    var group = document.querySelector("select.group-by");
    var note = document.querySelector(".group-note");
    var legendBox = document.querySelector(".run-legend");
    var failed = {};
    var legend = runLegend(figures, function () { drawAll(); });

    function say(text) {
      if (!note) return;
      note.textContent = text;
      note.hidden = !text;
    }

    // The chosen grouping's data: null for none, "loading" while its script loads.
    function chosenGroups() {
      var choice = group && group.value;
      if (!choice) return null;
      var loaded = (window.TRACKER_GROUPS || {})[choice];
      if (loaded) {
        loaded.key = choice.slice(choice.indexOf(":") + 1);
        return loaded;
      }
      var option = group.options[group.selectedIndex];
      var src = option && option.getAttribute("data-src");
      if (!src || failed[choice]) return null;
      loadScript(src, function (ok) {
        if (!ok) failed[choice] = true;
        if (group.value === choice) drawAll();
      });
      return "loading";
    }

    function drawAll() {
      var groups = chosenGroups();
      if (groups === "loading") {
        figures.forEach(function (f) { f.setAttribute("data-drawn", "false"); });
        say("Loading the groups of every run…");
        return;
      }
      var opts = { x: select ? select.value : "step",
                   smooth: smooth ? parseFloat(smooth.value) || 0 : 0,
                   log: !!(log && log.checked), groups: groups,
                   colors: legend && legend.colors, hidden: legend ? legend.hidden : {} };
      if (smoothOut) smoothOut.textContent = opts.smooth.toFixed(2);
      if (groups) say(groupNote(groups, opts.x));
      else say(group && group.value ? "The groups could not be loaded; the charts show runs." : "");
      if (legendBox && legend) legendBox.hidden = !!groups;  // groups draw every run
      if (log) {
        var any = figures.some(function (f) { return canLog(f, groups); });
        log.disabled = !any;
        var label = log.closest("label") || log.parentNode;
        label.title = any ? "" : "No chart here can take a log scale: its values reach 0 or " +
          "below, or it is a bar chart";
        label.classList.toggle("disabled", !any);
      }
      figures.forEach(function (f) { drawChart(f, specs, opts); });
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
