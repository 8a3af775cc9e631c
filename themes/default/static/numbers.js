/* tracker-report numbers as people read them: the page scripts' twin of reporter/view/numbers.py
   (tests/site/test_numbers_js.py holds the two to the same outputs).
   human(x): thousands separators, 4 significant digits, SI from a million up (1.23M), exponent
   notation only below 0.001 and from 1e18 up. fixed(x, d): a column's value with d decimals.
   columnDecimals(values): the decimals of a column. exactDecimals(values): the fewest decimals
   that show each typed value exactly (params). delta(x): signed, 3 significant digits.
   Registers the Vega expression function humanNumber (and the format type of that name) when
   Vega is on the page. */
(function () {
  "use strict";

  var SI = [[1e15, "P"], [1e12, "T"], [1e9, "G"], [1e6, "M"]];  // largest first
  var MAX_DECIMALS = 6;

  function special(v) {
    if (v === null || v === undefined || v === "") return "";
    var n = typeof v === "number" ? v : Number(v);
    if (typeof v !== "number" && isNaN(n)) return String(v);
    if (isNaN(n)) return "NaN";
    if (!isFinite(n)) return n > 0 ? "\u221e" : "-\u221e";
    return null;
  }

  function decimalsFor(n, digits) {
    if (n === 0) return 0;
    var magnitude = Math.floor(Math.log10(Math.abs(n)));
    return Math.max(0, Math.min(MAX_DECIMALS, digits - 1 - magnitude));
  }

  function trim(text) {
    if (text.indexOf(".") >= 0) text = text.replace(/0+$/, "").replace(/\.$/, "");
    return text === "-0" || text === "" ? "0" : text;
  }

  // toFixed rounds half away from zero on the exact binary value (numbers.py does the same).
  function grouped(n, decimals) {
    var text = Math.abs(n).toFixed(decimals);
    var parts = text.split(".");
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var out = parts.join(".");
    return (n < 0 ? "-" : "") + out;
  }

  function exponent(n, digits) {
    var text = n.toExponential(digits - 1);  // "1.230e-4"
    var at = text.indexOf("e");
    return trim(text.slice(0, at)) + "e" + String(parseInt(text.slice(at + 1), 10));
  }

  // null when even the largest suffix would read 1000 or more
  function si(n, digits, keepZeros) {
    for (var i = SI.length - 1; i >= 0; i--) {
      var scaled = n / SI[i][0];
      var text = grouped(scaled, decimalsFor(scaled, digits));
      if (Math.abs(Number(text.replace(/,/g, ""))) < 1000) {
        return (keepZeros ? text : trim(text)) + SI[i][1];
      }
    }
    return null;
  }

  function human(v, digits) {
    digits = digits || 4;
    var s = special(v);
    if (s !== null) return s;
    var n = Number(v);
    if (n === 0) return "0";
    if (Math.abs(n) < 1e-3 || Math.abs(n) >= 1e18) return exponent(n, digits);
    if (Math.abs(n) >= 1e6) return si(n, 3) || exponent(n, digits);
    return trim(grouped(n, decimalsFor(n, digits)));
  }

  function columnDecimals(values) {
    var numbers = [];
    values.forEach(function (v) {
      if (v === null || v === undefined || v === "") return;
      var n = Number(v);
      if (isFinite(n)) numbers.push(n);
    });
    if (!numbers.length || numbers.every(function (n) { return n === Math.trunc(n); })) return 0;
    var nonzero = numbers.filter(function (n) { return n !== 0; })
      .map(Math.abs).sort(function (a, b) { return a - b; });
    if (!nonzero.length) return 0;
    return decimalsFor(nonzero[Math.floor(nonzero.length / 2)], 4);
  }

  // String(n) is the shortest round-trip text, as Python's repr (which numbers.py reads)
  function exactDecimals(values) {
    var most = 0;
    values.forEach(function (v) {
      if (v === null || v === undefined || v === "") return;
      var n = Number(v);
      if (!isFinite(n)) return;
      var parts = String(Math.abs(n)).toLowerCase().split("e");
      var places = (parts[0].split(".")[1] || "").replace(/0+$/, "").length -
        (parts.length > 1 ? parseInt(parts[1], 10) : 0);
      most = Math.max(most, places);
    });
    return Math.min(MAX_DECIMALS, most);
  }

  function fixed(v, decimals) {
    var s = special(v);
    if (s !== null) return s;
    var n = Number(v);
    if (Math.abs(n) >= 1e18) return human(n);
    if (Math.abs(n) >= 1e6) return si(n, 3, true) || human(n);  // a column keeps 42.0M
    var text = grouped(n, decimals);
    if (n !== 0 && Number(text.replace(/,/g, "")) === 0) return human(n, 3);
    return text;
  }

  function delta(v) {
    var s = special(v);
    if (s !== null) return s;
    var n = Number(v);
    if (n === 0) return "0";
    var text = human(n, 3);
    return text.charAt(0) === "-" ? text : "+" + text;
  }

  window.TrackerNumbers = { human: human, fixed: fixed, columnDecimals: columnDecimals,
                            exactDecimals: exactDecimals, delta: delta };
  if (window.vega && typeof window.vega.expressionFunction === "function") {
    // labelExpr: "humanNumber(datum.value)", or format type "humanNumber" in an encoding
    window.vega.expressionFunction("humanNumber", function (value) { return human(value); });
  }
})();
