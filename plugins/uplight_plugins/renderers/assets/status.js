// uplight status page: keeps the dynamic region fresh and shows local times.
// Our own small script, no framework, no CDN. The page is complete without it:
// this only adds a periodic refresh, local-time tooltips and history-cell tooltips.
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

  function isoDay(time) {
    var date = new Date(time);
    return date.getUTCFullYear() + "-" + pad(date.getUTCMonth() + 1) + "-" + pad(date.getUTCDate());
  }

  function parseDay(text) {
    return Date.UTC(+text.slice(0, 4), +text.slice(5, 7) - 1, +text.slice(8, 10));
  }

  // A history cell carries no text of its own (a page of a thousand components would
  // weigh megabytes): the hidden list before the cells names the runs of days that
  // differ from the usual one, "2026-09-22 to 2026-09-24: no data" (data-n: how many
  // days), then "All other days: 100% uptime, operational" (data-rest). A cell's
  // tooltip is its own day and what that day read.
  function cellTitle(cell) {
    var cells = cell.parentNode;
    var list = cells.previousElementSibling;
    var first = list && list.getAttribute("data-first");
    if (!first) {
      return "";
    }
    var day = parseDay(first) + Array.prototype.indexOf.call(cells.children, cell) * 86400000;
    var rest = "";
    for (var i = 0; i < list.children.length; i++) {
      var item = list.children[i];
      var text = item.textContent;
      var words = text.slice(text.indexOf(": "));
      if (item.hasAttribute("data-rest")) {
        rest = words;
        continue;
      }
      var start = parseDay(text);
      var days = parseInt(item.getAttribute("data-n") || "1", 10);
      if (day >= start && day < start + days * 86400000) {
        return isoDay(day) + words;
      }
    }
    return rest ? isoDay(day) + rest : "";
  }

  // Made when the pointer first reaches a cell: one listener for every cell, the
  // swapped-in ones included, and nothing done for the cells nobody points at.
  function explainCells() {
    document.addEventListener("mouseover", function (event) {
      var cell = event.target;
      var parent = cell.parentNode;
      if (cell.tagName === "I" && !cell.title && parent && parent.classList &&
          parent.classList.contains("cells")) {
        cell.title = cellTitle(cell);
      }
    });
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
    explainCells();
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
