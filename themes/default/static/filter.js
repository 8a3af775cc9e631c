/* tracker-report filter grammar: the `search_runs` filter of reporter/store/filter.py, ported
   to the browser so a page can filter its runs with the same text the Python API takes.

     window.TrackerFilter.parse(text)            -> node, or null for no filter (null/blank)
     window.TrackerFilter.matches(node, row)     -> bool (a null node matches every row)
     window.TrackerFilter.filterRows(rows, text) -> the rows that match, in order
     window.TrackerFilter.parseOrderBy(clauses)  -> [[column, ascending], ...]
     window.TrackerFilter.FilterError            -> thrown on bad text; .message, .position
                                                    and .text are the Python error's

   A row is a plain object keyed like the search_runs frame: run_id, status, start_time,
   "metrics.rmse", "params.depth", "tags.team"... A missing key, null or undefined is absent;
   NaN is absent too except in metrics, where it is a logged NaN (IS NOT NULL holds, no
   comparison matches). JSON cannot spell NaN: a metric given as the string "NaN" behaves the
   same way, as it does in Python. Positions count code points, as Python does.

   Plain ES5 in an IIFE: no modules, no fetch(), works from file://. Unicode character classes
   use \p{...} when the engine has it (built with new RegExp so that older engines still parse
   this file) and fall back to ASCII-ish approximations otherwise. */
