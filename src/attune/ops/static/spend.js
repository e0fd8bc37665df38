// Spend panel: the Refresh link shows that it is working, and a refreshed page drops
// "?refresh=1" from its address so reloading it later does not ask Anthropic again.
(() => {
  "use strict";
  document.addEventListener("DOMContentLoaded", () => {
    const url = new URL(window.location.href);
    if (url.searchParams.has("refresh")) {
      url.searchParams.delete("refresh");
      window.history.replaceState(null, "", url.pathname + url.search + url.hash);
    }
    const button = document.getElementById("spend-refresh");
    if (button) {
      button.addEventListener("click", () => {
        button.textContent = "Refreshing…";
        button.setAttribute("aria-busy", "true");
      });
    }
  });
})();
