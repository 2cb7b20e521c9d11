// Keeps a page that shows an export being prepared up to date without a click: every few
// seconds it fetches the same page and swaps in its export region (#export-region). The pages
// work without it (each has a Refresh link). It never touches the region while keyboard focus
// is inside it, and stops once the export is no longer pending. The region is marked
// aria-busy while pending, so screen readers announce the result once, not every tick.
(function () {
  "use strict";
  var every = 3000;

  function focusInside(el) {
    return el.contains(document.activeElement) && document.activeElement !== document.body;
  }

  function tick() {
    var region = document.getElementById("export-region");
    if (!region || !window.fetch || !window.DOMParser) {
      return;
    }
    window
      .fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) {
        return r.ok ? r.text() : Promise.reject(r.status);
      })
      .then(function (html) {
        var doc = new window.DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("export-region");
        if (!fresh) {
          return;
        }
        var pending = fresh.querySelector("[data-export-pending]") !== null ||
          fresh.hasAttribute("data-export-pending");
        if (!focusInside(region)) {
          region.innerHTML = fresh.innerHTML;
          if (pending) {
            region.setAttribute("aria-busy", "true");
          } else {
            region.removeAttribute("aria-busy");
            region.removeAttribute("data-export-pending");
          }
        }
        if (pending || focusInside(region)) {
          window.setTimeout(tick, every);
        }
      })
      .catch(function () {
        // Leave the page as it is: its Refresh link still works.
      });
  }

  window.setTimeout(tick, every);
})();
