/* tracker-report registered model page: a chart per metric of the model's versions. The spec
   is made by Altair at build time (reporter/site/charts.py: versions_spec; #spec-models), each
   chart's rows are an inline JSON block (version, value, alias, tip). Drawn through
   TrackerCharts.drawFigures, so the charts take the page's colours and follow dark mode.
   Loaded after numbers.js, app.js and charts.js. */
(function () {
  "use strict";

  // the y axis is titled with the figure's metric
  function adjust(spec, figure) {
    var metric = figure.getAttribute("data-metric") || "value";
    (spec.layer || [spec]).forEach(function (layer) {
      if (layer.encoding && layer.encoding.y) layer.encoding.y.title = metric;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.TrackerCharts) return;
    window.TrackerCharts.drawFigures("figure.version-chart", "spec-models",
      function () { return "versions"; }, adjust);
  });
})();
