// Starts Pagefind's search box on the search page; a query in ?q= runs at once.
window.addEventListener("DOMContentLoaded", function () {
  var box = document.getElementById("search");
  if (!box) {
    return;
  }
  if (typeof PagefindUI === "undefined") {
    // The index (pagefind/) was not published with the pages: say so.
    var missing = document.getElementById("search-missing");
    if (missing) {
      missing.hidden = false;
    }
    return;
  }
  var ui = new PagefindUI({
    element: "#search",
    bundlePath: box.getAttribute("data-bundle"),
    showSubResults: false,
    showImages: false,
  });
  var query = new URLSearchParams(window.location.search).get("q");
  if (query) {
    ui.triggerSearch(query);
  }
});
