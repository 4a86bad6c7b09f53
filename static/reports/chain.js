/* Chain of transmission (issue 7): Cytoscape.js graph of a case's tasks, one row per generation. */
(function () {
  "use strict";
  var box = document.getElementById("chain");
  if (!box) return;
  var COLORS = { new: "#9e9e9e", dispatched: "#42a5f5", received: "#29b6f6", radius_limited: "#26a69a", traced: "#66bb6a",
    submitted: "#ffca28", returned: "#ff7043", approved: "#2e7d32", reported: "#1b5e20", closed: "#607d8b",
    transferring: "#ab47bc", merged: "#bdbdbd", cancelled: "#bdbdbd" };
  window.addEventListener("load", function () {
    fetch(box.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (d) {
        var count = document.querySelector('[data-field="count"]');
        if (count) count.textContent = d.nodes.length + " / " + d.edges.length + (d.truncated ? " (truncated)" : "");
        var perGen = {};
        var elements = d.nodes.map(function (n) {
          var i = perGen[n.depth] = (perGen[n.depth] || 0) + 1;
          return { group: "nodes", data: Object.assign({ color: COLORS[n.status] || "#999" }, n), position: { x: i * 40, y: n.depth * 120 } };
        }).concat(d.edges.map(function (e) { return { group: "edges", data: e }; }));
        var cy = window.cytoscape({
          container: box, elements: elements, layout: { name: "preset" }, wheelSensitivity: 0.3,
          textureOnViewport: true, hideEdgesOnViewport: d.nodes.length > 500,
          style: [
            { selector: "node", style: { "background-color": "data(color)", label: "data(label)", "font-size": 10, width: 18, height: 18 } },
            { selector: "edge", style: { width: 1, "line-color": "#bbb", "target-arrow-shape": "triangle", "target-arrow-color": "#bbb", "curve-style": "straight" } },
          ],
        });
        cy.fit();
        var detail = document.getElementById("chain-detail");
        cy.on("tap", "node", function (ev) {
          var n = ev.target.data();
          detail.textContent = [n.label, "generation " + n.generation, n.status, "dispatched " + (n.dispatched_at || "—"),
            "traced " + (n.traced_at || "—"), "trace due " + (n.trace_due || "—")].join("\n");
          if (n.url && ev.originalEvent && ev.originalEvent.detail > 1) window.location = n.url;
        });
      });
  });
})();
