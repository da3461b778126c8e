// The status page: reads /api/status every few seconds and draws it with DOM calls only.
// Every string from the API (queue and kind names, error texts) comes from jobs, so it is
// only ever set as textContent or an attribute value, never parsed as markup.
"use strict";

(function () {
  const REFRESH_MS = 5000;
  const SVG = "http://www.w3.org/2000/svg";
  let lastGood = null;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    return node;
  }

  function num(v) {
    return typeof v === "number" && isFinite(v) ? v : 0;
  }

  function age(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "–";
    let s = Math.max(0, Math.round(seconds));
    if (s < 60) return s + "s";
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    if (d > 0) return d + "d " + h + "h";
    if (h > 0) return h + "h " + m + "m";
    return s === 0 ? m + "m" : m + "m " + s + "s";
  }

  function when(text) {
    if (!text) return "–";
    // PostgreSQL's "2026-12-02 04:00:00.123+00" as ISO 8601, which every browser parses.
    const iso = String(text).replace(/^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d)$/, "$1T$2$3:00");
    const t = new Date(iso);
    return isNaN(t.getTime()) ? String(text) : t.toLocaleString();
  }

  // `atLeast`: the count stopped at the server's cap, so the true figure is this or more.
  function countCell(name, value, badWhenPositive, atLeast) {
    if (typeof value !== "number") return el("td", { class: "n " + name, title: "not counted (see the hints)" }, "–");
    const cls = "n " + name + (value === 0 ? " zero" : badWhenPositive ? " bad" : "");
    return el("td", { class: cls }, (atLeast ? "≥ " : "") + value.toLocaleString("en-US"));
  }

  const COLUMNS = [
    ["available", "available", false],
    ["scheduled", "scheduled", false],
    ["running", "running", false],
    ["completed_last_hour", "completed 1h", false],
    ["failed_last_hour", "failed 1h", true],
    ["discarded_last_hour", "discarded 1h", true],
  ];

  function renderQueues(data) {
    const box = document.getElementById("queues");
    const tables = Array.isArray(data.stats) ? data.stats : [];
    const parts = [];
    for (const stats of tables) {
      if (tables.length > 1) parts.push(el("h3", {}, "Table " + (stats.table || "?")));
      const head = el("tr", {}, el("th", {}, "queue"), el("th", {}, "kind"));
      for (const [, label] of COLUMNS) head.append(el("th", { class: "n" }, label));
      head.append(el("th", { class: "n" }, "oldest due"), el("th", { class: "n" }, "longest running"));
      const body = el("tbody");
      for (const q of Array.isArray(stats.queues) ? stats.queues : []) {
        const kinds = Array.isArray(q.kinds) && q.kinds.length ? q.kinds : [{ kind: "" }];
        kinds.forEach((k, i) => {
          const row = el("tr", { "data-table": stats.table || "", "data-queue": q.queue, "data-kind": k.kind || "" });
          const qcell = el("td", { class: "queue" });
          if (i === 0) {
            qcell.append(document.createTextNode(String(q.queue)));
            if (q.paused) qcell.append(el("span", { class: "badge paused", title: "paused: no daemon claims from it" }, "paused"));
          }
          row.append(qcell, el("td", { class: "kind" }, k.kind || "(no jobs)"));
          const capped = Array.isArray(k.lower_bounds) ? k.lower_bounds : [];
          for (const [key, , bad] of COLUMNS) row.append(countCell(key, k[key], bad, capped.includes(key)));
          row.append(el("td", { class: "n oldest_due" }, age(k.oldest_due_age_seconds)),
                     el("td", { class: "n longest_running" }, age(k.longest_running_seconds)));
          body.append(row);
        });
      }
      if (!body.childElementCount) parts.push(el("p", { class: "muted" }, "No jobs in " + (stats.table || "the table") + "."));
      else parts.push(el("table", { class: "queues" }, el("thead", {}, head), body));
      for (const hint of Array.isArray(stats.hints) ? stats.hints : []) parts.push(el("p", { class: "hint muted small" }, String(hint)));
    }
    if (!parts.length) parts.push(el("p", { class: "muted" }, "No data."));
    box.replaceChildren(...parts);
  }

  function renderThroughput(data) {
    const box = document.getElementById("throughput");
    const t = data.throughput || {};
    const completed = Array.isArray(t.completed) ? t.completed.map(num) : [];
    const failed = Array.isArray(t.failed) ? t.failed.map(num) : [];
    const interval = num(t.interval_seconds) || 5;
    const n = Math.max(completed.length, failed.length);
    if (n === 0) {
      box.replaceChildren(el("p", { class: "muted" }, "No samples yet (one every " + interval + "s)."));
      return;
    }
    const W = 900, H = 110, top = 10, bottom = 18, left = 40;
    const slots = Math.max(n, Math.round(900 / interval));  // 15 minutes wide
    const bw = (W - left) / slots;
    let max = 1;
    for (let i = 0; i < n; i++) max = Math.max(max, num(completed[i]) + num(failed[i]));
    const scale = (H - top - bottom) / max;
    const chart = svg("svg", { class: "chart", viewBox: "0 0 " + W + " " + H, role: "img" });
    const title = svg("title");
    title.textContent = "jobs finished per " + interval + "s";
    chart.append(title);
    chart.append(svg("line", { class: "axis", x1: left, y1: H - bottom, x2: W, y2: H - bottom }));
    chart.append(svg("line", { class: "axis", x1: left, y1: top, x2: left, y2: H - bottom }));
    const label = (x, y, text, anchor) => {
      const node = svg("text", { x: x, y: y, "text-anchor": anchor || "start" });
      node.textContent = text;
      chart.append(node);
    };
    label(left - 4, top + 4, String(max), "end");
    label(left - 4, H - bottom, "0", "end");
    label(left, H - 4, age(slots * interval) + " ago");
    label(W, H - 4, "now", "end");
    for (let i = 0; i < n; i++) {
      const x = left + (slots - n + i) * bw;
      const c = num(completed[i]) * scale, f = num(failed[i]) * scale;
      if (c > 0) chart.append(svg("rect", { class: "completed", x: x, y: H - bottom - c, width: Math.max(bw - 1, 1), height: c }));
      if (f > 0) chart.append(svg("rect", { class: "failed", x: x, y: H - bottom - c - f, width: Math.max(bw - 1, 1), height: f }));
    }
    const recent = Math.min(n, Math.round(300 / interval));
    let rc = 0, rf = 0;
    for (let i = n - recent; i < n; i++) { rc += num(completed[i]); rf += num(failed[i]); }
    const legend = el("p", { class: "legend small" },
      el("span", {}, "jobs per " + interval + "s:"),
      el("span", {}, el("span", { class: "swatch completed" }), "completed"),
      el("span", {}, el("span", { class: "swatch failed" }), "errors (retried, failed or discarded)"),
      el("span", { id: "throughput-recent", class: "muted" },
         "last " + age(recent * interval) + ": " + rc + " completed, " + rf + " errors"));
    box.replaceChildren(chart, legend);
  }

  function renderFailures(data) {
    const box = document.getElementById("failures");
    const rows = Array.isArray(data.recent_failures) ? data.recent_failures : [];
    if (!rows.length) {
      box.replaceChildren(el("p", { class: "muted" }, "No failed or discarded jobs."));
      return;
    }
    const head = el("tr", {}, el("th", { class: "n" }, "id"), el("th", {}, "kind"), el("th", {}, "queue"),
                    el("th", {}, "state"), el("th", { class: "n" }, "attempt"), el("th", {}, "at"), el("th", {}, "error"));
    const body = el("tbody");
    for (const f of rows) {
      body.append(el("tr", { class: "failure", "data-id": f.id },
        el("td", { class: "n id" }, f.id),
        el("td", { class: "kind" }, f.kind || ""),
        el("td", { class: "queue" }, f.queue || ""),
        el("td", { class: "state" }, f.state || ""),
        el("td", { class: "n attempt" }, num(f.attempt) + "/" + num(f.max_attempts)),
        el("td", { class: "at" }, when(f.at)),
        el("td", {}, el("pre", { class: "error" }, f.error === null || f.error === undefined ? "" : String(f.error)))));
    }
    box.replaceChildren(el("table", { class: "failures" }, el("thead", {}, head), body));
  }

  function showBanner(text, stale) {
    const banner = document.getElementById("banner");
    banner.textContent = text;
    banner.className = "banner" + (stale ? " stale" : "");
    banner.dataset.state = stale ? "fetch-failed" : "database-down";
  }

  function hideBanner() {
    const banner = document.getElementById("banner");
    banner.textContent = "";
    banner.className = "banner hidden";
    delete banner.dataset.state;
  }

  function render(data) {
    const tables = Array.isArray(data.tables) ? data.tables.join(", ") : "";
    document.getElementById("summary").textContent =
      (tables ? "table " + tables + " · " : "") + "updated " + when(data.generated_at);
    if (data.database_up === false) {
      showBanner("pgxqd cannot reach the database: " + (data.error || "unknown error") +
                 (lastGood ? "\nShowing the last figures read at " + when(lastGood) + "." : ""), false);
    } else {
      hideBanner();
      lastGood = data.generated_at || null;
      renderQueues(data);
      renderFailures(data);
    }
    renderThroughput(data);
  }

  async function refresh() {
    try {
      const response = await fetch("/api/status", { cache: "no-store", credentials: "omit" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      render(await response.json());
    } catch (e) {
      showBanner("Cannot load /api/status from pgxqd: " + (e && e.message ? e.message : String(e)) +
                 (lastGood ? "\nShowing the last figures read at " + when(lastGood) + "." : ""), true);
    } finally {
      setTimeout(refresh, REFRESH_MS);
    }
  }

  refresh();
})();
