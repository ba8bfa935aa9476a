// A little help for the options menus (details/summary, which work without
// this): Escape closes an open menu and returns focus to its button, and a
// click elsewhere closes it. Copy buttons copy a generated secret.
document.addEventListener("keydown", function (e) {
  if (e.key !== "Escape") return;
  document.querySelectorAll("details.menu[open]").forEach(function (d) {
    d.open = false;
    d.querySelector("summary").focus();
  });
});
document.addEventListener("click", function (e) {
  document.querySelectorAll("details.menu[open]").forEach(function (d) {
    if (!d.contains(e.target)) d.open = false;
  });
  var b = e.target.closest("[data-copy]");
  if (!b) return;
  var input = document.getElementById(b.getAttribute("data-copy"));
  input.select();
  if (navigator.clipboard) {
    navigator.clipboard.writeText(input.value).then(function () { b.textContent = "Copied"; });
  }
});
