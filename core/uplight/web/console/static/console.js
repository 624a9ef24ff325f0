// The overview refreshes its body from the server's fragment; nothing else needs script.
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
