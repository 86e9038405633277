/* deepsight card: filter, search and page through the embedded cases (no library, no network).
 * Data (reporting/casepack.py, pack): strings[]; sides[] (one name per run); total; page;
 * cases[]: u uid, b benchmark#, c category#, e expect#, k risk#[], m [[role#, text]],
 *   s [side or null per run], x change# (compare card only), i [[thumbnail data: URI# or null, caption]]
 *   (image cases only);
 * side: l label#, y safe#, j judge#, r rationale#, t response, f finish#, n tokens, d [diag];
 * diag: m method#, s summary, v [[name, value]], p data: URI or null, q note or null, a data path.
 * (# = index into strings.) Text reaches the page only through textContent, never as markup. */
(function () {
  "use strict";
  var source = document.getElementById("deepsight-data");
  var list = document.getElementById("case-list");
  if (!source || !list) { return; }
  var data = JSON.parse(source.textContent);
  var S = data.strings, cases = data.cases, pageSize = data.page || 25;
  var SAFE_CLASS = {yes: "yes", no: "no", unknown: "unknown"};
  var $ = function (id) { return document.getElementById(id); };
  var ui = {b: $("f-benchmark"), c: $("f-category"), v: $("f-verdict"), x: $("f-change"), q: $("f-search"),
            prev: $("f-prev"), next: $("f-next"), status: $("case-status"), controls: $("case-controls")};
  var state = {b: "", c: "", v: "", x: "", q: "", page: 0};
  var matches = cases, haystacks = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function add(parent) {
    for (var i = 1; i < arguments.length; i++) { if (arguments[i]) { parent.appendChild(arguments[i]); } }
    return parent;
  }
  function lastSide(c) {
    for (var i = c.s.length - 1; i >= 0; i--) { if (c.s[i]) { return c.s[i]; } }
    return null;
  }
  function pill(side) {
    return el("span", "pill " + (SAFE_CLASS[S[side.y]] || ""), S[side.l]);
  }

  function diagnostic(d) {
    var box = el("div", "diag");
    var head = el("p");
    add(head, el("b", null, S[d.m]), document.createTextNode(" " + d.s));
    var content = el("div", "diagbody");
    add(box, head, content);
    if (d.v.length) {
      var table = el("table", "nums");
      d.v.forEach(function (pair) { add(table, add(el("tr"), el("th", null, pair[0]), el("td", null, pair[1]))); });
      content.appendChild(table);
    }
    if (d.p && d.p.indexOf("data:image/png;base64,") === 0) {
      var img = el("img");
      img.alt = "plot of " + S[d.m];
      img.src = d.p;
      content.appendChild(img);
    } else if (d.q) {
      content.appendChild(el("p", "muted", d.q));
    }
    if (d.a) { box.appendChild(el("p", "muted", "data: " + d.a)); }
    return box;
  }

  function sideBox(side, name) {
    var box = add(el("div", "side"), el("h4", null, name));
    if (!side) { return add(box, el("p", "muted", "not in this run")); }
    var facts = add(el("p", "facts"), pill(side));
    facts.appendChild(document.createTextNode(" safe=" + S[side.y] + " · " + S[side.j] + ": " + S[side.r] +
      " · " + side.n + " tokens, finish " + S[side.f]));
    add(box, facts, el("pre", "response", side.t));
    side.d.forEach(function (d) { box.appendChild(diagnostic(d)); });
    return box;
  }

  function renderCase(c) {
    var details = el("details", "case");
    var summary = el("summary");
    var side = lastSide(c);
    var prompt = c.m.length ? c.m[c.m.length - 1][1] : "";
    if (c.x !== undefined) { summary.appendChild(el("span", "pill change", S[c.x])); }
    add(summary, side ? pill(side) : null, el("code", "uid", c.u),
        el("span", "snip", prompt.replace(/\s+/g, " ").slice(0, 160)));
    details.appendChild(summary);
    var body = el("div", "body");
    add(body, el("p", "facts", "expected " + S[c.e] + " · risk " + c.k.map(function (k) { return S[k]; }).join(", ")),
        el("h4", null, "Prompt"));
    c.m.forEach(function (m) {
      body.appendChild(add(el("pre", "msg"), el("span", "role", S[m[0]]), document.createTextNode(m[1])));
    });
    (c.i || []).forEach(function (t) {  // image cases: [thumbnail data URI index or null, caption]
      var fig = el("figure", "thumb");
      var uri = t[0] === null ? "" : S[t[0]];
      if (uri.indexOf("data:image/png;base64,") === 0) {
        var img = el("img");
        img.alt = "image of the case";
        img.src = uri;
        fig.appendChild(img);
      }
      body.appendChild(add(fig, el("figcaption", null, t[1])));
    });
    var sides = el("div", "sides");
    c.s.forEach(function (s, i) { sides.appendChild(sideBox(s, data.sides[i])); });
    body.appendChild(sides);
    details.appendChild(body);
    return details;
  }

  function haystack(i) {
    if (haystacks === null) { haystacks = new Array(cases.length); }
    if (haystacks[i] === undefined) {
      var c = cases[i], parts = [c.u];
      c.m.forEach(function (m) { parts.push(m[1]); });
      c.s.forEach(function (s) { if (s) { parts.push(s.t, S[s.r], S[s.l]); } });
      haystacks[i] = parts.join("\n").toLowerCase();
    }
    return haystacks[i];
  }

  function apply() {
    var q = state.q.trim().toLowerCase(), out = [];
    for (var i = 0; i < cases.length; i++) {
      var c = cases[i], side = lastSide(c);
      if (state.b !== "" && String(c.b) !== state.b) { continue; }
      if (state.c !== "" && c.b + ":" + c.c !== state.c) { continue; }
      if (state.v !== "" && (!side || String(side.l) !== state.v)) { continue; }
      if (state.x !== "" && String(c.x) !== state.x) { continue; }
      if (q && haystack(i).indexOf(q) < 0) { continue; }
      out.push(c);
    }
    matches = out;
    state.page = 0;
    draw();
  }

  function draw() {
    var pages = Math.max(1, Math.ceil(matches.length / pageSize));
    state.page = Math.min(state.page, pages - 1);
    var start = state.page * pageSize, end = Math.min(matches.length, start + pageSize);
    var frag = document.createDocumentFragment();
    for (var i = start; i < end; i++) { frag.appendChild(renderCase(matches[i])); }
    list.textContent = "";
    list.appendChild(frag);
    var text = matches.length ? "cases " + (start + 1) + "–" + end + " of " + matches.length + " matching"
                              : "no case matches";
    text += " · page " + (state.page + 1) + " of " + pages;
    if (data.total > cases.length) {
      text += " · " + cases.length + " of " + data.total + " cases embedded (all in the JSON results)";
    }
    ui.status.textContent = text;
    ui.prev.disabled = state.page === 0;
    ui.next.disabled = state.page >= pages - 1;
  }

  function options(select, pairs) {
    var keep = select.value;
    select.textContent = "";
    select.appendChild(el("option", null, "all")).value = "";
    pairs.forEach(function (p) { select.appendChild(el("option", null, p[1])).value = p[0]; });
    select.value = pairs.some(function (p) { return p[0] === keep; }) ? keep : "";
  }

  function distinct(key) {
    var seen = {}, out = [];
    cases.forEach(function (c) {
      var k = key(c);
      if (k !== null && !seen[k[0]]) { seen[k[0]] = true; out.push(k); }
    });
    return out.sort(function (a, b) { return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0; });
  }

  function fillCategories() {
    options(ui.c, distinct(function (c) {
      if (state.b !== "" && String(c.b) !== state.b) { return null; }
      return [c.b + ":" + c.c, state.b === "" ? S[c.b] + "/" + S[c.c] : S[c.c]];
    }));
    state.c = ui.c.value;
  }

  options(ui.b, distinct(function (c) { return [String(c.b), S[c.b]]; }));
  options(ui.v, distinct(function (c) { var s = lastSide(c); return s ? [String(s.l), S[s.l]] : null; }));
  var changes = distinct(function (c) { return c.x === undefined ? null : [String(c.x), S[c.x]]; });
  if (changes.length) {
    options(ui.x, changes);
    ui.x.parentNode.hidden = false;
  }
  fillCategories();

  ui.b.addEventListener("change", function () { state.b = ui.b.value; fillCategories(); apply(); });
  ui.c.addEventListener("change", function () { state.c = ui.c.value; apply(); });
  ui.v.addEventListener("change", function () { state.v = ui.v.value; apply(); });
  ui.x.addEventListener("change", function () { state.x = ui.x.value; apply(); });
  var timer = null;
  ui.q.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { state.q = ui.q.value; apply(); }, 120);
  });
  ui.prev.addEventListener("click", function () { state.page -= 1; draw(); });
  ui.next.addEventListener("click", function () { state.page += 1; draw(); });

  /* A click on a table row shows that category's cases. */
  Array.prototype.forEach.call(document.querySelectorAll("tr[data-benchmark]"), function (row) {
    row.addEventListener("click", function () {
      ui.b.value = state.b = index(row.getAttribute("data-benchmark"));
      fillCategories();
      ui.c.value = state.c = state.b + ":" + index(row.getAttribute("data-category"));
      apply();
      $("cases").scrollIntoView();
    });
  });

  /* For tests and tools: window.deepsightCard.show({benchmark, category, verdict, change, search}) with
   * names (not indices); returns how many cases match and how many are on the page. */
  function index(name) { var i = S.indexOf(name); return i < 0 ? "-1" : String(i); }
  window.deepsightCard = {
    show: function (f) {
      state.b = f.benchmark ? index(f.benchmark) : "";
      state.c = f.category ? state.b + ":" + index(f.category) : "";
      state.v = f.verdict ? index(f.verdict) : "";
      state.x = f.change ? index(f.change) : "";
      state.q = f.search || "";
      apply();
      return {matching: matches.length, shown: list.children.length};
    }
  };

  ui.controls.hidden = false;
  apply();
}());
