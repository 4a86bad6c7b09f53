// "Select all" checkbox of the bulk re-assignment table: <input type="checkbox" data-select-all="field">.
(function () {
  "use strict";
  document.querySelectorAll("[data-select-all]").forEach(function (box) {
    var name = box.getAttribute("data-select-all");
    box.addEventListener("change", function () {
      box.form.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (c) { c.checked = box.checked; });
    });
  });
})();
