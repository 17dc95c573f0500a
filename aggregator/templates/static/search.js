// Starts Pagefind's search box on the search page; a query in ?q= runs at once.
window.addEventListener("DOMContentLoaded", function () {
  var box = document.getElementById("search");
  if (!box) {
    return;
  }
  // Pagefind fetches its index, which a browser refuses for a page opened from disk
  // (file:): the search would say "Searching..." for ever. Without PagefindUI the index
  // (pagefind/) was not published with the pages. Either way, say so.
  var notice = null;
  if (window.location.protocol === "file:") {
    notice = document.getElementById("search-local");
  } else if (typeof PagefindUI === "undefined") {
    notice = document.getElementById("search-missing");
  }
  if (notice) {
    notice.hidden = false;
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
