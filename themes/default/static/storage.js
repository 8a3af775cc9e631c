/* tracker-report storage page: the usage-by-experiment bars and the growth lines. The specs are
   made by Altair at build time (reporter/site/charts.py: usage, growth; #spec-storage), each
   chart's rows are an inline JSON block, already in the chart's unit (MB, GB) with a tooltip
   that says the size as `du` prints it. Drawn through TrackerCharts.drawFigures, so the charts
   take the page's colours and follow dark mode. Loaded after numbers.js, app.js and
   charts.js. */
(function () {
  "use strict";

  var NARROW = 480;  // px: a chart this narrow wraps its legend and shortens its names

  function kindOf(figure) { return figure.getAttribute("data-kind"); }

  // the size axis says its unit; a narrow chart wraps its legend and shortens its names
  function adjust(spec, figure, view) {
    var kind = kindOf(figure);
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
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.TrackerCharts) return;
    window.TrackerCharts.drawFigures("figure.storage-chart", "spec-storage", kindOf, adjust);
  });
})();
