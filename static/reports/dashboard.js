/* Duty dashboard (issue 7): polls the data endpoint and redraws in place; no page reload, no inline
   script (CSP). The first picture comes from the json_script block rendered with the page. */
(function () {
  "use strict";
  var root = document.getElementById("dashboard");
  if (!root) return;
  var url = root.dataset.url, poll = (parseInt(root.dataset.poll, 10) || 15) * 1000, chart = null;

  function field(name) { return root.querySelector('[data-field="' + name + '"]'); }
  function list(name) { return root.querySelector('[data-list="' + name + '"]'); }
  function text(name, value) { var el = field(name); if (el) el.textContent = value == null ? "—" : value; }
  function el(tag, cls, content) { var e = document.createElement(tag); if (cls) e.className = cls; if (content != null) e.textContent = content; return e; }
  var labels = {};
  function label(kind, value) { return (labels[kind] && labels[kind][value]) || value; }
  // Every time in the product is Beijing time, whatever zone the browser is set to.
  var beijing = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  var beijingHour = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit", hour12: false });
  var legend = JSON.parse((document.getElementById("trend-labels") || {}).textContent || "{}");
  function when(iso) { return iso ? beijing.format(new Date(iso)) : "—"; }

  function render(d) {
    if (d.labels) labels = d.labels;
    text("division", d.division.name);
    text("generated_at", when(d.generated_at));
    var last = d.batches.last;
    text("last_batch", last ? "#" + last.id : "—");
    if (last) { field("last_batch_link").setAttribute("href", last.url); }
    text("last_batch_detail", last ? when(last.started_at) + " · " + label("batch_status", last.status) + " · " + last.tasks_here : "");
    text("next_batch", when(d.batches.next_at));
    ["active", "total", "warning", "overdue"].forEach(function (k) { text(k, d.totals[k]); });
    text("unresolved", d.queues.unresolved);
    text("transfers", d.queues.transfers_pending);

    var tbody = list("by_status"); tbody.replaceChildren();
    Object.keys(d.by_status).forEach(function (s) {
      var tr = el("tr"); tr.append(el("th", null, label("status", s)), el("td", null, d.by_status[s])); tbody.append(tr);
    });
    ["breached", "expiring"].forEach(function (k) {
      var ul = list(k); ul.replaceChildren();
      d.clocks[k].forEach(function (t) {
        var li = el("li"), a = el("a", null, "T" + t.id); a.href = t.url;
        li.append(a, document.createTextNode(" " + label("status", t.status) + " · " + t.division + " · " + when(t.deadline) + " (" + t.minutes + " min)"));
        ul.append(li);
      });
      if (!d.clocks[k].length) ul.append(el("li", "muted", "—"));
    });
    var tiles = list("tiles"); tiles.replaceChildren();
    var rows = list("divisions"); rows.replaceChildren();
    d.divisions.forEach(function (v) {
      var tile = el("div", "tile load-" + Math.round(v.load * 10));
      tile.title = v.code;
      tile.append(el("span", "tile-name", v.name || v.code), el("span", "tile-n", v.active));
      tiles.append(tile);
      var tr = el("tr");
      [v.name + " (" + v.code + ")", v.total, v.active, v.warning, v.overdue, v.unresolved].forEach(function (c) { tr.append(el("td", null, c)); });
      rows.append(tr);
    });
    drawTrend(d.trend);
    root.dataset.generated = d.generated_at;
    root.dataset.lastBatch = last ? String(last.id) : "";
  }

  function drawTrend(trend) {
    if (!window.Chart) return;
    var labels = trend.rows.map(function (r) { return beijingHour.format(new Date(r[0])).replace(/\D/g, "") + ":00"; });
    var series = ["created", "dispatched", "traced", "approved"].map(function (name) {
      var i = trend.columns.indexOf(name);
      return { label: legend[name] || name, data: trend.rows.map(function (r) { return r[i]; }) };
    });
    if (chart) {
      chart.data.labels = labels;
      series.forEach(function (s, i) { chart.data.datasets[i].data = s.data; });
      chart.update("none");
      return;
    }
    chart = new window.Chart(document.getElementById("trend-chart"), {
      type: "line", data: { labels: labels, datasets: series },
      options: { animation: false, responsive: true, maintainAspectRatio: false },
    });
  }

  function refresh() {
    // X-Idle-Passive: polling is not activity; an unattended dashboard still times out (tasks/security_middleware.py).
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json", "X-Idle-Passive": "1" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(render)
      .catch(function () { root.classList.add("stale"); })
      .then(function () { window.setTimeout(refresh, poll); });
  }

  var initial = document.getElementById("dashboard-initial");
  window.addEventListener("load", function () {
    if (initial) render(JSON.parse(initial.textContent));
    window.setTimeout(refresh, poll);
  });
})();
