/* tracker-report experiment page: a scatter of any param or metric against another (coloured
   by the primary metric, or by a field picked in a menu), and parallel coordinates of the
   params against the primary metric: one line per run, every run drawn. Clicking a mark opens
   its run. Data: runs.js (window.TRACKER_EXPERIMENT); what to draw and the axes' layout (scales,
   ticks, places below an axis for texts and for runs without a value): the explore JSON block
   made by reporter/site/pages/explore.py; specs: inline JSON made by Altair. Numbers read as in
   the rest of the site (numbers.js); charts are drawn through TrackerCharts.embed. */
(function () {
  "use strict";

  var MANY = 200;  // past this many runs the views draw on a canvas, when they come near
  var GREY = "#9aa0a6";  // a run without the colour field
  var MISSING = "(missing)";
  var GAP = 0.12;  // as explore.py: between the places below an axis
  var NARROW = 560;  // px: a chart this narrow puts its colour legend below
  var MIN_STEP = 96;  // px between parallel axes; narrower screens scroll the chart
  // What explore.py reads as a number (its NUMBER); anything else is text.
  var NUMBER = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;
  var PALETTE = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2",
                 "#ff9da6", "#9d755d", "#79706e"];

  function readJson(id) {
    var el = document.getElementById(id);
    try { return el ? JSON.parse(el.textContent) : null; } catch (e) { return null; }
  }

  function human(v) { return window.TrackerNumbers ? window.TrackerNumbers.human(v) : String(v); }

  function cssColor(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || fallback;
  }

  function dark() {
    return !!(window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches);
  }

  // A run's value of a field as runs.js holds it (a param's text, a metric's number), or null.
  function rawOf(run, choice) {
    var v = own(run[choice.kind], choice.key);
    return v === undefined ? null : v;
  }

  // obj[key] when it is obj's own (a param named "constructor" is not a function)
  function own(obj, key) {
    return obj && Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
  }

  function number(v) {
    if (typeof v === "number") return isFinite(v) ? v : null;
    if (typeof v === "string" && NUMBER.test(v)) return Number(v);
    return null;  // "8 layers", "None", "∞" (an infinite metric in runs.js)
  }

  // A numeric field's value as a number; a text param's value as its text.
  function valueOf(run, choice) {
    var raw = rawOf(run, choice);
    if (choice.numeric) return number(raw);
    return raw === null ? null : String(raw);
  }

  // Set a key that is user text (a param named __proto__ stays a key).
  function put(obj, key, value) {
    Object.defineProperty(obj, key, { value: value, enumerable: true, writable: true,
                                      configurable: true });
  }

  function shown(v) {
    if (v === null) return MISSING;
    return typeof v === "number" ? human(v) : v;
  }

  // Numbers, then texts (explore.py's natural order).
  function natural(a, b) {
    var na = NUMBER.test(a), nb = NUMBER.test(b);
    if (na !== nb) return na ? -1 : 1;
    if (na && Number(a) !== Number(b)) return Number(a) - Number(b);
    var la = a.toLowerCase(), lb = b.toLowerCase();
    return la < lb ? -1 : la > lb ? 1 : (a < b ? -1 : a > b ? 1 : 0);
  }

  // A continuous colour scale: the end that means "best" stands out on the page's background
  // (dark on a light page, bright on a dark one).
  function continuousScale(domain, highIsBest) {
    var lo = domain[0], hi = domain[1];
    if (lo === hi) { lo -= Math.abs(lo) || 1; hi += Math.abs(hi) || 1; }
    var night = dark();
    return { domain: [lo, hi], scheme: { name: "viridis", extent: night ? [0.15, 1] : [0, 0.88] },
             reverse: night ? !highIsBest : highIsBest, zero: false, nice: false };
  }

  function lowerIsBetter(data, choice) {
    return !!(choice && choice.kind === "metrics" && own(data.lower_is_better, choice.key));
  }

  function openOnClick(result) {
    result.view.addEventListener("click", function (event, item) {
      var datum = item && item.datum;
      if (datum && typeof datum.url === "string") window.location.href = datum.url;
    });
  }

  function whenNear(el, draw) {
    if (typeof IntersectionObserver !== "function") { draw(); return; }
    var seen = new IntersectionObserver(function (entries) {
      if (!entries.some(function (e) { return e.isIntersecting; })) return;
      seen.disconnect();
      draw();
    }, { rootMargin: "400px" });
    seen.observe(el);
  }

  function embed(figure, spec, runs, done) {
    var view = figure.querySelector(".chart-view");
    var renderer = runs > MANY ? "canvas" : "svg";
    figure.setAttribute("data-renderer", renderer);
    figure.removeAttribute("data-drawn");
    // after: each drawing, also the one in new colours when the system's light/dark switches
    function after(result) {
      openOnClick(result);
      if (done) done(result);
    }
    window.TrackerCharts.embed(view, spec, { renderer: renderer, after: after })
      .then(function () { figure.setAttribute("data-drawn", "true"); })
      .catch(function (err) { view.textContent = "Chart failed: " + err; });
  }

  function note(figure, text) {
    var el = figure.querySelector(".explore-note");
    if (!el) return;
    el.textContent = text;
    el.hidden = !text;
  }

  // --- the scatter ----------------------------------------------------------------------

  // The colour of the scatter's points: the field's value per run, and its Vega-Lite encoding.
  function colorBy(data, choice, statusChoice) {
    if (choice === statusChoice) {
      var status = { FINISHED: cssColor("--ok", "#1a7f37"), FAILED: cssColor("--bad", "#cf222e"),
                     KILLED: cssColor("--muted", "#57606a"), RUNNING: cssColor("--warn", "#9a6700"),
                     SCHEDULED: cssColor("--warn", "#9a6700") };
      return nominalColor("status", data.runs.map(function (r) { return r.status || null; }),
                          function (v) { return status[v]; });
    }
    var values = data.runs.map(function (r) { return valueOf(r, choice); });
    if (!choice.numeric) return nominalColor(choice.label, values);
    var numbers = values.filter(function (v) { return v !== null; });
    if (!numbers.length) return { values: values, none: 0, encoding: { value: GREY } };
    var domain = [Math.min.apply(null, numbers), Math.max.apply(null, numbers)];
    return {
      values: values,
      none: domain[0],
      encoding: {
        condition: { test: "datum.g", value: GREY },
        field: "c", type: "quantitative", title: choice.label,
        scale: continuousScale(domain, !lowerIsBetter(data, choice)),
        legend: { labelExpr: "humanNumber(datum.value)", gradientLength: 160 }
      }
    };
  }

  function nominalColor(title, values, fixed) {
    var seen = new Set();  // not an object: a category may be "__proto__"
    values.forEach(function (v) { if (v !== null) seen.add(v); });
    var cats = Array.from(seen).sort(natural);
    var range = cats.map(function (c, i) {
      return (fixed && fixed(c)) || PALETTE[i % PALETTE.length];
    });
    if (values.some(function (v) { return v === null; })) { cats.push(MISSING); range.push(GREY); }
    return {
      values: values.map(function (v) { return v === null ? MISSING : v; }),
      none: MISSING,
      encoding: { field: "c", type: "nominal", title: title,
                  scale: { domain: cats, range: range }, legend: { labelLimit: 180 } }
    };
  }

  function setupScatter(section, data, fields, byId, url) {
    var figure = section.querySelector("figure.explore-scatter");
    if (!figure) return;
    var xs = figure.querySelector("select.scatter-x"), ys = figure.querySelector("select.scatter-y");
    var cs = figure.querySelector("select.scatter-color");
    var statusChoice = { id: "status", label: "status" };
    function option(sel, value, label) {
      var opt = document.createElement("option");
      opt.value = value;
      opt.textContent = label;
      sel.appendChild(opt);
    }
    fields.choices.forEach(function (c) {
      option(xs, c.id, c.label);
      option(ys, c.id, c.label);
    });
    var primary = fields.primary && byId[fields.primary];
    if (primary) option(cs, primary.id, primary.key + " (primary metric)");
    fields.choices.forEach(function (c) { if (c !== primary) option(cs, c.id, c.label); });
    option(cs, "status", "status");
    var metrics = fields.choices.filter(function (c) { return c.kind === "metrics"; });
    ys.value = (primary || metrics[0] || fields.choices[0]).id;
    var x = (fields.scatter_x && byId[fields.scatter_x]) ||
      fields.choices.filter(function (c) { return c.id !== ys.value; })[0] || fields.choices[0];
    xs.value = x.id;
    cs.value = (primary || metrics[0] || statusChoice).id;

    function axis(enc, choice, limit, length) {
      enc.title = choice.label;
      enc.axis = enc.axis || {};
      enc.axis.titleLimit = limit;
      enc.axis.tickCount = Math.max(3, Math.round(length / 90));
      var whole = data.runs.every(function (r) {
        var v = valueOf(r, choice);
        return v === null || typeof v !== "number" || v === Math.round(v);
      });
      if (whole) enc.axis.tickMinStep = 1;
      if (choice.log) {  // as on its parallel axis (explore.py); labels at the decades
        enc.scale = { type: "log", nice: true };
        enc.axis.labelExpr = "abs(log(datum.value) / LN10 - round(log(datum.value) / LN10))" +
          " < 1e-6 ? humanNumber(datum.value) : ''";
      }
      if (!choice.numeric) {  // a text param is an axis of categories
        enc.type = "nominal";
        delete enc.scale;
        enc.sort = null;
        enc.axis = { labelLimit: 120, titleLimit: limit };
      }
    }

    function draw() {
      var cx = byId[xs.value], cy = byId[ys.value];
      var cc = cs.value === "status" ? statusChoice : byId[cs.value];
      var spec = JSON.parse(JSON.stringify(readJson("spec-scatter")));
      var room = figure.querySelector(".chart-view").clientWidth || 300;
      axis(spec.encoding.x, cx, Math.max(120, room - 160), room - 160);
      axis(spec.encoding.y, cy, 300, 320);
      var color = colorBy(data, cc, statusChoice);
      spec.encoding.color = color.encoding;
      if (room < NARROW && color.encoding.legend) {  // a phone: the legend goes below
        color.encoding.legend.orient = "bottom";
        color.encoding.legend.direction = "horizontal";
      }
      spec.description = "Scatter of " + cy.label + " against " + cx.label + ", coloured by " +
        cc.label;
      var rows = [], left = 0;
      data.runs.forEach(function (r, i) {
        var vx = valueOf(r, cx), vy = valueOf(r, cy);
        if (vx === null || vy === null) { left += 1; return; }
        var c = color.values[i], tip = { title: r.name };
        put(tip, cx.label, shown(vx));
        if (cy !== cx) put(tip, cy.label, shown(vy));
        if (cc !== cx && cc !== cy) put(tip, cc.label, c === null ? MISSING : shown(c));
        // a null colour value would make Vega-Lite drop the point: g marks it grey instead
        rows.push({ x: vx, y: vy, c: c === null ? color.none : c, g: c === null, run: r.name,
                    url: url(r), tip: tip });
      });
      spec.data = { values: rows };
      // nominal categories in natural order; the parallel coordinates do the same
      ["x", "y"].forEach(function (k) {
        var choice = k === "x" ? cx : cy;
        if (choice.numeric) return;
        var seen = new Set();
        rows.forEach(function (row) { seen.add(row[k]); });
        spec.encoding[k].sort = Array.from(seen).sort(natural);
      });
      var missing = rows.filter(function (row) { return row.g; }).length;
      var parts = [];
      if (left) parts.push(left + " of " + data.runs.length + " runs lack " + cx.label +
                           (cx !== cy ? " or " + cy.label : "") + " and are not shown.");
      if (missing && cc !== statusChoice && cc.numeric) {
        parts.push("Grey: " + missing + (missing === 1 ? " run" : " runs") + " without " +
                   cc.label + ".");
      }
      note(figure, parts.join(" "));
      embed(figure, spec, rows.length);
    }
    [xs, ys, cs].forEach(function (sel) { sel.addEventListener("change", draw); });
    if (data.runs.length > MANY) whenNear(figure, draw); else draw();
  }

  // --- parallel coordinates ---------------------------------------------------------------

  // Where a run's value goes on an axis (see explore.py): a text's own place, a number on the
  // scale, or the axis' place for runs without a value.
  function placer(axis) {
    var places = new Map(axis.places);
    var lo = axis.domain ? axis.domain[0] : 0, hi = axis.domain ? axis.domain[1] : 1;
    return function (raw) {
      if (raw === null) return axis.missing;
      if (typeof raw === "string" && places.has(raw)) return places.get(raw);
      var n = number(raw);
      if (n === null || axis.scale === "category") return axis.missing;
      if (axis.scale === "log") {
        return (Math.log10(n) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo));
      }
      return (n - lo) / (hi - lo);
    };
  }

  // An axis name in lines of at most `width` characters, broken after _ . - / : or a space or
  // between a lower and an upper case letter, never inside a word; at most three lines.
  function wrapName(name, width) {
    var parts = [], start = 0;
    for (var i = 1; i <= name.length; i++) {
      var prev = name.charAt(i - 1), next = name.charAt(i);
      var cut = i === name.length || "_.-/: ".indexOf(prev) >= 0 ||
        (/[a-z]/.test(prev) && /[A-Z]/.test(next));
      if (cut) { parts.push(name.slice(start, i)); start = i; }
    }
    var lines = [];
    parts.forEach(function (part) {
      var last = lines.length - 1;
      if (last >= 0 && (lines[last] + part).trim().length <= width) lines[last] += part;
      else lines.push(part);
    });
    lines = lines.map(function (l) { return l.trim(); }).filter(function (l) { return l; });
    if (lines.length > 3) lines = lines.slice(0, 2).concat([lines[2] + "\u2026"]);
    return lines;
  }

  function setupParallel(section, data, fields, byId, url) {
    var figure = section.querySelector("figure.explore-parallel");
    var base = readJson("spec-parallel");
    var layout = fields.parallel;
    if (!figure || !base || !layout) return;
    var axes = layout.axes;
    var colorAxis = layout.color ? axes[axes.length - 1] : null;
    var colorChoice = colorAxis ? byId[colorAxis.id] : null;
    var highIsBest = !lowerIsBetter(data, colorChoice);

    function draw() {
      var view = figure.querySelector(".chart-view");
      var spec = JSON.parse(JSON.stringify(base));
      var room = Math.max(view.clientWidth, 280);
      var legend = colorAxis && room >= NARROW ? 110 : 0;  // on a phone it goes below
      var width = Math.max(room - legend - 20, MIN_STEP * (axes.length - 0.3));
      var step = width / (axes.length - 1 + 0.7);
      drawnAt = room;
      var scrolls = width + legend + 20 > room;
      if (scrolls) {  // too narrow: the chart scrolls sideways
        spec.width = width;
        spec.autosize = { type: "pad" };
        figure.classList.add("scrolls");
      } else {
        figure.classList.remove("scrolls");
      }
      var ids = axes.map(function (a) { return a.id; });
      var lowest = 0, axisRows = [], tickRows = [], tall = 1;
      var chars = Math.max(6, Math.floor((step - 10) / 7.2));
      axes.forEach(function (a) {
        var name = a.key;
        var low = 0;
        a.ticks.forEach(function (t) {
          low = Math.min(low, t.pos);
          tickRows.push({ axis: a.id, pos: t.pos, label: t.label, full: t.label, kind: t.kind });
        });
        var lines = wrapName(name, chars);
        tall = Math.max(tall, lines.length);
        axisRows.push({ axis: a.id, low: low, name: lines,
                        full: name + " (" + a.kind + (a.scale === "log" ? ", log scale" : "") +
                              ")" });
      });
      // runs drawn in order: without the colour field first, then worst to best (on top)
      var place = axes.map(placer);
      var choices = axes.map(function (a) { return byId[a.id]; });
      // the tooltip names a value by its key; by its label where that would be ambiguous
      // (a param and a metric of one name) or read as the tooltip's title or image
      var keys = axes.map(function (a, j) {
        var twice = axes.some(function (b) { return b !== a && b.key === a.key; });
        return twice || a.key === "title" || a.key === "image" ? choices[j].label : a.key;
      });
      var runs = data.runs.map(function (r) {
        var raws = choices.map(function (c) { return rawOf(r, c); });
        var c = colorAxis ? number(raws[raws.length - 1]) : null;
        return { run: r, raws: raws, c: c };
      });
      runs.sort(function (a, b) {
        if (a.c === null || b.c === null) return (a.c === null ? 0 : 1) - (b.c === null ? 0 : 1);
        return highIsBest ? a.c - b.c : b.c - a.c;
      });
      // a place for runs without the value on an axis where explore.py saw none (the data
      // changed under the page): below the axis' lowest place, labelled like the others
      var extra = {};
      function where(j, raw) {
        var p = place[j](raw);
        if (p !== null && p !== undefined && isFinite(p)) return p;
        if (!(j in extra)) {
          var low = Math.min.apply(null, [0].concat(axes[j].ticks.map(function (t) {
            return t.pos; })));
          extra[j] = low - GAP;
          tickRows.push({ axis: ids[j], pos: extra[j], label: MISSING, full: MISSING,
                          kind: "missing" });
          axisRows[j].low = extra[j];
        }
        return extra[j];
      }
      var none = layout.color_domain ? layout.color_domain[0] : 0;
      var lineRows = [], grey = 0;
      runs.forEach(function (entry) {
        var r = entry.run, tip = { title: r.name };
        if (colorAxis && entry.c === null) grey += 1;
        entry.raws.forEach(function (raw, j) {
          put(tip, keys[j], raw === null ? MISSING :
            (number(raw) !== null ? human(number(raw)) : raw));
        });
        var u = url(r), pos = entry.raws.map(function (raw, j) { return where(j, raw); });
        var c = entry.c === null ? none : entry.c;
        for (var j = 0; j + 1 < pos.length; j++) {
          lineRows.push({ axis: ids[j], to: ids[j + 1], pos: pos[j], pos2: pos[j + 1], c: c,
                          g: colorAxis !== null && entry.c === null, url: u, tip: tip });
        }
      });
      axisRows.forEach(function (row) { lowest = Math.min(lowest, row.low); });
      // Vega draws a name's first line at the anchor and the rest below it: names shorter
      // than the tallest start with empty lines, and all of them end just above the axes.
      axisRows.forEach(function (row) {
        while (row.name.length < tall) row.name.unshift("");
      });
      var fg = cssColor("--fg", "#1b1f24"), muted = cssColor("--muted", "#57606a");
      var bg = cssColor("--bg", "#ffffff");
      spec.layer.forEach(function (l) {
        l.encoding.x.scale = { type: "point", padding: 0.35, domain: ids };
        l.encoding.y.scale = { domain: [lowest - 0.02, 1], zero: false, nice: false };
        if (l.name === "axis" || l.name === "below" || l.name === "ticks") l.mark.color = muted;
        if (l.name === "labels" || l.name === "halo") l.mark.limit = Math.max(40, step - 12);
        if (l.name === "labels") l.mark.color = fg;
        if (l.name === "halo") { l.mark.color = bg; l.mark.stroke = bg; }
        if (l.name === "heads") {
          l.mark.color = fg;
          l.mark.limit = Math.max(40, step - 6);
          l.mark.dy = -10 - (tall - 1) * l.mark.lineHeight;
        }
        if (l.name === "lines") {
          // thousands of runs: fainter lines, so where they bunch shows
          var n = data.runs.length, faint = Math.max(0.12, 0.75 * Math.sqrt(100 / n));
          if (n > 100) l.encoding.opacity.value = faint;
          if (n > MANY) {  // no hover: it would re-draw every segment of every run
            delete l.params;
            l.encoding.opacity = { value: faint };
            l.encoding.strokeWidth = { value: 1 };
          }
          if (colorAxis) {
            l.encoding.color.title = colorAxis.key;
            if (!legend) {
              l.encoding.color.legend.orient = "bottom";
              l.encoding.color.legend.direction = "horizontal";
            }
            l.encoding.color.scale = continuousScale(layout.color_domain, highIsBest);
          } else {
            l.encoding.color = { value: cssColor("--accent", "#0969da") };
          }
        }
      });
      spec.datasets = { axes: axisRows, lines: lineRows, ticks: tickRows };
      spec.description = "Parallel coordinates of " + data.runs.length + " runs: " +
        axes.map(function (a) { return a.key; }).join(", ");
      var parts = [];
      if (scrolls) parts.push("Scroll sideways to see every axis.");
      if (grey) parts.push("Grey lines: " + grey + " of " + data.runs.length + " runs without " +
                           colorAxis.key + ".");
      if (layout.left_out.length) {
        parts.push("Not drawn as axes: " + layout.left_out.map(function (l) {
          return l[0] + " (" + l[1] + ")";
        }).join(", ") + ".");
      }
      note(figure, parts.join(" "));
      embed(figure, spec, data.runs.length);
    }
    var drawnAt = null, resizing = null;
    window.addEventListener("resize", function () {  // the axes' spacing and names follow
      clearTimeout(resizing);
      resizing = setTimeout(function () {
        var now = figure.querySelector(".chart-view").clientWidth;
        if (drawnAt !== null && Math.abs(Math.max(now, 280) - drawnAt) > 40) draw();
      }, 200);
    });
    if (data.runs.length > MANY) whenNear(figure, draw); else draw();
  }

  function setup() {
    var section = document.getElementById("explore");
    var data = window.TRACKER_EXPERIMENT;
    var fields = readJson("explore-fields");
    if (!section || !data || !fields || !window.TrackerCharts || typeof vegaEmbed !== "function") {
      return;
    }
    var root = section.getAttribute("data-root");
    var byId = {};
    fields.choices.forEach(function (c) { byId[c.id] = c; });
    function url(run) { return root + "/runs/" + run.id + "/index.html"; }
    setupScatter(section, data, fields, byId, url);
    setupParallel(section, data, fields, byId, url);
  }

  document.addEventListener("DOMContentLoaded", setup);
})();
