// The public display board reloads itself (data-refresh seconds) so a wall screen stays current.
(function () {
  var board = document.querySelector("[data-refresh]");
  if (!board) return;
  var seconds = parseInt(board.getAttribute("data-refresh"), 10) || 60;
  window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
})();
