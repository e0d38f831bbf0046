// shopstream analytics page: plain JavaScript, no build step. Every figure
// comes from /api/data/<dataset> (the server runs fixed, parameterised
// queries); this file only lays them out. Text from the data is always set
// as text (never as HTML).
"use strict";

(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);

  // ---- DOM helper -------------------------------------------------------
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(e.dataset, v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c == null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // ---- Formatting (fixed locale, so figures read the same everywhere) ---
  const intFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const decFmt = (d) => new Intl.NumberFormat("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
  const moneyFmts = {};
  const DASH = "–";

  function fmtMoney(v, currency) {
    if (v == null) return DASH;
    const n = Number(v);
    if (currency) {
      try {
        moneyFmts[currency] = moneyFmts[currency] || new Intl.NumberFormat("en-US", { style: "currency", currency });
        return moneyFmts[currency].format(n);
      } catch (e) {
        return decFmt(2).format(n) + " " + currency;
      }
    }
    return decFmt(2).format(n);
  }

  function baseType(t) {
    let s = t || "";
    for (;;) {
      const m = /^(Nullable|LowCardinality)\((.*)\)$/.exec(s);
      if (!m) return s;
      s = m[2];
    }
  }

  // Digits after the point for float columns; others get 2.
  const FLOAT_DIGITS = { tiktok_watch_hours: 1, amazon_best_sellers_rank_avg: 0, p_value: 3, p_value_adjusted: 3 };

  function fmtValue(v, col, row, cols) {
    if (v == null) return DASH;
    const t = baseType(col.type);
    if (/^U?Int/.test(t)) return intFmt.format(Number(v));
    if (/^Float/.test(t)) return decFmt(FLOAT_DIGITS[col.name] ?? 2).format(v);
    if (/^Decimal/.test(t)) {
      const cur = currencyColumn(col.name, cols);
      return fmtMoney(v, cur >= 0 ? row[cur] : null);
    }
    if (t === "Bool") return v ? "yes" : "no";
    if (/^DateTime/.test(t)) return String(v).replace("T", " ").replace(/(\.\d+)?Z$/, " UTC");
    if (Array.isArray(v)) return v.join(", ");
    return String(v);
  }

  // The currency column of a money column: <prefix>currency, the longest
  // prefix of its name (tiktok_gmv -> tiktok_currency).
  function currencyColumn(name, cols) {
    let best = -1, bestLen = -1;
    cols.forEach((c, i) => {
      if (!c.name.endsWith("currency")) return;
      const prefix = c.name.slice(0, -"currency".length);
      if (name.startsWith(prefix) && prefix.length > bestLen) { best = i; bestLen = prefix.length; }
    });
    return best;
  }

  const isNumeric = (col) => /^(U?Int|Float|Decimal)/.test(baseType(col.type));

  const LABELS = {
    product_key: "Product key", title: "Product", asins: "ASINs", tiktok_skus: "TikTok SKUs", match_rule: "Matched by",
    tiktok_views: "Views", tiktok_watch_hours: "Watch hours", tiktok_saves: "Saves", tiktok_shares: "Shares",
    tiktok_likes: "Likes", tiktok_comments: "Comments", tiktok_product_impressions: "Product impressions",
    tiktok_product_clicks: "Product clicks", tiktok_attention_provenance: "Attention", tiktok_orders: "Orders",
    tiktok_units: "Units", tiktok_gmv: "GMV", amazon_search_impressions: "Search impressions",
    amazon_search_clicks: "Search clicks", amazon_search_period_start: "Search week", amazon_search_period_end: "Week end",
    amazon_sessions: "Sessions", amazon_page_views: "Page views", amazon_units: "Units", amazon_orders: "Orders",
    amazon_sales: "Sales", amazon_bsr_best: "Best BSR", amazon_best_sellers_rank_best: "BSR (best)",
    date: "Date", channel: "Channel", account: "Marketplace / shop", channel_id: "ASIN / SKU id", product_id: "TikTok product",
    seller_sku: "Seller SKU", gtin14: "GTIN-14", conflict_reason: "Conflict", conflict: "Conflict",
    mapping_line: "Mapping line that fixes it",
    likely_same_as: "Likely the same product", likely_same_line: "Its line", amazon_products: "Amazon products", tiktok_products: "TikTok SKUs",
    product_keys: "Product keys", in_conflict: "In conflict", cursor: "Cursor", window_end: "Window end",
    position: "Position", moved: "Moved", moved_seconds_ago: "Moved (ago)", group: "Group", topic: "Topic", lag: "Lag",
    partitions_not_started: "Partitions not started", table: "Table", rows: "Rows", newest_change: "Newest change",
    age_seconds: "Age", open: "Open dead letters", stage: "Stage",
    rank: "Rank", halo_score: "Halo score", significant: "Significant", best_outcome: "Best outcome",
    best_lag_days: "Lag", best_attention_metric: "TikTok metric", strength: "Strength", lift: "Lift after spikes",
    p_value_adjusted: "Adjusted p", outcomes_significant: "Outcomes with a halo", first_date: "From", last_date: "To",
    outcome: "Amazon outcome", grain: "Grain", spikes: "Spikes", n: "Pairs",
    started_at: "Started", status: "Status", duration_seconds: "Took", waited_seconds: "Waited for the loader",
    models_ok: "Models built", models_failed: "Models failed", failed_models: "Failed models", tests_ok: "Tests passed",
    tests_failed: "Tests failed", failed_tests: "Failed tests", skipped: "Skipped", error: "Error",
  };
  const OUTCOMES = {
    amazon_search_impressions: "search impressions", amazon_search_clicks: "search clicks",
    amazon_search_purchases: "search purchases", amazon_sessions: "sessions", amazon_units: "units",
    amazon_best_sellers_rank: "Best Sellers Rank",
  };
  const METRICS = { tiktok_views: "views", tiktok_watch_time_seconds: "watch time", tiktok_saves: "saves", tiktok_shares: "shares" };
  // Where each outcome and attention metric is drawn on the product page.
  const OUTCOME_CHART = {
    amazon_search_impressions: "amazon-search", amazon_search_clicks: "amazon-search", amazon_search_purchases: "amazon-search",
    amazon_sessions: "amazon-traffic", amazon_units: "amazon-traffic", amazon_best_sellers_rank: "amazon-bsr",
  };
  const METRIC_SERIES = {
    tiktok_views: ["tiktok-reach", "tiktok_views"], tiktok_watch_time_seconds: ["tiktok-reach", "tiktok_watch_hours"],
    tiktok_saves: ["tiktok-engagement", "tiktok_saves"], tiktok_shares: ["tiktok-engagement", "tiktok_shares"],
  };
  const pct = (v) => (v == null ? DASH : (v >= 0 ? "+" : "") + decFmt(0).format(v * 100) + "%");
  const label = (name) => LABELS[name] || name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());

  function fmtAge(seconds) {
    if (seconds == null) return DASH;
    let s = Math.max(0, Math.round(seconds));
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    if (d) return `${d}d ${h}h`;
    if (h) return `${h}h ${m}m`;
    if (m) return `${m}m ${s}s`;
    return `${s}s`;
  }

  // ---- API --------------------------------------------------------------
  function query(params) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (v != null) u.set(k, v);
    const s = u.toString();
    return s ? "?" + s : "";
  }

  async function api(path, params) {
    const res = await fetch("api/" + path + query(params), { headers: { Accept: "application/json" } });
    let body;
    try { body = await res.json(); } catch (e) { body = { error: res.status + " " + res.statusText }; }
    if (!res.ok) throw new Error(body.error || res.statusText);
    return body;
  }
  const data = (name, params) => api("data/" + name, params);
  const downloadURL = (path, params, format) => "api/" + path + query(Object.assign({}, params, { format }));

  // ---- Period ------------------------------------------------------------
  const state = { meta: null, range: null };
  const DAY = 86400000;
  const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
  const dayMs = (s) => Date.parse(s + "T00:00:00Z");

  function defaultPeriod() {
    const last = state.range && state.range.last_day ? dayMs(state.range.last_day) : Date.now();
    return { from: isoDay(last - 27 * DAY), to: isoDay(last) };
  }

  function periodOf(params) {
    const d = defaultPeriod();
    return { from: params.get("from") || d.from, to: params.get("to") || d.to };
  }

  function setHash(view, params) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v != null && v !== "") qs.set(k, v);
    const s = qs.toString();
    location.hash = "#/" + view + (s ? "?" + s : "");
  }

  function bindPeriod(route) {
    const form = $("#period");
    const usesPeriod = route.view === "products" || route.view === "product";
    form.hidden = !usesPeriod;
    if (!usesPeriod) return;
    const p = periodOf(route.params);
    $("#from").value = p.from;
    $("#to").value = p.to;
    const apply = (from, to) => {
      const params = Object.fromEntries(route.params);
      params.from = from; params.to = to;
      setHash(route.view, params);
    };
    form.onchange = () => {
      if ($("#from").value && $("#to").value) apply($("#from").value, $("#to").value);
    };
    form.onsubmit = (e) => e.preventDefault();
    form.querySelectorAll("button[data-days]").forEach((b) => {
      b.onclick = () => {
        const last = state.range && state.range.last_day ? dayMs(state.range.last_day) : Date.now();
        if (b.dataset.days === "all") {
          apply(state.range && state.range.first_day ? state.range.first_day : isoDay(last), isoDay(last));
        } else {
          apply(isoDay(last - (Number(b.dataset.days) - 1) * DAY), isoDay(last));
        }
      };
    });
  }

  // ---- Building blocks ----------------------------------------------------
  function card(title, opts) {
    opts = opts || {};
    const dl = opts.download
      ? el("span", { class: "dl" },
        el("a", { href: downloadURL(opts.download.path, opts.download.params, "csv"), download: "", title: "Download as CSV" }, "CSV"),
        el("a", { href: downloadURL(opts.download.path, opts.download.params, "xlsx"), download: "", title: "Download as Excel workbook" }, "XLSX"))
      : null;
    const body = el("div", { class: "card-body" + (opts.flush ? " flush" : "") });
    const root = el("section", { class: "card", dataset: opts.name ? { card: opts.name } : {} },
      el("div", { class: "card-head" }, el("h2", { text: title }), opts.note ? el("span", { class: "note", text: opts.note }) : null, dl),
      body);
    return { root, body };
  }

  // withCode sets `quoted` parts of text in code.
  const withCode = (text) => String(text).split("`").map((part, i) => (i % 2 ? el("code", { text: part }) : part));

  function missingNote(res) {
    return el("div", { class: "missing" },
      el("b", { text: "Not available yet: " }), "table ", res.missing.join(", "), " does not exist. ", withCode(res.hint || ""));
  }

  function errorNote(err) {
    return el("div", { class: "error", text: String(err.message || err) });
  }

  // table renders a result. spec: {columns: [name | {name, render, cls}],
  // groups: true (TikTok / Amazon header row), rowKey: column whose value
  // goes to data-key, onRow(row), estimated(row) -> bool for TikTok attention}.
  function table(res, spec) {
    spec = spec || {};
    const idx = {};
    res.columns.forEach((c, i) => { idx[c.name] = i; });
    const cols = (spec.columns || res.columns.map((c) => c.name))
      .map((c) => (typeof c === "string" ? { name: c } : c))
      .filter((c) => c.render || idx[c.name] !== undefined);
    if (res.rows.length === 0) return el("div", { class: "empty", text: spec.empty || "Nothing for this selection." });
    const colOf = (c) => res.columns[idx[c.name]] || { name: c.name, type: "String" };
    const head = [];
    if (spec.groups) {
      const cells = [];
      let i = 0;
      while (i < cols.length) {
        const g = groupOf(cols[i].name);
        let n = 1;
        while (i + n < cols.length && groupOf(cols[i + n].name) === g) n++;
        cells.push(el("th", { colspan: n, class: g ? "g-" + g : "" }, g === "tiktok" ? "TikTok" : g === "amazon" ? "Amazon" : ""));
        i += n;
      }
      head.push(el("tr", { class: "groups" }, cells));
    }
    head.push(el("tr", {}, cols.map((c) => el("th", { class: c.render ? "" : isNumeric(colOf(c)) ? "num" : "", text: c.label || label(c.name) }))));
    const body = res.rows.map((row) => {
      const est = spec.estimated ? spec.estimated(row, idx) : false;
      const tr = el("tr", {
        class: spec.onRow ? "link" : "",
        dataset: spec.rowKey ? { key: row[idx[spec.rowKey]] } : {},
        onclick: spec.onRow ? () => spec.onRow(row, idx) : null,
      }, cols.map((c) => {
        if (c.render) return el("td", { class: c.cls || "", dataset: { col: c.name } }, c.render(row, idx));
        const col = colOf(c);
        const v = row[idx[c.name]];
        let text = fmtValue(v, col, row, res.columns);
        let cls = isNumeric(col) ? "num" : "";
        if (v == null) cls += " null";
        if (est && v != null && ATTENTION.includes(c.name)) { cls += " est"; text = "≈" + text; }
        if (c.cls) cls += " " + c.cls;
        return el("td", { class: cls.trim(), dataset: { col: c.name }, title: est && ATTENTION.includes(c.name) ? "estimated" : null }, text);
      }));
      return tr;
    });
    const wrap = el("div", { class: "table-wrap" }, el("table", { class: "data" }, el("thead", {}, head), el("tbody", {}, body)));
    if (!res.truncated) return wrap;
    return el("div", {}, wrap, el("div", { class: "more", text: `Showing the first ${res.rows.length} rows; the CSV and XLSX downloads have them all.` }));
  }

  // The channel a metric column belongs to (identifier columns belong to none).
  const groupOf = (name) => (name === "tiktok_skus" ? "" : name.startsWith("tiktok_") ? "tiktok" : name.startsWith("amazon_") ? "amazon" : "");
  const ATTENTION = ["tiktok_views", "tiktok_watch_hours", "tiktok_saves", "tiktok_shares", "tiktok_likes", "tiktok_comments"];

  const ruleTag = (rule) => el("span", { class: "rule rule-" + String(rule).split(" ")[0] }, String(rule).replace(/_/g, " "));
  const chTag = (ch) => el("span", { class: "ch ch-" + ch }, ch === "tiktok" ? "TikTok" : ch === "amazon" ? "Amazon" : ch);

  function copyButton(text) {
    return el("button", {
      class: "copy", type: "button", title: "Copy",
      onclick: (e) => {
        e.stopPropagation();
        if (navigator.clipboard) navigator.clipboard.writeText(text).catch(() => {});
        e.target.textContent = "copied";
        setTimeout(() => { e.target.textContent = "copy"; }, 1200);
      },
    }, "copy");
  }

  function lineBox(v) {
    return el("span", { class: "line" }, el("code", { text: v }), copyButton(v));
  }

  // productCell: the title, with the channel id and the identifiers under it.
  const productCell = {
    name: "title", label: "Product", cls: "title-cell wrap",
    render: (row, i) => [
      el("div", { class: "t", text: row[i.title] || "(no title)" }),
      el("div", { class: "k" },
        el("span", { class: "idl", text: row[i.channel] === "amazon" ? "ASIN " : "SKU " }), el("span", { class: "mono", text: row[i.channel_id] }),
        row[i.seller_sku] ? [" ", el("span", { class: "idl", text: "seller SKU " }), el("span", { class: "mono", text: row[i.seller_sku] })] : null,
        row[i.gtin14] ? [" ", el("span", { class: "idl", text: "GTIN " }), el("span", { class: "mono", text: row[i.gtin14] })] : null),
    ],
  };

  function lineCell(name) {
    return {
      name, cls: "wrap", label: label(name),
      render: (row, idx) => {
        const v = row[idx[name]];
        if (!v) return el("span", { class: "null", text: DASH });
        return lineBox(v);
      },
    };
  }

  // ---- Views -------------------------------------------------------------
  const PRODUCT_COLUMNS = [
    { name: "title", cls: "title-cell wrap", render: (row, idx) => [
      el("div", { class: "t", text: row[idx.title] || "(no title)" }),
      el("div", { class: "k" },
        ruleTag(row[idx.match_rule] || "none"), " ",
        el("span", { class: "mono", text: row[idx.product_key] })),
      (row[idx.asins] || row[idx.tiktok_skus]) ? el("div", { class: "k" },
        row[idx.asins] ? [el("span", { class: "idl", text: "ASIN " }), el("span", { class: "mono", text: row[idx.asins] }), " "] : null,
        row[idx.tiktok_skus] ? [el("span", { class: "idl", text: "SKU " }), el("span", { class: "mono", text: row[idx.tiktok_skus] })] : null) : null] },
    "tiktok_views", "tiktok_watch_hours", "tiktok_saves", "tiktok_shares", "tiktok_orders", "tiktok_gmv",
    "amazon_search_impressions", "amazon_search_clicks", "amazon_sessions", "amazon_units", "amazon_orders", "amazon_sales",
    "amazon_bsr_best",
  ];

  async function viewProducts(main, route) {
    const p = periodOf(route.params);
    const q = route.params.get("q") || "";
    const input = el("input", {
      type: "search", id: "q", value: q, autocomplete: "off", "aria-label": "Find a product",
      placeholder: "Find a product by key, ASIN, TikTok SKU, seller SKU, GTIN or title",
    });
    let timer;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => setHash("products", { q: input.value, from: p.from, to: p.to }), 300);
    });
    main.append(
      el("div", { class: "page-head" }, el("div", {},
        el("h1", { text: "Products" }),
        el("div", { class: "sub", text: `Both channels, ${p.from} to ${p.to}. Amazon search figures add up the Brand Analytics weeks within the period.` }))),
      el("form", { class: "search", onsubmit: (e) => { e.preventDefault(); setHash("products", { q: input.value, from: p.from, to: p.to }); } }, input));
    const kpis = el("div", { class: "kpis" });
    const c = card("Products", { name: "products", note: q ? `matching “${q}”` : "most orders first", download: { path: "data/products", params: { q, from: p.from, to: p.to } }, flush: true });
    main.append(kpis, c.root);
    c.body.append(el("div", { class: "loading", text: "Loading…" }));
    const res = await data("products", { q, from: p.from, to: p.to });
    c.body.replaceChildren();
    if (res.missing) { c.body.append(missingNote(res)); return; }
    kpis.append(...productKPIs(res, res.rows));
    c.body.append(table(res, {
      columns: PRODUCT_COLUMNS, groups: true, rowKey: "product_key",
      onRow: (row, idx) => setHash("product", { key: row[idx.product_key], from: p.from, to: p.to }),
      empty: q ? `No product matches “${q}”.` : "No products yet.",
    }));
    if (document.activeElement === document.body && q) input.focus();
  }

  // productKPIs sums the listed products' figures (the server's sums per
  // product); money only when one currency.
  function productKPIs(res, rows) {
    const idx = {};
    res.columns.forEach((c, i) => { idx[c.name] = i; });
    const sum = (name) => {
      let s = null;
      for (const r of rows) if (r[idx[name]] != null) s = (s || 0) + Number(r[idx[name]]);
      return s;
    };
    const money = (name, curName) => {
      const curs = new Set(rows.filter((r) => r[idx[name]] != null).map((r) => r[idx[curName]]));
      if (curs.size > 1) return { text: "mixed currencies", hint: [...curs].join(", ") };
      return { text: fmtMoney(sum(name), [...curs][0]) };
    };
    const kpi = (cls, name, text, labelText, hint) => el("div", { class: "kpi " + cls, dataset: { kpi: name } },
      el("div", { class: "label", text: labelText }), el("div", { class: "value", text }), hint ? el("div", { class: "hint", text: hint }) : null);
    const n = (name) => (sum(name) == null ? DASH : intFmt.format(sum(name)));
    const tg = money("tiktok_gmv", "tiktok_currency");
    const as = money("amazon_sales", "amazon_currency");
    const suffix = res.truncated ? " (rows shown)" : "";
    return [
      kpi("tiktok", "tiktok_views", n("tiktok_views"), "TikTok views" + suffix),
      kpi("tiktok", "tiktok_orders", n("tiktok_orders"), "TikTok orders" + suffix),
      kpi("tiktok", "tiktok_gmv", tg.text, "TikTok GMV" + suffix, tg.hint),
      kpi("amazon", "amazon_search_impressions", n("amazon_search_impressions"), "Amazon search impressions" + suffix, "Brand Analytics weeks"),
      kpi("amazon", "amazon_sessions", n("amazon_sessions"), "Amazon sessions" + suffix),
      kpi("amazon", "amazon_orders", n("amazon_orders"), "Amazon orders" + suffix),
      kpi("amazon", "amazon_sales", as.text, "Amazon sales" + suffix, as.hint),
    ];
  }

  async function viewProduct(main, route) {
    const key = route.params.get("key") || "";
    const p = periodOf(route.params);
    const back = el("a", { class: "crumb", href: "#/products" + query({ from: p.from, to: p.to }) }, "← Products");
    const head = el("div", { class: "page-head" }, el("div", {}, back, el("h1", { text: key }), el("div", { class: "sub", text: `${p.from} to ${p.to}` })));
    const kpis = el("div", { class: "kpis" });
    const haloNote = el("div");
    const charts = el("div", { class: "stack" });
    main.append(head, kpis, haloNote, charts);
    const params = { key, from: p.from, to: p.to };
    const [summary, days, links, halo] = await Promise.all([
      data("products", { q: key, from: p.from, to: p.to }),
      data("product_days", params),
      data("product_links", { key }),
      state.meta.tables.product_halo ? data("product_halo", { key }) : Promise.resolve(null),
    ]);
    if (days.missing) { charts.append(missingNote(days)); return; }

    // Header: title and identifiers.
    const li = {};
    links.columns.forEach((c, i) => { li[c.name] = i; });
    const title = (links.rows.find((r) => r[li.channel] === "amazon" && r[li.title]) || links.rows.find((r) => r[li.title]) || [])[li.title];
    if (title) head.querySelector("h1").textContent = title;
    head.firstChild.append(el("div", { class: "ids" },
      el("span", { class: "id" }, el("b", { text: "key" }), el("span", { class: "mono", text: key })),
      links.rows.map((r) => el("span", { class: "id" }, chTag(r[li.channel]), " ", el("span", { class: "mono", text: r[li.channel_id] }), r[li.match_rule] ? [" ", ruleTag(r[li.match_rule])] : null))));

    // KPIs for the period: the products dataset's row for this key.
    const si = {};
    summary.columns.forEach((c, i) => { si[c.name] = i; });
    const mine = summary.rows.filter((r) => r[si.product_key] === key);
    if (!summary.missing) kpis.append(...productKPIs(summary, mine));

    const series = daySeries(days, p);
    // The halo lag, once the mart exists: a note, and marks on the charts
    // from the TikTok peak to the day Amazon is expected to follow.
    const halo_ = haloOf(halo, series);
    if (halo_) haloNote.append(el("div", { class: "halo-note", dataset: { halo: halo_.lag ?? "" } }, halo_.text));
    const marks = halo_ ? halo_.marks : {};
    const grid = el("div", { class: "grid2" });
    charts.append(grid);
    const dl = () => ({ path: "data/product_days", params });
    const estimatedDays = series.estimated.some(Boolean);
    const estNote = estimatedDays ? el("div", { class: "legend-note" }, el("span", {}, el("span", { class: "swatch est" }), "shaded days: TikTok attention estimated from lifetime totals")) : null;

    const mk = (name, title, note, build, extra) => {
      const c = card(title, { name: "chart-" + name, note, download: dl() });
      grid.append(c.root);
      const box = el("div", { class: "chart", dataset: { chart: name } });
      c.body.append(box);
      if (extra) c.root.append(extra);
      charts.dataset.pending = String(Number(charts.dataset.pending || 0) + 1);
      return { box, build };
    };
    const defs = [
      mk("tiktok-reach", "TikTok views & watch time", "per day", (w) => chartOpts(w, series, [
        { key: "tiktok_views", label: "Views", color: "var(--tiktok)", scale: "count", fill: true },
        { key: "tiktok_watch_hours", label: "Watch time (h)", color: "var(--tiktok-2)", scale: "hours", digits: 1 },
      ], [{ scale: "count" }, { scale: "hours", side: 1, label: "hours" }], { estimated: true, marks: marks["tiktok-reach"] }), estNote),
      mk("amazon-search", "Amazon search impressions & clicks", "Brand Analytics, weekly totals", (w) => chartOpts(w, series, [
        { key: "amazon_search_impressions", label: "Search impressions (week)", color: "var(--amazon)", scale: "impr", stepped: true, fill: true },
        { key: "amazon_search_clicks", label: "Search clicks (week)", color: "var(--amazon-2)", scale: "clicks", stepped: true },
      ], [{ scale: "impr" }, { scale: "clicks", side: 1, label: "clicks" }], { marks: marks["amazon-search"] })),
      mk("tiktok-engagement", "TikTok saves & shares", "per day", (w) => chartOpts(w, series, [
        { key: "tiktok_saves", label: "Saves", color: "var(--tiktok-3)", scale: "n" },
        { key: "tiktok_shares", label: "Shares", color: "var(--tiktok-2)", scale: "n" },
      ], [{ scale: "n" }], { estimated: true, marks: marks["tiktok-engagement"] }), estNote ? estNote.cloneNode(true) : null),
      mk("amazon-traffic", "Amazon sessions & units", "Sales & Traffic, per day", (w) => chartOpts(w, series, [
        { key: "amazon_sessions", label: "Sessions", color: "var(--amazon-2)", scale: "sessions", fill: true },
        { key: "amazon_units", label: "Units", color: "var(--amazon)", scale: "units" },
      ], [{ scale: "sessions" }, { scale: "units", side: 1, label: "units" }], { marks: marks["amazon-traffic"] })),
      mk("amazon-bsr", "Best Sellers Rank", "best of the day · lower is better (axis inverted)", (w) => chartOpts(w, series, [
        { key: "amazon_best_sellers_rank_best", label: "BSR (best)", color: "var(--amazon-3)", scale: "bsr", digits: 0 },
      ], [{ scale: "bsr", label: "rank" }], { inverted: ["bsr"], marks: marks["amazon-bsr"] })),
      mk("orders", "Orders, both channels", "per day", (w) => chartOpts(w, series, [
        { key: "tiktok_orders", label: "TikTok orders", color: "var(--tiktok)", scale: "orders", bars: 0 },
        { key: "amazon_orders", label: "Amazon orders", color: "var(--amazon)", scale: "orders", bars: 1 },
      ], [{ scale: "orders" }], {})),
    ];
    const gmvCard = card("GMV, both channels", { name: "chart-gmv", note: "TikTok Shop GMV and Amazon ordered product sales, per day", download: dl() });
    charts.append(gmvCard.root);
    const gmvBox = el("div", { class: "chart", dataset: { chart: "gmv" } });
    gmvCard.body.append(gmvBox);
    defs.push({ box: gmvBox, build: (w) => chartOpts(w, series, [
      { key: "tiktok_gmv", label: "TikTok GMV", color: "var(--tiktok)", scale: "money", money: series.currency.tiktok, fill: true },
      { key: "amazon_sales", label: "Amazon sales", color: "var(--amazon)", scale: "money", money: series.currency.amazon, fill: true },
    ], [{ scale: "money", label: series.currency.label }], {}) });

    if (halo && !halo.missing) {
      const hc = card("Halo by outcome", { name: "product-halo", note: "dbt mart product_halo: the lag at which TikTok attention relates most to each Amazon outcome", download: { path: "data/product_halo", params: { key } }, flush: true });
      charts.append(hc.root);
      hc.body.append(table(halo, {
        columns: [{ name: "outcome", render: (r, i) => OUTCOMES[r[i.outcome]] || r[i.outcome] }, { name: "best_attention_metric", render: (r, i) => METRICS[r[i.best_attention_metric]] || r[i.best_attention_metric] },
          { name: "best_lag_days", render: (r, i) => (r[i.best_lag_days] == null ? DASH : r[i.best_lag_days] + " d") }, "strength",
          { name: "significant", render: (r, i) => el("span", { class: r[i.significant] ? "ok" : "muted", text: r[i.significant] ? "yes" : "no" }) },
          "p_value_adjusted", { name: "lift", render: (r, i) => pct(r[i.lift]) }, "spikes", "n"],
        rowKey: "outcome", empty: "The halo mart has no row for this product (it needs TikTok attention and Amazon figures over several weeks).",
      }));
      const byLag = state.meta.tables.halo_by_lag ? await data("halo_by_lag", { key }) : null;
      if (byLag && !byLag.missing && byLag.rows.length) {
        const c = card("Halo by lag", { name: "chart-halo-by-lag", note: "correlation of TikTok attention with each Amazon outcome that many days later (positive: Amazon better)", download: { path: "data/halo_by_lag", params: { key } } });
        charts.append(c.root);
        const box = el("div", { class: "chart", dataset: { chart: "halo-by-lag" } });
        c.body.append(box);
        defs.push({ box, build: (w) => lagChartOpts(w, byLag), data: lagChartData(byLag) });
      }
    }

    // Daily table.
    const t = card("By day", { name: "product-days", note: "≈ marks estimated TikTok attention", download: dl(), flush: true });
    charts.append(t.root);
    t.body.append(table(days, {
      columns: ["date", "tiktok_views", "tiktok_watch_hours", "tiktok_saves", "tiktok_shares", "tiktok_product_impressions", "tiktok_product_clicks",
        "tiktok_orders", "tiktok_units", "tiktok_gmv", "amazon_search_impressions", "amazon_search_clicks", "amazon_sessions",
        "amazon_page_views", "amazon_units", "amazon_orders", "amazon_sales", "amazon_best_sellers_rank_best"]
        .filter((n) => !(n.startsWith("tiktok_product_") && days.rows.every((r) => r[days.columns.findIndex((c) => c.name === n)] == null))),
      groups: true, rowKey: "date",
      estimated: (row, idx) => ["estimated", "mixed"].includes(row[idx.tiktok_attention_provenance]),
      empty: "No days for this product in the period.",
    }));

    const lc = card("Channel products", { name: "product-links", note: "what identity linked under this key", download: { path: "data/product_links", params: { key } }, flush: true });
    charts.append(lc.root);
    lc.body.append(table(links, {
      columns: [{ name: "channel", render: (r, i) => chTag(r[i.channel]) }, "account", "channel_id", "product_id", "seller_sku", "gtin14",
        { name: "title", cls: "wrap" }, { name: "match_rule", render: (r, i) => ruleTag(r[i.match_rule]) }, { name: "conflict_reason", cls: "wrap" }],
      rowKey: "channel_id",
    }));

    // Charts last: their width is known once laid out.
    for (const d of defs) {
      const w = d.box.clientWidth || 600;
      const opts = d.build(w);
      const cols = d.data || series.data;
      const m = marks[d.box.dataset.chart];
      if (m) d.box.dataset.marks = JSON.stringify(m.map((x) => ({ day: isoDay(x.at * 1000), label: x.label })));
      const u = new uPlot(opts, cols, d.box);
      charts_[d.box.dataset.chart] = u;
      if (cols.slice(1).every((col) => col.every((v) => v == null))) {
        d.box.classList.add("no-data");
        u.over.append(el("div", { class: "no-data-note", text: "No data in this period" }));
      }
    }
  }

  // daySeries lays the product's days on every day of the period (days
  // without a row are gaps), in uPlot's columnar form.
  function daySeries(res, p) {
    const idx = {};
    res.columns.forEach((c, i) => { idx[c.name] = i; });
    const byDate = new Map(res.rows.map((r) => [r[idx.date], r]));
    const xs = [];
    for (let t = dayMs(p.from); t <= dayMs(p.to); t += DAY) xs.push(t / 1000);
    const cols = {};
    const names = res.columns.map((c) => c.name);
    for (const n of names) cols[n] = xs.map((x) => {
      const r = byDate.get(isoDay(x * 1000));
      if (!r || r[idx[n]] == null) return null;
      return typeof r[idx[n]] === "string" && n !== "tiktok_attention_provenance" ? Number(r[idx[n]]) : r[idx[n]];
    });
    const curOf = (n) => { const s = new Set(res.rows.map((r) => r[idx[n]]).filter(Boolean)); return s.size === 1 ? [...s][0] : null; };
    const tc = curOf("tiktok_currency"), ac = curOf("amazon_currency");
    return {
      xs, cols,
      estimated: (cols.tiktok_attention_provenance || []).map((v) => v === "estimated" || v === "mixed"),
      currency: { tiktok: tc, amazon: ac, label: tc && ac && tc !== ac ? `${tc} / ${ac}` : tc || ac || "" },
      data: null,
    };
  }

  const charts_ = {};
  // Exposed for the browser test, which reads the legends at a day.
  window.shopstream = { charts: charts_ };

  function cssVar(v) {
    const m = /^var\((--[a-z0-9-]+)\)$/.exec(v);
    return m ? getComputedStyle(document.documentElement).getPropertyValue(m[1]).trim() : v;
  }

  function fmtAxis(v, digits) {
    if (v == null) return DASH;
    const a = Math.abs(v);
    if (a >= 1e6) return decFmt(a >= 1e7 ? 0 : 1).format(v / 1e6) + "M";
    if (a >= 1e4) return decFmt(0).format(v / 1e3) + "k";
    return decFmt(digits || 0).format(v);
  }

  // isolated are the indices of the values with no value beside them.
  function isolated(values) {
    const out = [];
    values.forEach((v, i) => {
      if (v != null && values[i - 1] == null && values[i + 1] == null) out.push(i);
    });
    return out;
  }

  // chartOpts builds a uPlot chart of specs (one series each) on axes.
  function chartOpts(width, s, specs, axes, opt) {
    s.data = [s.xs];
    const series = [{ label: "Day", value: (u, v) => (v == null ? DASH : isoDay(v * 1000)) }];
    const barPaths = uPlot.paths.bars;
    for (const sp of specs) {
      const color = cssVar(sp.color);
      s.data.push(s.cols[sp.key] || s.xs.map(() => null));
      const ser = {
        label: sp.label, scale: sp.scale, stroke: color, width: 2,
        spanGaps: false,
        // Every day's point on short periods; on long ones the days with no
        // neighbour, which a line cannot show.
        points: { show: s.xs.length <= 45, size: 5, filter: (u, si, show) => (show ? null : isolated(u.data[si])) },
        value: (u, v) => (v == null ? DASH : sp.money !== undefined ? fmtMoney(v, sp.money) : decFmt(sp.digits || 0).format(v)),
      };
      if (sp.fill) ser.fill = color + "1f";
      if (sp.stepped) ser.paths = uPlot.paths.stepped({ align: 1 });
      if (sp.bars !== undefined) {
        ser.paths = barPaths({ size: [0.36, 40], align: sp.bars === 0 ? -1 : 1 });
        ser.fill = color + "cc"; ser.points = { show: false };
      }
      series.push(ser);
    }
    const inverted = new Set(opt.inverted || []);
    const scales = { x: { time: true } };
    for (const a of axes) {
      scales[a.scale] = { auto: true, range: (u, min, max) => {
        if (min == null || max == null) return inverted.has(a.scale) ? [1, 100] : [0, 5];
        if (inverted.has(a.scale)) return [Math.max(1, Math.floor(min * 0.9)), Math.ceil(max * 1.1)];
        return [0, Math.max(5, max * 1.1)];
      } };
      if (inverted.has(a.scale)) scales[a.scale].dir = -1;
    }
    const grid = { stroke: "#eef0f4", width: 1 };
    const uaxes = [{ stroke: "#667085", grid, ticks: { stroke: "#e3e6ec" }, space: 56,
      incrs: [86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400, 91 * 86400, 182 * 86400, 364 * 86400],
      values: (u, ticks) => ticks.map((t) => {
      const d = new Date(t * 1000);
      return d.toLocaleDateString("en-US", { month: "short", day: "numeric", timeZone: "UTC" });
    }) }];
    for (const a of axes) {
      uaxes.push({ scale: a.scale, side: a.side === 1 ? 1 : 3, stroke: "#667085", grid: a.side === 1 ? { show: false } : grid,
        ticks: { show: false }, size: 56, label: a.label, labelSize: a.label ? 18 : 0, labelFont: "11px sans-serif",
        values: (u, ticks) => ticks.map((t) => fmtAxis(t, ticks.length > 1 && Math.abs(ticks[1] - ticks[0]) < 1 ? 1 : 0)) });
    }
    const hooks = { drawClear: [], draw: [] };
    if (opt.estimated && s.estimated.some(Boolean)) {
      hooks.drawClear.push((u) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.fillStyle = cssVar("var(--estimate)");
        s.estimated.forEach((est, i) => {
          if (!est) return;
          const x0 = u.valToPos(s.xs[i] - 43200, "x", true), x1 = u.valToPos(s.xs[i] + 43200, "x", true);
          ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
        });
        ctx.restore();
      });
    }
    if (opt.marks && opt.marks.length) {
      // Dashed lines at the given days: the TikTok peak, and the day the
      // halo lag says Amazon follows.
      hooks.draw.push((u) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.strokeStyle = ctx.fillStyle = cssVar("var(--accent)");
        ctx.lineWidth = 1.5 * devicePixelRatio;
        ctx.font = `${11 * devicePixelRatio}px sans-serif`;
        opt.marks.forEach((m, n) => {
          const x = u.valToPos(m.at, "x", true);
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
          ctx.setLineDash([5, 4]);
          ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
          ctx.setLineDash([]);
          const w = ctx.measureText(m.label).width;
          const right = x + 4 + w < u.bbox.left + u.bbox.width;
          ctx.fillText(m.label, right ? x + 4 : x - 4 - w, u.bbox.top + (12 + 13 * n) * devicePixelRatio);
        });
        ctx.restore();
      });
    }
    return {
      width, height: 230, series, scales, axes: uaxes, hooks,
      cursor: { sync: { key: "product" }, points: { size: 7 } },
      legend: { live: true },
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
    };
  }

  // haloOf reads the product's product_halo rows into the note above the
  // charts and the marks on them: for each outcome with a significant halo,
  // the peak of its TikTok metric and that peak plus the lag.
  function haloOf(halo, s) {
    if (!halo || halo.missing) return null;
    const i = {};
    halo.columns.forEach((c, n) => { i[c.name] = n; });
    if (!halo.rows.length) {
      return { text: "Halo: the mart has no row for this product yet (it needs TikTok attention and Amazon figures over several weeks).", marks: {} };
    }
    const sig = halo.rows.filter((r) => r[i.significant]);
    const marks = {};
    const add = (chart, m) => {
      marks[chart] = marks[chart] || [];
      if (!marks[chart].some((x) => x.at === m.at && x.label === m.label)) marks[chart].push(m);
    };
    for (const r of sig) {
      const [metricChart, col] = METRIC_SERIES[r[i.best_attention_metric]] || [];
      const values = (col && s.cols[col]) || [];
      let peak = -1;
      values.forEach((v, n) => { if (v != null && (peak < 0 || v > values[peak])) peak = n; });
      if (peak < 0) continue;
      const lag = Number(r[i.best_lag_days]);
      add(metricChart, { at: s.xs[peak], label: "TikTok " + (METRICS[r[i.best_attention_metric]] || "") + " peak" });
      add(OUTCOME_CHART[r[i.outcome]], { at: s.xs[peak] + lag * 86400, label: `peak + ${lag} d (${OUTCOMES[r[i.outcome]] || r[i.outcome]})` });
    }
    if (!sig.length) {
      const best = halo.rows[0];
      return { text: `Halo: no significant halo after correcting for every lag and metric tried; the closest is ${OUTCOMES[best[i.outcome]] || best[i.outcome]} at ${best[i.best_lag_days]} days (adjusted p ${decFmt(3).format(best[i.p_value_adjusted])}).`, marks };
    }
    const top = sig[0];
    const lag = Number(top[i.best_lag_days]);
    const lift = top[i.lift] != null ? `, ${pct(top[i.lift])} after attention spikes` : "";
    return {
      lag,
      text: `Halo: Amazon ${OUTCOMES[top[i.outcome]] || top[i.outcome]} follow TikTok ${METRICS[top[i.best_attention_metric]] || ""} by ${lag} day${lag === 1 ? "" : "s"} (correlation ${decFmt(2).format(top[i.strength])}${lift})` +
        (sig.length > 1 ? `; ${sig.length - 1} more outcome${sig.length > 2 ? "s" : ""} too` : "") + ". Dashed lines: the TikTok peak and the lag.",
      marks,
    };
  }

  // lagChartData lays halo_by_lag out as one series per outcome over the
  // lags.
  function lagChartData(res) {
    const i = {};
    res.columns.forEach((c, n) => { i[c.name] = n; });
    const lags = [...new Set(res.rows.map((r) => Number(r[i.lag_days])))].sort((a, b) => a - b);
    const outcomes = [...new Set(res.rows.map((r) => r[i.outcome]))];
    const cols = [lags];
    for (const o of outcomes) {
      cols.push(lags.map((l) => {
        const r = res.rows.find((x) => x[i.outcome] === o && Number(x[i.lag_days]) === l);
        return r && r[i.correlation] != null ? Number(r[i.correlation]) : null;
      }));
    }
    cols.outcomes = outcomes;
    return cols;
  }

  const LAG_COLORS = ["var(--amazon)", "var(--amazon-2)", "var(--amazon-3)", "var(--tiktok)", "var(--tiktok-3)", "var(--tiktok-2)"];

  function lagChartOpts(width, res) {
    const outcomes = lagChartData(res).outcomes;
    const grid = { stroke: "#eef0f4", width: 1 };
    return {
      width, height: 230,
      scales: { x: { time: false }, r: { range: [-1, 1] } },
      series: [{ label: "Lag", value: (u, v) => (v == null ? DASH : v + " d") }].concat(outcomes.map((o, n) => ({
        label: OUTCOMES[o] || o, scale: "r", stroke: cssVar(LAG_COLORS[n % LAG_COLORS.length]), width: 2,
        points: { show: true, size: 5 }, value: (u, v) => (v == null ? DASH : decFmt(2).format(v)),
      }))),
      axes: [{ stroke: "#667085", grid, values: (u, ticks) => ticks.map((t) => t + " d") },
        { scale: "r", stroke: "#667085", grid, size: 48, values: (u, ticks) => ticks.map((t) => decFmt(1).format(t)) }],
      legend: { live: true },
    };
  }

  async function viewHalo(main) {
    main.append(el("div", { class: "page-head" }, el("div", {},
      el("h1", { text: "Halo" }),
      el("div", { class: "sub", text: "Products ranked by how strongly Amazon demand follows their TikTok attention, significant halos first (dbt mart halo_ranking; the method is in dbt/README.md, “The halo”)." }))));
    const c = card("Halo ranking", { name: "halo", download: { path: "data/halo", params: {} }, flush: true });
    main.append(c.root);
    const res = await data("halo");
    if (res.missing) { c.body.append(missingNote(res)); return; }
    c.body.append(table(res, {
      columns: ["rank",
        { name: "title", cls: "title-cell wrap", render: (r, i) => [el("div", { class: "t", text: r[i.title] || "(no title)" }), el("div", { class: "k mono", text: r[i.product_key] })] },
        "halo_score",
        { name: "significant", render: (r, i) => el("span", { class: r[i.significant] ? "ok" : "muted", text: r[i.significant] ? "yes" : "no" }) },
        { name: "best_outcome", render: (r, i) => OUTCOMES[r[i.best_outcome]] || r[i.best_outcome] },
        { name: "best_attention_metric", render: (r, i) => METRICS[r[i.best_attention_metric]] || r[i.best_attention_metric] || DASH },
        { name: "best_lag_days", render: (r, i) => (r[i.best_lag_days] == null ? DASH : r[i.best_lag_days] + " d") },
        "strength", { name: "lift", render: (r, i) => pct(r[i.lift]) }, "p_value_adjusted",
        { name: "outcomes_significant", render: (r, i) => `${r[i.outcomes_significant]} of ${r[i.outcomes_tested]}` },
        "first_date", "last_date"],
      rowKey: "product_key",
      onRow: (row, idx) => setHash("product", { key: row[idx.product_key] }),
      empty: "The halo mart is empty: it needs products with TikTok attention and Amazon demand over several weeks.",
    }));
  }

  async function viewIdentity(main) {
    main.append(el("div", { class: "page-head" }, el("div", {},
      el("h1", { text: "Identity" }),
      el("div", { class: "sub" }, "How channel products were linked: mapping file, then GTIN, then seller SKU. A line in the mapping file (",
        el("code", { text: "transform.mapping_file" }), ") settles a conflict or links an unmatched product."))));
    const rules = card("Links per rule", { name: "identity-rules", download: { path: "data/identity_rules", params: {} }, flush: true });
    const conflicts = card("Conflicts", { name: "identity-conflicts", note: "every product each conflict involves; give each its own key, or one key to those that are the same product", download: { path: "data/identity_conflicts", params: {} }, flush: true });
    const amazon = card("Unmatched on Amazon", { name: "unmatched-amazon", download: { path: "data/identity_unmatched", params: { side: "amazon" } }, flush: true });
    const tiktok = card("Unmatched on TikTok", { name: "unmatched-tiktok", download: { path: "data/identity_unmatched", params: { side: "tiktok" } }, flush: true });
    const file = card("Mapping file lines", { name: "mapping-lines", note: "the lines suggested above, ready to paste under the header" });
    main.append(rules.root, conflicts.root, amazon.root, tiktok.root, file.root);
    const [r, c, ua, ut] = await Promise.all([data("identity_rules"), data("identity_conflicts"),
      data("identity_unmatched", { side: "amazon" }), data("identity_unmatched", { side: "tiktok" })]);
    if (r.missing) { rules.body.append(missingNote(r)); return; }
    rules.body.append(table(r, { columns: [{ name: "match_rule", render: (row, i) => ruleTag(row[i.match_rule]) }, "amazon_products", "tiktok_products", "product_keys", "in_conflict"], rowKey: "match_rule" }));

    // Conflicts, grouped: the reason once, then every product it involves.
    if (c.rows.length === 0) conflicts.body.append(el("div", { class: "empty", text: "No conflicts: every shared identifier points to one product." }));
    else {
      const ci = {};
      c.columns.forEach((col, i) => { ci[col.name] = i; });
      const cols = [{ name: "channel", render: (row, i) => chTag(row[i.channel]) }, productCell, "account",
        { name: "product_key", cls: "mono" }, lineCell("mapping_line")];
      const frag = table(c, { columns: cols, rowKey: "channel_id" });
      // Insert a group row before each conflict's first product.
      const tbody = frag.querySelector("tbody");
      if (tbody) {
        let last = null;
        [...tbody.rows].forEach((tr, n) => {
          const reason = c.rows[n][ci.conflict];
          if (reason !== last) {
            tbody.insertBefore(el("tr", { class: "group-row" }, el("td", { class: "group", colspan: cols.length, text: reason })), tr);
            last = reason;
          }
        });
      }
      conflicts.body.append(frag);
    }
    const unmatchedCols = [productCell, "account", {
      name: "mapping_line", label: "Mapping line that links it", cls: "wrap",
      render: (row, i) => [
        lineBox(row[i.mapping_line]),
        row[i.likely_same_line] ? el("div", { class: "likely" },
          el("div", { class: "likely-what" }, "likely the same as ", el("span", { class: "mono", text: row[i.likely_same_as].split(" ")[0] }),
            " “", row[i.likely_same_as].split(" ").slice(1).join(" "), "”, which this line puts under the same key:"),
          lineBox(row[i.likely_same_line])) : null],
    }];
    for (const [res, box, side] of [[ua, amazon.body, "Amazon"], [ut, tiktok.body, "TikTok"]]) {
      box.append(table(res, { columns: unmatchedCols, rowKey: "channel_id", empty: `Every ${side} product is linked.` }));
    }
    const lines = [];
    for (const res of [c, ua, ut]) {
      const i = {};
      res.columns.forEach((col, n) => { i[col.name] = n; });
      for (const row of res.rows) {
        if (row[i.mapping_line]) lines.push(row[i.mapping_line]);
        if (i.likely_same_line !== undefined && row[i.likely_same_line]) lines.push(row[i.likely_same_line]);
      }
    }
    const text = ["product_key,channel,channel_id", ...[...new Set(lines)].sort()].join("\n");
    file.body.append(el("textarea", { class: "mapping", readonly: true, "aria-label": "Suggested mapping file", rows: Math.min(12, lines.length + 2) }, text));
    file.root.querySelector(".card-head").append(el("span", { class: "dl" },
      el("a", { href: "data:text/csv;charset=utf-8," + encodeURIComponent(text + "\n"), download: "mapping.csv", title: "Download as a mapping file" }, "mapping.csv")));
  }

  async function viewPipeline(main) {
    main.append(el("div", { class: "page-head" }, el("div", {},
      el("h1", { text: "Pipeline" }),
      el("div", { class: "sub" }, "What ", el("code", { text: "shopstream status" }), " prints: ingest cursors, consumer lag, the warehouse's tables and open dead letters."))));
    const parts = [
      ["cursors", "Ingest cursors", "where each source's ingest stands"],
      ["lags", "Consumer lag", "records not yet processed, per group and topic"],
      ["tables", "Raw change tables", "rows and the newest change loaded"],
      ["dead_letters", "Open dead letters", "records no replay has loaded yet"],
    ];
    const cards = {};
    for (const [name, title, note] of parts) {
      cards[name] = card(title, { name: "pipeline-" + name, note, download: { path: "pipeline", params: { part: name } }, flush: true });
      main.append(cards[name].root);
    }
    const runs = card("Scheduled dbt runs", { name: "dbt-runs", note: "newest first", download: { path: "data/dbt_runs", params: {} }, flush: true });
    main.append(runs.root);
    const [rep, dbt] = await Promise.all([api("pipeline"), data("dbt_runs").catch((e) => ({ error: e }))]);
    const render = {
      cursors: { columns: ["cursor", "window_end", "position", { name: "moved_seconds_ago", render: (r, i) => fmtAge(r[i.moved_seconds_ago]) + " ago" }], empty: "No cursor stored yet.", rowKey: "cursor" },
      lags: { columns: ["group", "topic", "lag", "partitions_not_started"], empty: "No consumer group has committed yet.", rowKey: "topic" },
      tables: { columns: ["table", "rows", "newest_change", { name: "age_seconds", render: (r, i) => fmtAge(r[i.age_seconds]) }], rowKey: "table" },
      dead_letters: { columns: ["topic", "stage", "open"], empty: "None: nothing waits for a replay (shopstream dlq replay).", rowKey: "topic" },
    };
    for (const [name] of parts) {
      const err = rep[name === "dead_letters" ? "tables_error" : name + "_error"];
      if (err) cards[name].body.append(errorNote(new Error("unavailable: " + err)));
      else cards[name].body.append(table(rep[name], render[name]));
    }
    if (dbt.error) runs.body.append(errorNote(dbt.error));
    else if (dbt.missing) runs.body.append(missingNote(dbt));
    else {
      runs.body.append(table(dbt, {
        columns: ["started_at",
          { name: "status", render: (r, i) => el("span", { class: r[i.status] === "success" ? "ok" : r[i.status] === "skipped" ? "muted" : "bad", text: r[i.status] }) },
          { name: "duration_seconds", render: (r, i) => fmtAge(r[i.duration_seconds]) },
          { name: "waited_seconds", render: (r, i) => fmtAge(r[i.waited_seconds]) },
          "models_ok", "models_failed", { name: "failed_models", cls: "wrap" }, "tests_ok", "tests_failed", { name: "failed_tests", cls: "wrap" },
          "skipped", { name: "error", cls: "wrap" }],
        rowKey: "run_id",
        empty: "No scheduled run yet: set dbt.schedule for run to build the models, or run dbt yourself (see the README).",
      }));
    }
  }

  // ---- Router ------------------------------------------------------------
  const VIEWS = { products: viewProducts, product: viewProduct, halo: viewHalo, identity: viewIdentity, pipeline: viewPipeline };
  let generation = 0;

  function parseRoute() {
    const h = location.hash.replace(/^#\/?/, "");
    const [path, qs] = h.split("?");
    const view = VIEWS[path] ? path : "products";
    return { view, params: new URLSearchParams(qs || "") };
  }

  async function render() {
    const gen = ++generation;
    const route = parseRoute();
    delete document.body.dataset.ready;
    delete document.body.dataset.failed;
    document.querySelectorAll(".tabs a").forEach((a) => a.classList.toggle("active", a.dataset.view === (route.view === "product" ? "products" : route.view)));
    bindPeriod(route);
    for (const k of Object.keys(charts_)) { charts_[k].destroy(); delete charts_[k]; }
    const main = $("#main");
    main.replaceChildren();
    $("#banner").hidden = true;
    try {
      await VIEWS[route.view](main, route);
      if (gen === generation) {
        document.body.dataset.route = location.hash;
        document.body.dataset.ready = route.view;
      }
    } catch (err) {
      if (gen !== generation) return;
      $("#banner").textContent = "Could not load this view: " + (err.message || err);
      $("#banner").hidden = false;
      document.body.dataset.route = location.hash;
      document.body.dataset.ready = route.view;
      document.body.dataset.failed = "true";
    }
  }

  async function start() {
    try {
      state.meta = await api("meta");
      $("#readonly").textContent = "Read-only: " + state.meta.read_only;
      if (state.meta.tables.product_daily) {
        const r = await data("range");
        if (r.rows.length && r.rows[0][0]) state.range = { first_day: r.rows[0][0], last_day: r.rows[0][1] };
      }
    } catch (err) {
      $("#banner").textContent = "The warehouse does not answer: " + (err.message || err);
      $("#banner").hidden = false;
      document.body.dataset.ready = "none";
      return;
    }
    window.addEventListener("hashchange", render);
    let resize;
    window.addEventListener("resize", () => {
      clearTimeout(resize);
      resize = setTimeout(() => {
        for (const u of Object.values(charts_)) u.setSize({ width: u.root.parentElement.clientWidth, height: 230 });
      }, 150);
    });
    render();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
