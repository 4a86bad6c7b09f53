// The top bar's menus. Without this script every menu still opens (they are <details>) and a phone shows
// the navigation as one row; with it, a phone gets a "menu" button, an open menu closes on Escape, on a
// click elsewhere, or when another one opens (for browsers without exclusive <details name>).
(function () {
  "use strict";
  var nav = document.getElementById("topnav");
  var toggle = document.querySelector(".navtoggle");
  if (!nav || !toggle) return;
  document.documentElement.classList.add("js-nav");
  var groups = Array.prototype.slice.call(nav.querySelectorAll("details.navgroup"));

  function closeMenus(except) {
    groups.forEach(function (group) {
      if (group !== except) group.open = false;
    });
  }

  toggle.addEventListener("click", function () {
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    nav.classList.toggle("open", open);
    if (open) {
      var current = nav.querySelector("details.navgroup.current");
      if (current) current.open = true;
    }
  });

  groups.forEach(function (group) {
    group.addEventListener("toggle", function () {
      if (group.open) closeMenus(group);
    });
  });

  document.addEventListener("click", function (event) {
    if (!nav.contains(event.target) && event.target !== toggle) closeMenus(null);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var open = groups.filter(function (group) { return group.open; })[0];
    if (open) {
      open.open = false;
      open.querySelector("summary").focus();
    } else if (toggle.getAttribute("aria-expanded") === "true" && nav.contains(document.activeElement)) {
      toggle.click();
      toggle.focus();
    }
  });
})();
