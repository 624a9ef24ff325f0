// uplight status page: keeps the dynamic region fresh and shows local times.
// Our own small script, no framework, no CDN. The page is complete without it:
// this only adds a periodic refresh and local-time tooltips.
(function () {
  "use strict";

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  // "2026-11-20 19:00 (Asia/Tokyo)": unambiguous in every locale.
  function localText(date) {
    var zone = "";
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (e) {
      zone = "";
    }
    var offset = -date.getTimezoneOffset();
    var sign = offset >= 0 ? "+" : "-";
    var abs = Math.abs(offset);
    var utcOffset = "UTC" + sign + pad(Math.floor(abs / 60)) + ":" + pad(abs % 60);
    return (
      date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
      " " + pad(date.getHours()) + ":" + pad(date.getMinutes()) +
      " your time (" + (zone ? zone + ", " : "") + utcOffset + ")"
    );
  }

  // Every <time datetime="…Z"> gets the visitor's local time as its tooltip.
  function localizeTimes(root) {
    var times = root.querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var date = new Date(times[i].getAttribute("datetime"));
      if (!isNaN(date.getTime())) {
        times[i].title = localText(date);
      }
    }
  }

  function bannerText(root) {
    var banner = root.querySelector(".banner-text");
    return banner ? banner.textContent : "";
  }

  function startRefresh(live) {
    var url = live.getAttribute("data-fragment-url");
    var seconds = parseInt(live.getAttribute("data-refresh-seconds"), 10);
    if (!url || !(seconds > 0) || !window.fetch) {
      return;
    }
    var announcer = document.getElementById("announcer");
    var timer = null;
    var inFlight = false;

    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(refresh, seconds * 1000);
    }

    function swap(html) {
      var before = bannerText(live);
      var template = document.createElement("template");
      template.innerHTML = html;
      live.replaceChildren(template.content);
      localizeTimes(live);
      var after = bannerText(live);
      // Screen readers hear a status change, not every refresh.
      if (announcer && after && after !== before) {
        announcer.textContent = "Status changed: " + after;
      }
    }

    function refresh() {
      if (inFlight) {
        return;
      }
      inFlight = true;
      fetch(url, { credentials: "omit", headers: { Accept: "text/html" } })
        .then(function (response) {
          var type = response.headers.get("Content-Type") || "";
          // Anything but a fresh HTML fragment (an error page, a proxy's
          // login form, JSON) keeps the content we already show.
          if (response.status !== 200 || type.indexOf("text/html") !== 0) {
            return null;
          }
          return response.text();
        })
        .then(function (html) {
          if (html !== null && html.trim() !== "") {
            swap(html);
          }
        })
        .catch(function () {
          // Offline or the server restarting: keep the old content, try again later.
        })
        .then(function () {
          inFlight = false;
          schedule();
        });
    }

    // A tab coming back into view catches up at once instead of showing stale data.
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") {
        clearTimeout(timer);
        refresh();
      }
    });
    schedule();
  }

  function init() {
    localizeTimes(document);
    var live = document.getElementById("live");
    if (live) {
      startRefresh(live);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
