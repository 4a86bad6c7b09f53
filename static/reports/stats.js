/* Statistics page: a Chart.js trend of the hour/day table (data from a json_script block). */
(function () {
  "use strict";
  var data = document.getElementById("stats-rows"), canvas = document.getElementById("stats-chart");
  if (!data || !canvas) return;
  window.addEventListener("load", function () {
    var rows = JSON.parse(data.textContent);
    if (!rows.length || !window.Chart) return;
    var key = Object.keys(rows[0])[0];
    var names = JSON.parse((document.getElementById("stats-labels") || {}).textContent || "{}");
    // Beijing time whatever the browser's own zone: every time in the product is shown in Asia/Shanghai.
    var fmt = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hour12: false });
    var labels = rows.map(function (r) { return fmt.format(new Date(r[key])); });
    var series = ["created", "dispatched", "radius_limited", "traced", "approved"].map(function (name) {
      return { label: names[name] || name, data: rows.map(function (r) { return r[name]; }) };
    });
    new window.Chart(canvas, { type: "line", data: { labels: labels, datasets: series },
      options: { animation: false, responsive: true, maintainAspectRatio: false } });
  });
})();
