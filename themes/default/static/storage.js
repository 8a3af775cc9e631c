/* tracker-report storage page: the usage-by-experiment bars and the growth lines. The specs are
   made by Altair at build time (reporter/site/charts.py: usage, growth; #spec-storage), each
   chart's rows are an inline JSON block, already in the chart's unit (MB, GB) with a tooltip
   that says the size as `du` prints it. Drawn through TrackerCharts.embed, so the charts take
   the page's colours and follow dark mode. Loaded after numbers.js, app.js and charts.js. */
(function () {
  "use strict";

  var NARROW = 480;  // px: a chart this narrow wraps its legend and shortens its names

  function readJson(el) {
    try { return el ? JSON.parse(el.textContent) : null; } catch (e) { return null; }
  }

  function draw(figure, specs) {
    var kind = figure.getAttribute("data-kind");
    var rows = readJson(figure.querySelector("script.chart-data"));
    var view = figure.querySelector(".chart-view");
    if (!specs || !specs[kind] || !rows || !rows.length || !view) {
      figure.setAttribute("data-drawn", "true");
      return;
    }
    var spec = JSON.parse(JSON.stringify(specs[kind]));
    var unit = figure.getAttribute("data-unit") || "";
    var title = unit ? "size (" + unit + ")" : "size";
    var narrow = (view.clientWidth || 320) < NARROW;
    (spec.layer || [spec]).forEach(function (layer) {
      var enc = layer.encoding || {};
      var sized = kind === "usage" ? enc.x : enc.y;
      if (sized) sized.title = title;
      if (narrow && enc.color && enc.color.legend) enc.color.legend.columns = 3;
      if (narrow && kind === "usage" && enc.y && enc.y.axis) enc.y.axis.labelLimit = 120;
    });
    spec.datasets = { points: rows };
    window.TrackerCharts.embed(view, spec, {
      after: function () { figure.setAttribute("data-drawn", "true"); }
    }).catch(function (err) { view.textContent = "Chart failed: " + err; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.TrackerCharts || typeof vegaEmbed !== "function") return;
    var specs = readJson(document.getElementById("spec-storage"));
    Array.prototype.forEach.call(document.querySelectorAll("figure.storage-chart"),
      function (figure) { draw(figure, specs); });
  });
})();