(function (root) {
  "use strict";

  // ---- grammar tables (as in filter.py) ----------------------------------------------------
  var ENTITIES = {
    metrics: "metrics", metric: "metrics",
    params: "params", param: "params", parameters: "params", parameter: "params",
    tags: "tags", tag: "tags",
    attributes: "attributes", attribute: "attributes", attr: "attributes", run: "attributes",
    datasets: "datasets", dataset: "datasets"
  };
  var ENTITY_NAMES = "metrics, params, tags, attributes, datasets " +
    "(or metric, param, tag, attribute, attr, run, dataset)";
  // A run has any number of datasets: a row holds an array per key, and a comparison holds
  // when it holds for one of them (MLflow's rule).
  var DATASET_KEYS = ["name", "digest", "context"];
  var STRING_ATTRIBUTES = ["run_id", "run_name", "status", "user_id", "artifact_uri",
    "lifecycle_stage", "experiment_id", "parent_run_id"];
  var NUMERIC_ATTRIBUTES = ["start_time", "end_time"];
  var ATTRIBUTES = STRING_ATTRIBUTES.concat(NUMERIC_ATTRIBUTES);
  var ATTRIBUTE_ALIASES = {
    run_uuid: "run_id", created: "start_time", Created: "start_time",
    "run name": "run_name", "Run name": "run_name", "Run Name": "run_name"
  };
  var NUMERIC_OPS = ["=", "!=", "<", "<=", ">", ">="];
  var STRING_OPS = ["=", "!=", "LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE", "IN", "NOT IN"];
  var NULL_OPS = ["IS NULL", "IS NOT NULL"];
  var NEGATED_OPS = ["!=", "NOT LIKE", "NOT ILIKE", "NOT IN"];
  var COMPARATORS = "=, !=, <, <=, >, >=, LIKE, ILIKE, NOT LIKE, NOT ILIKE, IN, NOT IN, IS NULL";
  var OP_ALIASES = { "==": "=", "<>": "!=" };
  var PUNCTUATION = { "(": "(", ")": ")", ",": "comma" };

  function has(map, key) { return Object.prototype.hasOwnProperty.call(map, key); }
  function get(map, key, fallback) { return has(map, key) ? map[key] : fallback; }
  function contains(list, item) { return list.indexOf(item) >= 0; }

  // ---- code points and Python's character classes ------------------------------------------
  // Python indexes strings by code point; JavaScript by UTF-16 unit. Everything here works on
  // arrays of code points so that positions and "one character" agree with Python.
  function codePoints(text) {
    var cps = [], chars = [];
    for (var i = 0; i < text.length; i++) {
      var c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        var d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          cps.push((c - 0xd800) * 0x400 + (d - 0xdc00) + 0x10000);
          chars.push(text.charAt(i) + text.charAt(i + 1));
          i++;
          continue;
        }
      }
      cps.push(c);
      chars.push(text.charAt(i));
    }
    return { cps: cps, chars: chars };
  }

  function fromCodePoint(cp) {
    if (cp < 0x10000) return String.fromCharCode(cp);
    cp -= 0x10000;
    return String.fromCharCode(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
  }

  function firstCodePoint(text) { return codePoints(text).cps[0]; }

  function inRanges(cp, ranges) {
    for (var i = 0; i < ranges.length; i += 2) {
      if (cp >= ranges[i] && cp <= ranges[i + 1]) return true;
    }
    return false;
  }

  // str.isspace() (and re's \s): fixed since Unicode 6.
  var SPACE = [0x9, 0xd, 0x1c, 0x20, 0x85, 0x85, 0xa0, 0xa0, 0x1680, 0x1680, 0x2000, 0x200a,
    0x2028, 0x2029, 0x202f, 0x202f, 0x205f, 0x205f, 0x3000, 0x3000];
  // str.isdigit() beyond category Nd: superscripts, circled digits... (Numeric_Type=Digit).
  var DIGIT_EXTRA = [0xb2, 0xb3, 0xb9, 0xb9, 0x1369, 0x1371, 0x19da, 0x19da, 0x2070, 0x2070,
    0x2074, 0x2079, 0x2080, 0x2089, 0x2460, 0x2468, 0x2474, 0x247c, 0x2488, 0x2490,
    0x24ea, 0x24ea, 0x24f5, 0x24fd, 0x24ff, 0x24ff, 0x2776, 0x277e, 0x2780, 0x2788,
    0x278a, 0x2792, 0x10a40, 0x10a43, 0x10e60, 0x10e68, 0x11052, 0x1105a, 0x1f100, 0x1f10a];

  function unicodeClass(source, fallback) {
    var re = null;
    try { re = new RegExp("^" + source + "$", "u"); } catch (e) { re = null; }
    if (re === null) return fallback;
    return function (cp) { return re.test(fromCodePoint(cp)); };
  }

  function isCasedLetter(cp) {
    var ch = fromCodePoint(cp);
    return ch.toLowerCase() !== ch.toUpperCase();
  }

  // re's \d: category Nd.
  var isDecimal = unicodeClass("\\p{Nd}", function (cp) { return cp >= 0x30 && cp <= 0x39; });
  // str.isalnum(), and re's \w minus "_": categories L* and N*.
  var isAlnum = unicodeClass("[\\p{L}\\p{N}]", function (cp) {
    return (cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) ||
      (cp >= 0x61 && cp <= 0x7a) || (cp > 0x7f && isCasedLetter(cp));
  });
  // not str.isprintable(): categories C*, Z* (the space aside).
  var isUnprintable = unicodeClass("[\\p{Cc}\\p{Cf}\\p{Cs}\\p{Co}\\p{Cn}\\p{Zl}\\p{Zp}\\p{Zs}]",
    function (cp) {
      return cp < 0x20 || (cp >= 0x7f && cp <= 0xa0) || cp === 0xad ||
        (cp >= 0xd800 && cp <= 0xdfff) || inRanges(cp, SPACE);
    });

  function isSpace(cp) { return inRanges(cp, SPACE); }
  function isDigit(cp) { return isDecimal(cp) || inRanges(cp, DIGIT_EXTRA); }
  function isWordChar(cp) { return cp === 0x5f || isAlnum(cp); }          // \w
  function isWordStart(cp) { return isWordChar(cp) && !isDecimal(cp); }   // [^\W\d]

  function decimalValue(cp) {
    if (cp >= 0x30 && cp <= 0x39) return cp - 0x30;
    var start = cp;  // Nd digits come in runs of 0..9
    while (start > 0 && isDecimal(start - 1)) start--;
    return (cp - start) % 10;
  }

  function hex(cp, width) {
    var s = cp.toString(16);
    while (s.length < width) s = "0" + s;
    return s;
  }

  // Python's repr() of a str.
  function pyRepr(text) {
    var cps = codePoints(text).cps;
    var quote = text.indexOf("'") >= 0 && text.indexOf("\"") < 0 ? "\"" : "'";
    var out = quote;
    for (var i = 0; i < cps.length; i++) {
      var cp = cps[i], ch = fromCodePoint(cp);
      if (ch === quote || ch === "\\") out += "\\" + ch;
      else if (cp === 0x9) out += "\\t";
      else if (cp === 0xa) out += "\\n";
      else if (cp === 0xd) out += "\\r";
      else if (cp < 0x20 || cp === 0x7f) out += "\\x" + hex(cp, 2);
      else if (cp < 0x7f || !isUnprintable(cp)) out += ch;
      else if (cp <= 0xff) out += "\\x" + hex(cp, 2);
      else if (cp <= 0xffff) out += "\\u" + hex(cp, 4);
      else out += "\\U" + hex(cp, 8);
    }
    return out + quote;
  }

  function pyTypeName(value) {
    if (value === null || value === undefined) return "NoneType";
    if (typeof value === "number") return isInteger(value) ? "int" : "float";
    if (typeof value === "boolean") return "bool";
    if (Object.prototype.toString.call(value) === "[object Array]") return "list";
    if (typeof value === "object") return "dict";
    return typeof value;
  }

  function isInteger(x) { return typeof x === "number" && isFinite(x) && Math.floor(x) === x; }

  function repeat(ch, n) {
    var s = "";
    for (var i = 0; i < n; i++) s += ch;
    return s;
  }

  // ---- errors -----------------------------------------------------------------------------
  function FilterError(message, text, position) {
    this.name = "FilterError";
    this.message = message;
    this.text = text === undefined ? "" : text;
    this.position = position === undefined ? null : position;
    var err = new Error(message);
    if (err.stack) this.stack = err.stack;
  }
  FilterError.prototype = Object.create(Error.prototype);
  FilterError.prototype.constructor = FilterError;
  FilterError.prototype.toString = function () { return this.name + ": " + this.message; };

  // The message, the text with its whitespace as spaces, and a caret under the position.
  function fail(source, position, message, label) {
    var shown = source.cps.map(function (cp, i) {
      return isSpace(cp) ? " " : source.chars[i];
    }).join("");
    return new FilterError(
      "Invalid " + label + " at position " + position + ": " + message + "\n  " + shown +
        "\n  " + repeat(" ", position) + "^",
      source.text, position);
  }

  // ---- tokens -----------------------------------------------------------------------------
  // kind: ident, word, number, string, op, (, ), comma or end; length is in code points.
  function Token(kind, text, position, value, length, keyPosition) {
    this.kind = kind;
    this.text = text;
    this.position = position;
    this.value = value === undefined ? "" : value;
    this.length = length;
    this.keyPosition = keyPosition || 0;
  }

  function slice(source, start, end) { return source.chars.slice(start, end).join(""); }

  // A quoted run at start ('' or a backslash escapes the quote): [value, end].
  function readQuoted(source, start, label) {
    var cps = source.cps, chars = source.chars;
    var quote = chars[start], out = [], i = start + 1;
    while (i < cps.length) {
      var ch = chars[i], nxt = i + 1 < cps.length ? chars[i + 1] : "";
      if (ch === "\\" && (nxt === quote || nxt === "\\")) {
        out.push(nxt);
        i += 2;
      } else if (ch === quote && nxt === quote) {
        out.push(quote);
        i += 2;
      } else if (ch === quote) {
        return [out.join(""), i + 1];
      } else {
        out.push(ch);
        i += 1;
      }
    }
    throw fail(source, start, "unterminated " + quote + "-quoted text", label);
  }

  // [-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)? at start: the end, or -1.
  function matchNumber(cps, start) {
    var i = start, n = cps.length;
    if (i < n && (cps[i] === 0x2d || cps[i] === 0x2b)) i++;
    if (i < n && isDecimal(cps[i])) {
      while (i < n && isDecimal(cps[i])) i++;
      if (i < n && cps[i] === 0x2e) i++;
      while (i < n && isDecimal(cps[i])) i++;
    } else if (i + 1 < n && cps[i] === 0x2e && isDecimal(cps[i + 1])) {
      i++;
      while (i < n && isDecimal(cps[i])) i++;
    } else {
      return -1;
    }
    if (i < n && (cps[i] === 0x65 || cps[i] === 0x45)) {
      var j = i + 1;
      if (j < n && (cps[j] === 0x2d || cps[j] === 0x2b)) j++;
      if (j < n && isDecimal(cps[j])) {
        while (j < n && isDecimal(cps[j])) j++;
        i = j;
      }
    }
    return i;
  }

  function readNumber(source, start, label) {
    var cps = source.cps, end = matchNumber(cps, start);
    if (end < 0 || (end < cps.length &&
        (isAlnum(cps[end]) || cps[end] === 0x2e || cps[end] === 0x5f))) {
      throw fail(source, start, "malformed number", label);
    }
    var text = slice(source, start, end);
    return new Token("number", text, start, text, end - start);
  }

  // A keyword or bare attribute, or an identifier entity.key.
  function readWord(source, start, label) {
    var cps = source.cps, end = start + 1;
    while (end < cps.length && isWordChar(cps[end])) end++;
    var word = slice(source, start, end);
    if (end >= cps.length || cps[end] !== 0x2e) {
      return new Token("word", word, start, word, end - start);
    }
    var keyStart = end + 1, key, keyEnd;
    if (keyStart < cps.length && "'\"`".indexOf(source.chars[keyStart]) >= 0) {
      var quoted = readQuoted(source, keyStart, label);
      key = quoted[0];
      keyEnd = quoted[1];
    } else {
      keyEnd = keyStart;  // [^\s()<>=!,'"`]+
      while (keyEnd < cps.length && !isSpace(cps[keyEnd]) &&
             "()<>=!,'\"`".indexOf(source.chars[keyEnd]) < 0) keyEnd++;
      if (keyEnd === keyStart) {
        throw fail(source, keyStart, "expected a key after '" + word + ".'", label);
      }
      key = slice(source, keyStart, keyEnd);
    }
    if (!key) throw fail(source, keyStart, "empty key", label);
    return new Token("ident", slice(source, start, keyEnd), start, key, keyEnd - start, keyStart);
  }

  var TWO_CHAR_OPS = ["<=", ">=", "!=", "<>", "=="];

  function nextToken(source, pos, label) {
    var cps = source.cps, chars = source.chars;
    var ch = chars[pos], nxtCp = pos + 1 < cps.length ? cps[pos + 1] : -1;
    if (ch === "'" || ch === "\"") {
      var quoted = readQuoted(source, pos, label);
      var text = slice(source, pos, quoted[1]);
      return new Token("string", text, pos, quoted[0], quoted[1] - pos);
    }
    if (has(PUNCTUATION, ch)) return new Token(PUNCTUATION[ch], ch, pos, ch, 1);
    var two = pos + 1 < cps.length ? ch + chars[pos + 1] : "";
    if (contains(TWO_CHAR_OPS, two)) return new Token("op", two, pos, get(OP_ALIASES, two, two), 2);
    if (ch === "=" || ch === "<" || ch === ">") return new Token("op", ch, pos, ch, 1);
    if (isDigit(cps[pos]) || ((ch === "-" || ch === "+" || ch === ".") &&
        ((nxtCp >= 0 && isDigit(nxtCp)) || (nxtCp === 0x2e && ch !== ".")))) {
      return readNumber(source, pos, label);
    }
    if (isWordStart(cps[pos])) return readWord(source, pos, label);
    if (ch === "`") {
      throw fail(source, pos, "a backtick-quoted key must follow its entity: metrics.`a b`",
        label);
    }
    throw fail(source, pos, "unexpected character " + pyRepr(ch), label);
  }

  // Split a filter (or order_by clause) into tokens, ending with an `end` token.
  function tokenize(source, label) {
    var tokens = [], pos = 0, n = source.cps.length;
    while (pos < n) {
      if (isSpace(source.cps[pos])) {
        pos++;
        continue;
      }
      var tok = nextToken(source, pos, label);
      tokens.push(tok);
      pos = tok.position + tok.length;
    }
    tokens.push(new Token("end", "", n, "", 0));
    return tokens;
  }

  function describe(tok) {
    if (tok.kind === "end") return "end of text";
    if (tok.kind === "string") return "string " + pyRepr(tok.value);
    if (tok.kind === "number") return "number " + tok.text;
    return pyRepr(tok.text);
  }

  // ---- parser -----------------------------------------------------------------------------
  function isNumeric(entity, key) {
    return entity === "metrics" || (entity === "attributes" && contains(NUMERIC_ATTRIBUTES, key));
  }

  function allowedOps(entity, key) {
    if (entity === "datasets") return STRING_OPS.slice();
    return (isNumeric(entity, key) ? NUMERIC_OPS : STRING_OPS).concat(NULL_OPS);
  }

  function columnFor(entity, key) {
    var canonical = get(ENTITIES, String(entity).toLowerCase(), null);
    if (canonical === null) {
      throw new FilterError("Unknown entity " + pyRepr(String(entity)) + "; valid: " +
        ENTITY_NAMES);
    }
    if (canonical === "attributes") return get(ATTRIBUTE_ALIASES, key, key);
    return canonical + "." + key;
  }

  function comparisonNode(entity, key, op, value, position) {
    return { type: "comparison", entity: entity, key: key, op: op, value: value,
      position: position, column: columnFor(entity, key) };
  }

  function Parser(text, label) {
    this.label = label || "filter";
    var split = codePoints(text);
    this.source = { text: text, cps: split.cps, chars: split.chars };
    this.tokens = tokenize(this.source, this.label);
    this.i = 0;
  }

  Parser.prototype.peek = function (offset) {
    return this.tokens[Math.min(this.i + (offset || 0), this.tokens.length - 1)];
  };

  Parser.prototype.take = function () {
    var tok = this.peek();
    this.i = Math.min(this.i + 1, this.tokens.length - 1);
    return tok;
  };

  Parser.prototype.isKeyword = function (word, offset) {
    var tok = this.peek(offset);
    return tok.kind === "word" && tok.text.toUpperCase() === word;
  };

  Parser.prototype.fail = function (position, message) {
    return fail(this.source, position, message, this.label);
  };

  Parser.prototype.expected = function (tok, what) {
    return this.fail(tok.position, "expected " + what + ", got " + describe(tok));
  };

  Parser.prototype.parse = function () {
    var node = this.orExpr();
    if (this.peek().kind !== "end") {
      throw this.expected(this.peek(), "AND, OR or the end of the filter");
    }
    return node;
  };

  Parser.prototype.orExpr = function () {
    var children = [this.andExpr()];
    while (this.isKeyword("OR")) {
      this.take();
      children.push(this.andExpr());
    }
    return children.length === 1 ? children[0] : { type: "or", children: children };
  };

  Parser.prototype.andExpr = function () {
    var children = [this.atom()];
    while (this.isKeyword("AND")) {
      this.take();
      children.push(this.atom());
    }
    return children.length === 1 ? children[0] : { type: "and", children: children };
  };

  var MAX_DEPTH = 100; // nested parentheses, as filter.py allows

  Parser.prototype.atom = function () {
    if (this.peek().kind !== "(") return this.comparison();
    var open = this.take();
    this.depth = (this.depth || 0) + 1;
    if (this.depth > MAX_DEPTH) {
      throw this.fail(open.position, "parentheses are nested more than " + MAX_DEPTH + " deep");
    }
    var node = this.orExpr();
    if (this.peek().kind !== ")") throw this.expected(this.peek(), "AND, OR or ')'");
    this.take();
    this.depth -= 1;
    return node;
  };

  // entity.key or a bare attribute: [entity, key, token].
  Parser.prototype.identifier = function () {
    var tok = this.take();
    if (tok.kind === "word" && contains(ATTRIBUTES, get(ATTRIBUTE_ALIASES, tok.text, tok.text))) {
      return ["attributes", get(ATTRIBUTE_ALIASES, tok.text, tok.text), tok];
    }
    if (tok.kind !== "ident") {
      throw this.expected(tok,
        "an identifier such as metrics.rmse, params.depth, tags.team or status");
    }
    var prefix = tok.text.slice(0, tok.text.indexOf("."));
    var entity = get(ENTITIES, prefix.toLowerCase(), null);
    if (entity === null) {
      throw this.fail(tok.position,
        "unknown entity " + pyRepr(prefix) + "; valid: " + ENTITY_NAMES);
    }
    var key = tok.value;
    if (entity === "attributes") {
      key = get(ATTRIBUTE_ALIASES, key, key);
      if (!contains(ATTRIBUTES, key)) {
        throw this.fail(tok.keyPosition,
          "unknown attribute " + pyRepr(key) + "; valid: " + ATTRIBUTES.join(", "));
      }
    } else if (entity === "datasets" && !contains(DATASET_KEYS, key)) {
      throw this.fail(tok.keyPosition,
        "unknown dataset key " + pyRepr(key) + "; valid: " + DATASET_KEYS.join(", "));
    }
    return [entity, key, tok];
  };

  // A comparator, including the two- and three-word ones: [op, token].
  Parser.prototype.comparator = function () {
    var tok = this.peek();
    var word = tok.kind === "word" ? tok.text.toUpperCase() : "";
    if (tok.kind === "op") {
      this.take();
      return [tok.value, tok];
    }
    if (word === "LIKE" || word === "ILIKE" || word === "IN") {
      this.take();
      return [word, tok];
    }
    if (word === "NOT" &&
        (this.isKeyword("LIKE", 1) || this.isKeyword("ILIKE", 1) || this.isKeyword("IN", 1))) {
      this.take();
      return ["NOT " + this.take().text.toUpperCase(), tok];
    }
    if (word === "IS") {
      this.take();
      var negated = this.isKeyword("NOT");
      if (negated) this.take();
      if (!this.isKeyword("NULL")) {
        throw this.expected(this.peek(), negated ? "NULL" : "NULL or NOT NULL");
      }
      this.take();
      return [negated ? "IS NOT NULL" : "IS NULL", tok];
    }
    throw this.expected(tok, "a comparator (" + COMPARATORS + ")");
  };

  Parser.prototype.comparison = function () {
    var ident = this.identifier(), entity = ident[0], key = ident[1], identTok = ident[2];
    var comp = this.comparator(), op = comp[0], opTok = comp[1];
    var allowed = allowedOps(entity, key);
    if (!contains(allowed, op)) {
      throw this.fail(opTok.position,
        identTok.text + " does not support " + op + "; valid: " + allowed.join(", "));
    }
    var value = null;
    if (op === "IN" || op === "NOT IN") value = this.stringList();
    else if (!contains(NULL_OPS, op)) value = this.scalar(identTok.text, isNumeric(entity, key));
    return comparisonNode(entity, key, op, value, identTok.position);
  };

  Parser.prototype.scalar = function (name, numeric) {
    var tok = this.take();
    if (numeric && tok.kind === "number") return numberValue(tok.value);
    if (!numeric && tok.kind === "string") return tok.value;
    var what = numeric ? "a number" : "a quoted string such as '8'";
    throw this.fail(tok.position, name + " expects " + what + ", got " + describe(tok));
  };

  Parser.prototype.stringList = function () {
    var tok = this.take();
    if (tok.kind !== "(") throw this.expected(tok, "'(' to start a list of quoted strings");
    var values = [];
    for (;;) {
      var item = this.take();
      if (item.kind !== "string") throw this.expected(item, "a quoted string");
      values.push(item.value);
      var sep = this.take();
      if (sep.kind === ")") return values;
      if (sep.kind !== "comma") throw this.expected(sep, "',' or ')'");
    }
  };

  // float() of a number token: Unicode decimal digits count, as in Python.
  function numberValue(text) {
    var cps = codePoints(text).cps, ascii = "";
    for (var i = 0; i < cps.length; i++) {
      ascii += isDecimal(cps[i]) ? String(decimalValue(cps[i])) : fromCodePoint(cps[i]);
    }
    return Number(ascii);
  }

  // Parse a filter string; null, undefined or a blank string means no filter.
  function parse(text) {
    if (text === null || text === undefined) return null;
    if (typeof text !== "string") {
      throw new FilterError("filter_string must be a string, got " + pyTypeName(text));
    }
    var cps = codePoints(text).cps, blank = true;
    for (var i = 0; i < cps.length && blank; i++) blank = isSpace(cps[i]);
    if (blank) return null;
    return new Parser(text, "filter").parse();
  }

  // ---- row-wise semantics (filter.py's `matches`) ------------------------------------------
  // float(value) for a present value: null when Python would raise.
  function pyFloat(value) {
    if (typeof value === "number") return value;
    if (typeof value === "boolean") return value ? 1 : 0;
    if (typeof value !== "string") return null;
    var cps = codePoints(value).cps, ascii = "";
    for (var i = 0; i < cps.length; i++) {
      var cp = cps[i];
      if (isSpace(cp)) ascii += " ";
      else if (isDecimal(cp)) ascii += String(decimalValue(cp));
      else if (cp < 0x80) ascii += fromCodePoint(cp);
      else return null;
    }
    ascii = ascii.replace(/^[ \t\n\r\x0b\x0c]+|[ \t\n\r\x0b\x0c]+$/g, "");
    var special = /^([+-]?)(inf|infinity|nan)$/i.exec(ascii);
    if (special) {
      if (special[2].toLowerCase() === "nan") return NaN;
      return special[1] === "-" ? -Infinity : Infinity;
    }
    var digits = "\\d(?:_?\\d)*";
    var grammar = new RegExp("^[+-]?(?:" + digits + "(?:\\.(?:" + digits + ")?)?|\\." + digits +
      ")(?:[eE][+-]?" + digits + ")?$");
    if (!grammar.test(ascii)) return null;
    return Number(ascii.replace(/_/g, ""));
  }

  // repr() of a float, as Python writes it (shortest round trip; 1e+16, 1e-05, 1.0).
  function floatRepr(x) {
    var m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(x.toExponential());
    var sign = m[1], digits = m[2] + (m[3] || ""), exp = parseInt(m[4], 10);
    if (exp < -4 || exp >= 16) {
      var mantissa = digits.charAt(0) + (digits.length > 1 ? "." + digits.slice(1) : "");
      var abs = Math.abs(exp);
      return sign + mantissa + "e" + (exp < 0 ? "-" : "+") + (abs < 10 ? "0" : "") + abs;
    }
    if (exp < 0) return sign + "0." + repeat("0", -exp - 1) + digits;
    while (digits.length < exp + 1) digits += "0";
    return sign + digits.slice(0, exp + 1) + "." + (digits.slice(exp + 1) || "0");
  }

  // str(value) for a present value. JSON has one number type: integral values below 1e16
  // read as Python ints ("3"), others as floats ("0.5", "1e+16").
  function pyStr(value) {
    if (typeof value === "string") return value;
    if (typeof value === "boolean") return value ? "True" : "False";
    if (typeof value === "number") {
      if (value !== value) return "nan";
      if (value === Infinity) return "inf";
      if (value === -Infinity) return "-inf";
      if (isInteger(value) && Math.abs(value) < 1e16) return String(value);
      return floatRepr(value);
    }
    return String(value);
  }

  function isAbsent(value, entity) {
    if (value === null || value === undefined) return true;
    return entity !== "metrics" && typeof value === "number" && value !== value;
  }

  function compareNumber(op, value, target) {
    var number = pyFloat(value);
    if (number === null || number !== number) return false;
    switch (op) {
      case "=": return number === target;
      case "!=": return number !== target;
      case "<": return number < target;
      case "<=": return number <= target;
      case ">": return number > target;
      case ">=": return number >= target;
      default: return false;
    }
  }

  // re.IGNORECASE on a literal, as Python's sre does it: the lowercase forms (first code point
  // of toLowerCase) are equal, or the pair is one of re/_casefix.py's extra cases.
  var EXTRA_CASES = {
    0x69: [0x131], 0x73: [0x17f], 0xb5: [0x3bc], 0x131: [0x69], 0x17f: [0x73],
    0x345: [0x3b9, 0x1fbe], 0x390: [0x1fd3], 0x3b0: [0x1fe3], 0x3b2: [0x3d0], 0x3b5: [0x3f5],
    0x3b8: [0x3d1], 0x3b9: [0x345, 0x1fbe], 0x3ba: [0x3f0], 0x3bc: [0xb5], 0x3c0: [0x3d6],
    0x3c1: [0x3f1], 0x3c2: [0x3c3], 0x3c3: [0x3c2], 0x3c6: [0x3d5], 0x3d0: [0x3b2],
    0x3d1: [0x3b8], 0x3d5: [0x3c6], 0x3d6: [0x3c0], 0x3f0: [0x3ba], 0x3f1: [0x3c1],
    0x3f5: [0x3b5], 0x432: [0x1c80], 0x434: [0x1c81], 0x43e: [0x1c82], 0x441: [0x1c83],
    0x442: [0x1c84, 0x1c85], 0x44a: [0x1c86], 0x463: [0x1c87], 0x1c80: [0x432],
    0x1c81: [0x434], 0x1c82: [0x43e], 0x1c83: [0x441], 0x1c84: [0x442, 0x1c85],
    0x1c85: [0x442, 0x1c84], 0x1c86: [0x44a], 0x1c87: [0x463], 0x1c88: [0xa64b],
    0x1e61: [0x1e9b], 0x1e9b: [0x1e61], 0x1fbe: [0x345, 0x3b9], 0x1fd3: [0x390],
    0x1fe3: [0x3b0], 0xa64b: [0x1c88], 0xfb05: [0xfb06], 0xfb06: [0xfb05]
  };

  function lower1(cp) { return firstCodePoint(fromCodePoint(cp).toLowerCase()); }
  function upper1(cp) { return firstCodePoint(fromCodePoint(cp).toUpperCase()); }

  function sameLetter(patternCp, cp, ignoreCase) {
    if (patternCp === cp) return true;
    if (!ignoreCase) return false;
    var lo = lower1(patternCp);
    if (lo === patternCp && upper1(patternCp) === patternCp) return false;  // not cased
    var other = lower1(cp);
    return other === lo || (has(EXTRA_CASES, lo) && contains(EXTRA_CASES[lo], other));
  }

  var likeCache = {}, likeCacheSize = 0;

  function likePattern(pattern) {
    var key = "p" + pattern;
    if (!has(likeCache, key)) {
      if (likeCacheSize >= 256) {
        likeCache = {};
        likeCacheSize = 0;
      }
      likeCache[key] = codePoints(pattern).cps;
      likeCacheSize++;
    }
    return likeCache[key];
  }

  // SQL LIKE as a full match: % any run, _ one character, the rest literal.
  function likeMatch(pattern, text, ignoreCase) {
    var p = likePattern(pattern), t = codePoints(text).cps;
    var pi = 0, ti = 0, starP = -1, starT = 0;
    while (ti < t.length) {
      if (pi < p.length && p[pi] === 0x25) {
        starP = pi++;
        starT = ti;
      } else if (pi < p.length && (p[pi] === 0x5f || sameLetter(p[pi], t[ti], ignoreCase))) {
        pi++;
        ti++;
      } else if (starP >= 0) {
        pi = starP + 1;
        ti = ++starT;
      } else {
        return false;
      }
    }
    while (pi < p.length && p[pi] === 0x25) pi++;
    return pi === p.length;
  }

  function compareText(op, text, target) {
    var hit;
    if (op === "IN" || op === "NOT IN") hit = contains(target, text);
    else if (op.indexOf("LIKE") >= 0) hit = likeMatch(String(target), text, op.indexOf("ILIKE") >= 0);
    else hit = text === target;
    return hit !== contains(NEGATED_OPS, op);
  }

  // Evaluate a parsed filter on one row (a null node matches every row).
  function matches(node, row) {
    if (node === null || node === undefined) return true;
    var i;
    if (node.type === "and") {
      for (i = 0; i < node.children.length; i++) if (!matches(node.children[i], row)) return false;
      return true;
    }
    if (node.type === "or") {
      for (i = 0; i < node.children.length; i++) if (matches(node.children[i], row)) return true;
      return false;
    }
    var value = row !== null && row !== undefined && has(row, node.column) ?
      row[node.column] : undefined;
    if (node.entity === "datasets") {
      var values = Object.prototype.toString.call(value) === "[object Array]" ? value :
        (isAbsent(value, node.entity) ? [] : [value]);
      for (i = 0; i < values.length; i++) {
        if (compareText(node.op, pyStr(values[i]), node.value)) return true;
      }
      return false;
    }
    var absent = isAbsent(value, node.entity);
    if (node.op === "IS NULL" || node.op === "IS NOT NULL") {
      return absent === (node.op === "IS NULL");
    }
    if (absent) return false;
    if (typeof node.value === "number") return compareNumber(node.op, value, node.value);
    return compareText(node.op, pyStr(value), node.value);
  }

  // The rows that satisfy a filter string, in order (a copy of all of them for no filter).
  function filterRows(rows, text) {
    var node = parse(text), out = [];
    for (var i = 0; i < rows.length; i++) if (matches(node, rows[i])) out.push(rows[i]);
    return out;
  }

  // ---- order_by ---------------------------------------------------------------------------
  function parseOrderClause(clause) {
    if (typeof clause !== "string") {
      throw new FilterError("order_by clauses must be strings, got " + pyTypeName(clause));
    }
    var parser = new Parser(clause, "order_by clause");
    var ident = parser.identifier(), ascending = true;
    if (ident[0] === "datasets") {
      throw parser.fail(ident[2].position, "cannot order by a dataset: a run has any number");
    }
    if (parser.isKeyword("ASC") || parser.isKeyword("DESC")) {
      ascending = parser.take().text.toUpperCase() === "ASC";
    }
    if (parser.peek().kind !== "end") {
      throw parser.expected(parser.peek(), "ASC, DESC or the end of the clause");
    }
    return [columnFor(ident[0], ident[1]), ascending];
  }

  // MLflow order_by clauses -> [[column, ascending], ...].
  function parseOrderBy(clauses) {
    if (!clauses) return [];
    // Python iterates a str by character; so does this.
    var list = typeof clauses === "string" ? codePoints(clauses).chars : clauses;
    var out = [];
    for (var i = 0; i < list.length; i++) out.push(parseOrderClause(list[i]));
    return out;
  }

  root.TrackerFilter = {
    parse: parse,
    matches: matches,
    filterRows: filterRows,
    parseOrderBy: parseOrderBy,
    columnFor: columnFor,
    FilterError: FilterError
  };
})(typeof window !== "undefined" ? window : this);
