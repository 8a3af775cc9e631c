/* tracker-report registered model page: a chart per metric of the model's versions. The spec
   is made by Altair at build time (reporter/site/charts.py: versions_spec; #spec-models), each
   chart's rows are an inline JSON block (version, value, alias, tip). Drawn through
   TrackerCharts.embed, so the charts take the page's colours and follow dark mode. Loaded
   after numbers.js, app.js and charts.js. */
(function () {
  "use strict";

  function readJson(el) {
    try { return el ? JSON.parse(el.textContent) : null; } catch (e) { return null; }
  }

  function draw(figure, specs) {
    var rows = readJson(figure.querySelector("script.chart-data"));
    var view = figure.querySelector(".chart-view");
    if (!specs || !specs.versions || !rows || !rows.length || !view) {
      figure.setAttribute("data-drawn", "true");
      return;
    }
    var spec = JSON.parse(JSON.stringify(specs.versions));
    var metric = figure.getAttribute("data-metric") || "value";
    (spec.layer || [spec]).forEach(function (layer) {
      if (layer.encoding && layer.encoding.y) layer.encoding.y.title = metric;
    });
    spec.datasets = { points: rows };
    window.TrackerCharts.embed(view, spec, {
      after: function () { figure.setAttribute("data-drawn", "true"); }
    }).catch(function (err) { view.textContent = "Chart failed: " + err; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.TrackerCharts || typeof vegaEmbed !== "function") return;
    var specs = readJson(document.getElementById("spec-models"));
    Array.prototype.forEach.call(document.querySelectorAll("figure.version-chart"),
      function (figure) { draw(figure, specs); });
  });
})();
