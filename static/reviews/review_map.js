/* The review map: the located trajectory entries as numbered points joined in time order, on the
   tile server of settings.MAP_TILE_URL, or on a plain background when there is none (no tiles, no
   outside requests). Data comes from the page's <script type="application/json" id="trajectory-points">.
   No inline script, no inline style (CSP): Leaflet styles its elements through the CSSOM. */
(function () {
  "use strict";

  function colour(severity) {
    if (severity === "error") return "#b3261e";
    if (severity === "warning") return "#b26a00";
    return "#1f5fa8";
  }

  function init() {
    var box = document.getElementById("review-map");
    var data = document.getElementById("trajectory-points");
    if (!box || !data || typeof L === "undefined") return;
    var points = JSON.parse(data.textContent || "[]");
    if (!points.length) {
      box.classList.add("empty");
      box.textContent = box.getAttribute("data-empty") || "";
      return;
    }
    var map = L.map(box, { scrollWheelZoom: false, attributionControl: true });
    L.control.scale({ imperial: false }).addTo(map);
    var tiles = box.getAttribute("data-tile-url");
    if (tiles) {
      L.tileLayer(tiles, { maxZoom: 18, attribution: box.getAttribute("data-attribution") || "" }).addTo(map);
    } else if (box.getAttribute("data-geo-url")) {
      // No tile server: the county outlines (vendored GeoJSON) give the points a place on the island.
      fetch(box.getAttribute("data-geo-url"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          var outline = L.geoJSON(data, {
            interactive: false,
            style: function () { return { color: "#7b8794", weight: 1, fillColor: "#eef2f5", fillOpacity: 0.7 }; },
          }).addTo(map);
          outline.bringToBack();
          box.setAttribute("data-outline", "true");
        });
    }
    var line = [];
    points.forEach(function (p) {
      var at = [p.lat, p.lon];
      line.push(at);
      var marker = L.circleMarker(at, {
        radius: 9, color: "#fff", weight: 2, fillColor: colour(p.severity), fillOpacity: 0.95,
      }).addTo(map);
      marker.bindTooltip(String(p.n), { permanent: true, direction: "center", className: "map-number" });
      var popup = document.createElement("div");
      var title = document.createElement("strong");
      title.textContent = p.n + ". " + p.place;
      popup.appendChild(title);
      popup.appendChild(document.createElement("br"));
      popup.appendChild(document.createTextNode(p.from + " – " + p.until));
      marker.bindPopup(popup);
      marker.on("click", function () {
        var row = document.getElementById("trajectory-" + p.id);
        if (row) {
          row.classList.add("flash");
          window.setTimeout(function () { row.classList.remove("flash"); }, 1500);
        }
      });
    });
    if (line.length > 1) L.polyline(line, { color: "#5b6775", weight: 2, dashArray: "4 4" }).addTo(map);
    if (line.length === 1) map.setView(line[0], 13);
    else map.fitBounds(L.latLngBounds(line), { padding: [30, 30], maxZoom: 15 });
    box.setAttribute("data-ready", "true");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
