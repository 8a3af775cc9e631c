/* tracker-report page script: the runs table (sort, filter, columns, compare selection).
   Everything works from file:// — no fetch(), data comes from inline JSON blocks. */
(function () {
  "use strict";

  function readJson(el) {
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }

  // ---- runs table ------------------------------------------------------------------------
  // The page's HTML holds the first rows only; table.js (window.TRACKER_TABLE) holds them all,
  // and the script renders the reader's view of them (filter, sort) a chunk at a time, so an
  // experiment of 10,000 runs opens and answers as quickly as one of ten.
  //
  // The view lives in the URL hash, so a link restores it; columns are named by key, so a
  // link still works after a rebuild adds columns:
  // #sort=metrics.rmse:asc&filter=<text>&hide=user,params.lr&show=tags.team (show: columns
  // hidden until picked). Without sort=, the rows keep table.js's order, the default one.
  var CHUNK = 100;

  function readHash() {
    var state = {};
    window.location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var eq = part.indexOf("=");
      if (eq > 0) {
        try { state[part.slice(0, eq)] = decodeURIComponent(part.slice(eq + 1)); } catch (e) { /* a mangled link: ignore that part */ }
      }
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

  // Text with an operator is a search_runs filter; other text is looked for in every column.
  function isGrammar(text) {
    return /[=<>!]/.test(text) ||
      /(^|[\s)])(i?like|is\s+(not\s+)?null|(not\s+)?in\s*\()/i.test(text);
  }

  function cellText(cell) { return typeof cell === "string" ? cell : cell[0]; }

  // A run of runs.js as the filter grammar sees it: keyed like the search_runs frame.
  function filterRow(run) {
    var row = { run_id: run.id, status: run.status };
    Object.keys(run.attrs || {}).forEach(function (k) { row[k] = run.attrs[k]; });
    ["metrics", "params", "tags"].forEach(function (kind) {
      var values = run[kind] || {};
      Object.keys(values).forEach(function (k) { row[kind + "." + k] = values[k]; });
    });
    // a run's datasets, [name, digest, context or null]: one array per key, as filter.js reads
    var used = run.datasets || [];
    row["datasets.name"] = used.map(function (d) { return d[0]; });
    row["datasets.digest"] = used.map(function (d) { return d[1]; });
    row["datasets.context"] = used.filter(function (d) { return d[2] != null; })
      .map(function (d) { return d[2]; });
    return row;
  }

  // The view of the rows: the top-level rows (filtered, sorted), each followed by its children
  // when it is open. A child whose parent the filter leaves out stands at the top level.
  // Folds start closed; while a filter is on they start open, so every match shows.
  function setupTable(table) {
    var data = window.TRACKER_TABLE;
    var tbody = table.tBodies[0];
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var section = table.closest("section") || document;
    var filter = section.querySelector(".table-filter");
    var message = section.querySelector(".filter-message");
    var empty = section.querySelector(".empty-note");
    var status = section.querySelector(".table-status");
    var moreBox = section.querySelector(".more-rows");
    var boxes = Array.prototype.slice.call(section.querySelectorAll(".column-picker input[data-col]"));
    var link = table.getAttribute("data-run-link") || "";
    var numeric = headers.map(function (th) { return th.classList.contains("num"); });
    var better = headers.map(function (th) { return th.getAttribute("data-better") || ""; });
    var keys = headers.map(function (th) { return th.getAttribute("data-key") || ""; });
    var defaultSort = null;  // the order table.js lists the rows in, shown on its header
    headers.forEach(function (th, col) {
      var dir = th.getAttribute("aria-sort");
      if (dir === "ascending" || dir === "descending") {
        defaultSort = { col: col, dir: dir === "descending" ? "desc" : "asc" };
      }
    });
    var selected = {};
    var hidden = {};

    var compareLink = document.querySelector("a.compare-link");
    if (compareLink) {
      compareLink.addEventListener("click", function (event) {
        if (compareLink.getAttribute("aria-disabled") === "true") event.preventDefault();
      });
    }
    tbody.addEventListener("change", function (event) {
      var box = event.target;
      if (!box.classList || !box.classList.contains("run-pick")) return;
      if (box.checked) selected[box.value] = true; else delete selected[box.value];
      updateCompareLink(selected);
    });
    if (!data || !data.rows) return;  // table.js missing: the first rows stay as they are

    var rows = data.rows.map(function (r, i) {
      return { index: i, id: r[0], parent: r[1], depth: r[2], cells: r[3], archived: r[4] === 1 };
    });
    if (rows.some(function (r) { return r.depth > 0; })) table.classList.add("nested");
    var byId = null, sortKeys = {}, texts = null;
    var view = [], tops = [], shown = 0, sort = null, matched = rows.length;
    var folds = {}, filtering = false, best = {};

    function runsById() {
      if (byId) return byId;
      byId = {};
      ((window.TRACKER_EXPERIMENT || {}).runs || []).forEach(function (run) {
        byId[run.id] = filterRow(run);
      });
      return byId;
    }

    // Sort keys of a column, computed once: numbers (or null) for numeric columns, else
    // lower-case text (or null when empty).
    function keysOf(col) {
      if (sortKeys[col]) return sortKeys[col];
      var found = rows.map(function (r) {
        var cell = r.cells[col - 1];
        if (cell == null) return null;
        var raw = typeof cell === "string" ? cell : cell[1];
        if (raw === null || raw === "") return null;
        if (numeric[col]) { var n = Number(raw); return isNaN(n) ? null : n; }
        return String(raw).toLowerCase();
      });
      sortKeys[col] = found;
      return found;
    }

    function rowTexts() {
      if (!texts) {
        texts = rows.map(function (r) { return r.cells.map(cellText).join("\u0000").toLowerCase(); });
      }
      return texts;
    }

    function isOpen(id) { return Object.prototype.hasOwnProperty.call(folds, id) ? folds[id] : filtering; }

    function foldButton(entry, name) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "fold";
      var open = isOpen(entry.row.id);
      button.setAttribute("aria-expanded", open ? "true" : "false");
      button.setAttribute("aria-label", (open ? "Hide" : "Show") + " the runs under " + name);
      return button;
    }

    function renderRow(entry) {
      var r = entry.row;
      var tr = document.createElement("tr");
      tr.setAttribute("data-run", r.id);
      if (r.parent) tr.setAttribute("data-parent", r.parent);
      tr.className = "depth-" + entry.depth;
      var pick = document.createElement("td");
      pick.className = "pick";
      var box = document.createElement("input");
      box.type = "checkbox";
      box.className = "run-pick";
      box.value = r.id;
      box.checked = !!selected[r.id];
      box.setAttribute("aria-label", "Select " + cellText(r.cells[0]) + " to compare");
      pick.appendChild(box);
      tr.appendChild(pick);
      for (var k = 0; k < r.cells.length; k++) {
        var td = document.createElement("td"), cell = r.cells[k], text = cellText(cell), col = k + 1;
        var names = [];
        if (keys[col] === "name") names.push("name");
        if (numeric[col]) names.push("num");
        if (entry.depth === 0 && col in best && keysOf(col)[r.index] === best[col]) names.push("best");
        if (hidden[col]) names.push("hidden-col");
        if (names.length) td.className = names.join(" ");
        if (typeof cell !== "string" && cell[2]) td.title = cell[2];
        if (keys[col] === "name") {
          if (entry.kids) td.appendChild(foldButton(entry, text));
          var a = document.createElement("a");
          a.href = link.replace("RUN_ID", encodeURIComponent(r.id));
          a.title = text;
          a.textContent = text;
          td.appendChild(a);
          if (r.archived) {  // its histories and files are in an archive store
            td.appendChild(document.createTextNode(" "));
            var mark = document.createElement("span");
            mark.className = "badge archived";
            mark.title = "Archived: its metric histories and files are in the archive";
            mark.textContent = "archived";
            td.appendChild(mark);
          }
          if (entry.kids) {
            var kids = document.createElement("span");
            kids.className = "kids";
            kids.textContent = entry.kids + (entry.kids === 1 ? " run" : " runs");
            td.appendChild(kids);
          }
        } else if (keys[col] === "status") {
          var badge = document.createElement("span");
          badge.className = "badge status-" + text.toLowerCase();
          badge.textContent = text;
          td.appendChild(badge);
        } else {
          td.textContent = text;
        }
        tr.appendChild(td);
      }
      return tr;
    }

    function rendered(from, to) {
      var frag = document.createDocumentFragment();
      for (var i = from; i < to; i++) frag.appendChild(renderRow(view[i]));
      return frag;
    }

    function showStatus() {
      if (status) {
        var total = rows.length, n = view.length;
        if (!filtering) {
          status.textContent = shown >= n ? "" :
            "Showing " + shown + " of " + n + (n === total ? " runs." : " rows (" + total + " runs).");
        } else if (shown < n) {
          status.textContent = "Showing " + shown + " of " + n + " matching runs (" + total + " in all).";
        } else {
          status.textContent = matched + " of " + total + " runs match.";
        }
      }
      if (moreBox) moreBox.hidden = shown >= view.length;
      if (empty) empty.hidden = view.length !== 0;
      table.setAttribute("data-shown", String(shown));
    }

    function showMore(count) {
      var end = Math.min(view.length, shown + count);
      tbody.appendChild(rendered(shown, end));
      shown = end;
      showStatus();
    }

    function render(count) {
      tbody.textContent = "";
      shown = 0;
      showMore(count);
    }

    // The parser's message once ("Invalid filter at position 14: ..."), and under it the
    // text with a caret at that position.
    function showMessage(text) {
      if (message) {
        message.textContent = "";
        message.hidden = !text;
        if (text) {
          var lines = text.split("\n");
          var first = /^Invalid /.test(lines[0]) ? lines[0] : "Invalid filter: " + lines[0];
          var says = document.createElement("span");
          says.className = "message-text";
          says.textContent = first;
          message.appendChild(says);
          if (lines.length > 1) {
            var where = document.createElement("pre");
            where.className = "message-where";
            where.textContent = lines.slice(1).join("\n");
            message.appendChild(where);
          }
        }
      }
      if (filter) {
        if (text) filter.setAttribute("aria-invalid", "true"); else filter.removeAttribute("aria-invalid");
      }
    }

    // The rows the filter keeps, in default order; null when the filter text is invalid.
    function filtered(text) {
      var q = text.trim();
      if (!q) return rows;
      if (isGrammar(q) && window.TrackerFilter) {
        var node;
        try {
          node = window.TrackerFilter.parse(q);
        } catch (err) {
          if (!(err instanceof window.TrackerFilter.FilterError)) throw err;
          showMessage(err.message);
          return null;
        }
        var runs = runsById();
        return rows.filter(function (r) {
          var run = runs[r.id];
          return !!run && window.TrackerFilter.matches(node, run);
        });
      }
      var needle = q.toLowerCase(), all = rowTexts();
      return rows.filter(function (r) { return all[r.index].indexOf(needle) !== -1; });
    }

    function ordered(list) {
      if (!sort) return list;
      var found = keysOf(sort.col), desc = sort.dir === "desc";
      return list.slice().sort(function (a, b) {
        var x = found[a.index], y = found[b.index];
        if (x === null || y === null) {
          if (x === y) return a.index - b.index;
          return x === null ? 1 : -1;  // missing values last in both directions
        }
        var c = x < y ? -1 : x > y ? 1 : 0;
        if (c === 0) return a.index - b.index;
        return desc ? -c : c;
      });
    }

    // The view of the kept rows: [{row, depth, kids}], parents followed by their open children.
    function arrange(kept) {
      var keep = {}, under = {};
      kept.forEach(function (r) { keep[r.id] = true; });
      tops = [];
      kept.forEach(function (r) {
        if (r.parent && keep[r.parent]) (under[r.parent] = under[r.parent] || []).push(r);
        else tops.push(r);
      });
      var out = [];
      function add(r, depth) {
        var kids = under[r.id] || [];
        out.push({ row: r, depth: depth, kids: kids.length });
        if (kids.length && isOpen(r.id)) ordered(kids).forEach(function (c) { add(c, depth + 1); });
      }
      ordered(tops).forEach(function (r) { add(r, 0); });
      return out;
    }

    // The best value of each metric column among the top-level rows of the view.
    function findBest() {
      best = {};
      better.forEach(function (dir, col) {
        if (!dir) return;
        var found = keysOf(col), value = null;
        tops.forEach(function (r) {
          var x = found[r.index];
          if (x === null || !isFinite(x)) return;
          if (value === null || (dir === "min" ? x < value : x > value)) value = x;
        });
        if (value !== null) best[col] = value;
      });
    }

    var lastKept = rows;
    function update(typing) {
      var kept = filtered(filter ? filter.value : "");
      if (kept === null) {
        if (typing) return;  // keep the last valid view while the filter is being typed
        kept = lastKept;
      } else {
        showMessage("");
        lastKept = kept;
      }
      filtering = kept !== rows;
      matched = kept.length;
      view = arrange(kept);
      findBest();
      render(CHUNK);
    }

    // Open or close a parent: only the rows under it change.
    function toggle(tr, open) {
      var at = tr.sectionRowIndex, depth = view[at].depth;
      function below() {
        var n = 0;
        while (at + 1 + n < view.length && view[at + 1 + n].depth > depth) n++;
        return n;
      }
      var gone = Math.min(below(), shown - at - 1);
      folds[view[at].row.id] = open;
      view = arrange(lastKept);
      for (var i = 0; i < gone; i++) tbody.removeChild(tbody.rows[at + 1]);
      var count = below();
      tbody.insertBefore(rendered(at + 1, at + 1 + count), tbody.rows[at + 1] || null);
      shown += count - gone;
      var button = tr.querySelector("button.fold");
      var name = cellText(view[at].row.cells[0]);
      button.setAttribute("aria-expanded", open ? "true" : "false");
      button.setAttribute("aria-label", (open ? "Hide" : "Show") + " the runs under " + name);
      showStatus();
    }

    tbody.addEventListener("click", function (event) {
      var button = event.target.closest ? event.target.closest("button.fold") : null;
      if (!button || !tbody.contains(button)) return;
      toggle(button.closest("tr"), button.getAttribute("aria-expanded") !== "true");
    });

    function setSort(col, dir) {
      var th = headers[col];
      if (!th || !th.querySelector("button")) return false;
      headers.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
      th.setAttribute("aria-sort", dir === "desc" ? "descending" : "ascending");
      sort = { col: col, dir: dir };
      return true;
    }

    function setHidden(col, hide) {
      if (hide) hidden[col] = true; else delete hidden[col];
      Array.prototype.forEach.call(table.rows, function (row) {
        if (row.cells[col]) row.cells[col].classList.toggle("hidden-col", hide);
      });
    }

    function keyOf(el) { return encodeURIComponent(el.getAttribute("data-key") || ""); }

    // a column named in a link: its key (or, in older links, its number)
    function columnOf(name) {
      var found = -1;
      headers.forEach(function (th, col) { if (keyOf(th) === name) found = col; });
      if (found < 0 && /^\d+$/.test(name)) found = parseInt(name, 10);
      return found;
    }

    function hiddenByDefault(box) { return box.hasAttribute("data-hidden"); }

    // the columns the reader hid (hide=) and the hidden-by-default ones they showed (show=)
    function columnState() {
      return {
        hide: boxes.filter(function (b) { return !b.checked && !hiddenByDefault(b); }).map(keyOf).join(","),
        show: boxes.filter(function (b) { return b.checked && hiddenByDefault(b); }).map(keyOf).join(","),
      };
    }

    headers.forEach(function (th, col) {
      var button = th.querySelector("button");
      if (!button) return;
      button.addEventListener("click", function () {
        var dir = th.getAttribute("aria-sort") === "ascending" ? "desc" : "asc";
        setSort(col, dir);
        update();
        writeHash({ sort: keyOf(th) + ":" + dir });
      });
    });
    if (filter) {
      filter.addEventListener("input", function () {
        update(true);
        writeHash({ filter: filter.value });
      });
    }
    boxes.forEach(function (box) {
      box.addEventListener("change", function () {
        setHidden(parseInt(box.getAttribute("data-col"), 10), !box.checked);
        writeHash(columnState());
      });
    });
    if (moreBox) {
      var more = moreBox.querySelector(".show-more"), all = moreBox.querySelector(".show-all");
      if (more) more.addEventListener("click", function () { showMore(CHUNK * 5); });
      if (all) all.addEventListener("click", function () { showMore(view.length); });
      // Scrolling to the end of the table brings the next rows.
      if (more && typeof IntersectionObserver === "function") {
        new IntersectionObserver(function (entries) {
          if (entries.some(function (e) { return e.isIntersecting; }) && shown < view.length) {
            showMore(CHUNK);
          }
        }, { rootMargin: "200px" }).observe(more);
      }
    }

    // restore a shared view (on load, and when a pasted link changes only the hash)
    function restore() {
      var state = readHash();
      var hide = (state.hide || "").split(","), show = (state.show || "").split(",");
      boxes.forEach(function (box) {
        var col = parseInt(box.getAttribute("data-col"), 10), key = keyOf(box);
        var off = hide.indexOf(key) >= 0 || hide.indexOf(String(col)) >= 0 ||
          (hiddenByDefault(box) && show.indexOf(key) < 0);
        box.checked = !off;
        setHidden(col, off);
      });
      sort = null;
      headers.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
      var chosen = false;
      if (state.sort) {
        var at = state.sort.lastIndexOf(":");
        var name = at < 0 ? state.sort : state.sort.slice(0, at);
        chosen = setSort(columnOf(name), state.sort.slice(at + 1) === "desc" ? "desc" : "asc");
      }
      if (!chosen && defaultSort) {  // the rows' own order: shown, not sorted again
        headers[defaultSort.col].setAttribute("aria-sort", defaultSort.dir === "desc" ? "descending" : "ascending");
      }
      if (filter) filter.value = state.filter || "";
      update();
    }
    window.addEventListener("hashchange", restore);
    restore();
    table.setAttribute("data-ready", "true");
  }


  function updateCompareLink(selected) {
    var link = document.querySelector("a.compare-link");
    if (!link) return;
    var ids = Object.keys(selected);
    link.href = link.getAttribute("data-base") + (ids.length ? "#runs=" + ids.join(",") : "");
    link.setAttribute("aria-disabled", ids.length < 2 ? "true" : "false");
    var count = link.querySelector(".compare-count");
    if (count) count.textContent = String(ids.length);
  }


  // shared with charts.js (loaded after this file)
  window.TrackerPage = { readJson: readJson, readHash: readHash, writeHash: writeHash };

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), setupTable);
  });
})();
