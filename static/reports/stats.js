/* Statistics page: a Chart.js trend of the hour/day table (data from a json_script block). */
(function () {
  "use strict";
  var data = document.getElementById("stats-rows"), canvas = document.getElementById("stats-chart");
  if (!data || !canvas) return;
  window.addEventListener("load", function () {
    var rows = JSON.parse(data.textContent);
    if (!rows.length || !window.Chart) return;
    var key = Object.keys(rows[0])[0];
    var labels = rows.map(function (r) { return new Date(r[key]).toLocaleString(); });
    var series = ["created", "dispatched", "radius_limited", "traced", "approved"].map(function (name) {
      return { label: name, data: rows.map(function (r) { return r[name]; }) };
    });
    new window.Chart(canvas, { type: "line", data: { labels: labels, datasets: series },
      options: { animation: false, responsive: true, maintainAspectRatio: false } });
  });
})();
