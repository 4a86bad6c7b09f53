// Division picker: search /api/v1/divisions/?q= by name or code, pick one into the code field.
// Markup: templates/dispatch/_division_picker.html. No inline script (CSP).
(function () {
  "use strict";
  function setup(root) {
    var input = root.querySelector("[data-picker-input]");
    var list = root.querySelector("[data-picker-results]");
    var code = root.querySelector("[data-picker-code]");
    var chosen = root.querySelector("[data-picker-chosen]");
    var level = root.getAttribute("data-level");
    var url = root.getAttribute("data-url");
    var timer = null;
    var seq = 0;
    function show(rows) {
      list.textContent = "";
      rows.forEach(function (row) {
        var li = document.createElement("li");
        var button = document.createElement("button");
        button.type = "button";
        button.className = "link";
        button.textContent = row.name + " (" + row.code + ")";
        button.addEventListener("click", function () {
          code.value = row.code;
          chosen.textContent = row.name + " · " + row.code;
          list.textContent = "";
        });
        li.appendChild(button);
        list.appendChild(li);
      });
    }
    function search() {
      var q = input.value.trim();
      if (!q) { list.textContent = ""; return; }
      var params = new URLSearchParams({ q: q, page_size: "20" });
      if (level) params.set("level", level);
      var mine = ++seq;
      fetch(url + "?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { results: [] }; })
        .then(function (data) { if (mine === seq) show(data.results || []); })
        .catch(function () { if (mine === seq) show([]); });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(search, 250);
    });
  }
  document.querySelectorAll("[data-division-picker]").forEach(setup);
})();
