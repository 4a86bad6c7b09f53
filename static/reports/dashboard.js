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
    drawMap(d);
    root.dataset.generated = d.generated_at;
    root.dataset.lastBatch = last ? String(last.id) : "";
  }

  // --- the map: county boundaries (reports/geo.py) coloured by load, breached clocks as red dots ---
  var LOAD_COLOURS = ["#e8f5e9", "#f1f8e9", "#f9fbe7", "#fffde7", "#fff8e1", "#fff3e0", "#ffe0b2", "#ffcc80",
    "#ffab91", "#ef9a9a", "#e57373"];
  var geo = null, map = null, shapes = null, dots = null, lastData = null;
  var mapBox = document.getElementById("dashboard-map");
  var here = root.dataset.root || "";

  function childOf(code, divisions) {
    // The child division (of the dashboard's division) a county belongs to: a city or the county itself.
    for (var i = 0; i < divisions.length; i++) {
      var c = divisions[i].code;
      if (code.indexOf(c) === 0 || c.indexOf(code) === 0) return divisions[i];
    }
    return null;
  }

  function drawMap(d) {
    lastData = d;
    if (!mapBox || !window.L || !geo) return;
    if (!map) {
      map = L.map(mapBox, { scrollWheelZoom: false, attributionControl: false, zoomSnap: 0.25 });
      L.control.scale({ imperial: false }).addTo(map);
    }
    if (shapes) shapes.remove();
    if (dots) dots.remove();
    var inside = geo.features.filter(function (f) {
      return f.properties.code.indexOf(here) === 0 || here.indexOf(f.properties.code) === 0;
    });
    // At a county and below there are no finer boundaries: the county outline only, uncoloured.
    var deeper = here.length >= 6;
    shapes = L.geoJSON({ type: "FeatureCollection", features: inside }, {
      style: function (f) {
        var child = deeper ? null : childOf(f.properties.code, d.divisions);
        var load = child ? Math.round(child.load * 10) : 0;
        return { color: "#5b6775", weight: 1, fillColor: LOAD_COLOURS[load], fillOpacity: child ? 0.85 : 0.3 };
      },
      onEachFeature: function (f, layer) {
        var child = deeper ? null : childOf(f.properties.code, d.divisions);
        var tip = f.properties.name + (child ? " · " + (child.name || child.code) + " " + child.active : "");
        layer.bindTooltip(tip, { sticky: true });
        if (child && child.code !== here) {
          layer.on("click", function () { window.location.href = "?division=" + encodeURIComponent(child.code); });
        }
      },
    }).addTo(map);
    dots = L.layerGroup().addTo(map);
    var centres = {};
    geo.features.forEach(function (f) { centres[f.properties.code] = [f.properties.lat, f.properties.lon]; });
    d.clocks.breached.forEach(function (t, i) {
      var at = centres[String(t.division).slice(0, 6)];
      if (!at) return;
      // Spread the dots of one county a little so that each stays clickable.
      var angle = i * 2.4, r = 0.01 * Math.sqrt(i + 1);
      var dot = L.circleMarker([at[0] + r * Math.sin(angle), at[1] + r * Math.cos(angle)], {
        radius: 6, color: "#fff", weight: 1, fillColor: "#b3261e", fillOpacity: 0.95,
      }).addTo(dots);
      dot.bindTooltip((mapBox.dataset.breached || "") + " T" + t.id + " · " + label("status", t.status));
      dot.on("click", function () { window.location.href = t.url; });
    });
    if (inside.length) map.fitBounds(shapes.getBounds(), { padding: [10, 10] });
    mapBox.dataset.ready = "true";
    mapBox.dataset.features = String(inside.length);
  }

  function loadGeo() {
    if (!mapBox || !root.dataset.geo) return;
    fetch(root.dataset.geo, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) { geo = data; if (lastData) drawMap(lastData); } });
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
    loadGeo();
    window.setTimeout(refresh, poll);
  });
})();
