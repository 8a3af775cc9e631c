/* tracker-report experiment page: scatter of any param or metric against another, and
   parallel coordinates of numeric params against the primary metric. Clicking a mark opens
   its run. Data: runs.js (window.TRACKER_EXPERIMENT); specs: inline JSON made by Altair. */
(function () {
  "use strict";

  function readJson(id) {
    var el = document.getElementById(id);
    try { return el ? JSON.parse(el.textContent) : null; } catch (e) { return null; }
  }

  function number(v) {
    if (v === null || v === undefined || v === "") return null;
    var n = typeof v === "number" ? v : Number(v);  // "8 layers" is not a number
    return isFinite(n) ? n : null;
  }

  // A numeric field's value as a number; a text param's value as its text.
  function valueOf(run, choice) {
    var raw = (run[choice.kind] || {})[choice.key];
    if (choice.numeric) return number(raw);
    return raw === null || raw === undefined ? null : String(raw);
  }

  function openOnClick(result) {
    result.view.addEventListener("click", function (event, item) {
      var datum = item && item.datum;
      if (datum && datum.url) window.location.href = datum.url;
    });
  }

  // Past MANY runs the views draw on a canvas (an SVG of thousands of marks makes every
  // layout of the page slow) and only when they come near the screen.
  var MANY = 200;

  function whenNear(el, draw) {
    if (typeof IntersectionObserver !== "function") { draw(); return; }
    var seen = new IntersectionObserver(function (entries) {
      if (!entries.some(function (e) { return e.isIntersecting; })) return;
      seen.disconnect();
      draw();
    }, { rootMargin: "400px" });
    seen.observe(el);
  }

  function embed(figure, spec, rows, done) {
    var view = figure.querySelector(".chart-view");
    spec.data = { values: rows };
    var renderer = rows.length > MANY ? "canvas" : "svg";
    figure.setAttribute("data-renderer", renderer);
    window.TrackerCharts.embed(view, spec, { renderer: renderer })
      .then(function (result) {
        openOnClick(result);
        figure.setAttribute("data-drawn", "true");
        if (done) done(result);
      })
      .catch(function (err) { view.textContent = "Chart failed: " + err; });
  }

  function setup() {
    var section = document.getElementById("explore");
    var data = window.TRACKER_EXPERIMENT;
    var fields = readJson("explore-fields");
    if (!section || !data || !fields || typeof vegaEmbed !== "function") return;
    var root = section.getAttribute("data-root");
    var byId = {};
    fields.choices.forEach(function (c) { byId[c.id] = c; });
    function url(run) { return root + "/runs/" + run.id + "/index.html"; }

    var scatter = section.querySelector("figure.explore-scatter");
    var xs = section.querySelector("select.scatter-x"), ys = section.querySelector("select.scatter-y");
    fields.choices.forEach(function (c) {
      [xs, ys].forEach(function (sel) {
        var opt = document.createElement("option");
        opt.value = c.id;
        opt.textContent = c.label;
        sel.appendChild(opt);
      });
    });
    var metricIds = fields.choices.filter(function (c) { return c.kind === "metrics"; });
    ys.value = fields.color || (metricIds[0] || fields.choices[0]).id;
    xs.value = (fields.choices.filter(function (c) { return c.id !== ys.value; })[0] ||
                fields.choices[0]).id;
    function drawScatter() {
      var cx = byId[xs.value], cy = byId[ys.value];
      var spec = JSON.parse(JSON.stringify(readJson("spec-scatter")));
      spec.encoding.x.title = cx.label;
      spec.encoding.y.title = cy.label;
      // a text param is an axis of categories
      if (!cx.numeric) { spec.encoding.x.type = "nominal"; delete spec.encoding.x.scale; }
      if (!cy.numeric) { spec.encoding.y.type = "nominal"; delete spec.encoding.y.scale; }
      spec.encoding.tooltip.forEach(function (t) {
        if ((t.field === "x" && !cx.numeric) || (t.field === "y" && !cy.numeric)) {
          t.type = "nominal";
          delete t.format;
        }
      });
      spec.description = "Scatter of " + cy.label + " against " + cx.label;
      var rows = data.runs.map(function (r) {
        return { x: valueOf(r, cx), y: valueOf(r, cy), run: r.name, status: r.status, url: url(r) };
      }).filter(function (row) { return row.x !== null && row.y !== null; });
      embed(scatter, spec, rows);
    }
    xs.addEventListener("change", drawScatter);
    ys.addEventListener("change", drawScatter);
    var many = data.runs.length > MANY;
    if (many) whenNear(scatter, drawScatter); else drawScatter();

    var parallel = section.querySelector("figure.explore-parallel");
    var pspec = readJson("spec-parallel");
    if (parallel && pspec) {
      var rows = data.runs.map(function (r) {
        var row = { run: r.name, url: url(r) };
        fields.parallel.forEach(function (id) { row[id] = valueOf(r, byId[id]); });
        return row;
      }).filter(function (row) {
        return fields.parallel.every(function (id) { return row[id] !== null; });
      });
      pspec.description = "Parallel coordinates of the runs' parameters";
      if (many) whenNear(parallel, function () { embed(parallel, pspec, rows); });
      else embed(parallel, pspec, rows);
    }
  }

  document.addEventListener("DOMContentLoaded", setup);
})();
