// The console works without script; this adds two conveniences.
//
// 1. The overview refreshes its body from the server's fragment.
(function () {
  "use strict";
  var box = document.getElementById("overview");
  if (!box) return;
  var seconds = parseInt(box.getAttribute("data-refresh"), 10) || 15;
  var url = box.getAttribute("data-fragment");
  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.redirected || !response.ok) {
          // Signed out or expired: a full load shows the sign-in page.
          if (response.redirected) window.location.assign("/admin/sign-in");
          return null;
        }
        return response.text();
      })
      .then(function (html) {
        if (html !== null) box.innerHTML = html;
      })
      .catch(function () { /* offline for a moment: the next tick retries */ });
  }
  window.setInterval(refresh, seconds * 1000);
})();

// 2. Maintenance times in the browser's time zone: a fresh schedule form's zone field
// (the server's UTC) takes the browser's IANA zone, and the edit links ask for the
// times in it. The server converts to UTC; without script the form says UTC.
(function () {
  "use strict";
  var zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (e) {
    return;
  }
  if (!zone) return;
  var fields = document.querySelectorAll("input[data-browser-zone]");
  Array.prototype.forEach.call(fields, function (field) {
    if (field.value !== field.defaultValue) return; // typed in already (back/forward cache)
    field.value = zone;
    var hint = document.getElementById(field.getAttribute("data-browser-zone"));
    if (hint && hint.getAttribute("data-browser-text")) {
      hint.textContent = hint.getAttribute("data-browser-text");
    }
  });
  var links = document.querySelectorAll("a[data-zone-link]");
  Array.prototype.forEach.call(links, function (link) {
    var url = new URL(link.href, window.location.href);
    url.searchParams.set("timezone", zone);
    link.href = url.pathname + url.search;
  });
})();
