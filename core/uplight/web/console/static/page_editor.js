// The page editor: each row saves itself on change, components are dragged into order,
// badge snippets are copied. Without this script every row's Save, Up and Down buttons
// post the same forms, and the snippets are readonly text to copy by hand.
(function () {
  "use strict";

  function copyText(box) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(box.value);
    }
    // Plain http to a non-local address has no clipboard API: the old way still works.
    box.select();
    return document.execCommand("copy") ? Promise.resolve() : Promise.reject();
  }

  document.querySelectorAll("button.copy").forEach(function (button) {
    var box = document.getElementById(button.getAttribute("data-copy"));
    if (!box) return;
    var label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", function () {
      copyText(box).then(
        function () { button.textContent = "Copied"; },
        function () { box.select(); button.textContent = "Selected: press Ctrl+C"; }
      );
      window.setTimeout(function () { button.textContent = label; }, 2000);
    });
  });

  var editor = document.getElementById("editor");
  if (!editor) return;
  var orderStatus = document.getElementById("order-status");

  function rows() { return Array.prototype.slice.call(editor.children); }
  function onPage() { return rows().filter(function (li) { return li.classList.contains("on-page"); }); }

  function setStatus(element, message, kind) {
    element.textContent = message;
    element.classList.remove("saved", "error");
    if (kind) element.classList.add(kind);
  }

  function clearErrors(form) {
    form.querySelectorAll("[data-error-for]").forEach(function (p) {
      p.textContent = "";
      p.removeAttribute("role");
      var field = form.elements[p.getAttribute("data-error-for")];
      if (field) field.removeAttribute("aria-invalid");
    });
  }

  function showErrors(form, errors) {
    Object.keys(errors).forEach(function (name) {
      var p = form.querySelector('[data-error-for="' + name + '"]');
      var field = form.elements[name];
      if (!p) p = form.querySelector('[data-error-for="on_page"]');
      p.textContent = errors[name];
      p.setAttribute("role", "alert");
      if (field) field.setAttribute("aria-invalid", "true");
    });
  }

  // Up on the first component and Down on the last do nothing: say so.
  function refreshMoves() {
    var shown = onPage();
    rows().forEach(function (li) {
      var here = li.classList.contains("on-page");
      var handle = li.querySelector(".handle");
      handle.hidden = !here;
      handle.draggable = here;
      li.querySelectorAll("button.move").forEach(function (button) {
        button.hidden = !here;
        var up = button.formAction.slice(-3) === "/up";
        button.disabled = here && li === (up ? shown[0] : shown[shown.length - 1]);
      });
    });
  }

  function fillSnippet(box, snippet) {
    box.hidden = false;
    box.querySelector('[data-snippet="markdown"]').value = snippet.markdown;
    box.querySelector('[data-snippet="html"]').value = snippet.html;
    // A new name draws a new badge at the same URL: ask past the browser's cache.
    box.querySelector("[data-badge-preview]").src = snippet.preview + "&seen=" + Date.now();
  }

  function apply(li, form, data) {
    var was = li.classList.contains("on-page");
    li.classList.toggle("on-page", data.on_page);
    Object.keys(data.values).forEach(function (name) {
      var field = form.elements[name];
      if (field && field !== document.activeElement) field.value = data.values[name];
    });
    var details = li.querySelector("details.row-badge");
    details.hidden = !data.on_page;
    if (data.snippet) fillSnippet(details.querySelector(".snippets"), data.snippet);
    if (was !== data.on_page) {
      // A new component goes last on the page; one taken off leads the others.
      var last = onPage().filter(function (other) { return other !== li; }).pop();
      editor.insertBefore(li, last ? last.nextSibling : editor.firstChild);
      refreshMoves();
    }
  }

  function post(url, body, csrf) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRF-Token": csrf },
      body: body
    }).then(function (response) {
      if (response.redirected) throw new Error("signed out: reload the page to sign in again");
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") === -1) {
        throw new Error("refused (" + response.status + "): reload the page and try again");
      }
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    });
  }

  function save(form) {
    var li = form.closest("li");
    var status = li.querySelector(".save-status");
    setStatus(status, "Saving…", "");
    return post(form.action, new URLSearchParams(new FormData(form)), form.elements.csrf.value)
      .then(function (answer) {
        clearErrors(form);
        if (answer.ok) {
          apply(li, form, answer.data);
          setStatus(status, "Saved", "saved");
        } else if (answer.data.errors) {
          showErrors(form, answer.data.errors);
          setStatus(status, "Not saved", "error");
        } else {
          setStatus(status, "Not saved: " + answer.data.error, "error");
        }
      })
      .catch(function (error) {
        setStatus(status, "Not saved: " + (error.message || "the server did not answer"), "error");
      });
  }

  // One save at a time per row, in the order of the changes.
  function queue(form) {
    form.pending = (form.pending || Promise.resolve()).then(function () { return save(form); });
  }

  editor.querySelectorAll("form[data-autosave]").forEach(function (form) {
    form.querySelector("button.save").hidden = true;
    form.addEventListener("change", function () { queue(form); });
    form.addEventListener("submit", function (event) {
      // Up and Down post to their own routes and come back to the page: let them.
      if (event.submitter && event.submitter.classList.contains("move")) return;
      event.preventDefault();
      queue(form);
    });
  });

  // Dragging by the handle (the row itself holds text fields, which must stay selectable).
  var dragged = null;
  var before = "";
  function order() { return onPage().map(function (li) { return li.getAttribute("data-monitor"); }); }

  editor.addEventListener("dragstart", function (event) {
    if (!event.target.classList || !event.target.classList.contains("handle")) return;
    dragged = event.target.closest("li");
    before = order().join(" ");
    dragged.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.getAttribute("data-monitor"));
    event.dataTransfer.setDragImage(dragged, 10, 10);
  });
  editor.addEventListener("dragover", function (event) {
    if (!dragged) return;
    var target = event.target.closest && event.target.closest("li.on-page");
    if (!target || target.parentNode !== editor) return;
    event.preventDefault();
    if (target === dragged) return;
    var box = target.getBoundingClientRect();
    var after = event.clientY > box.top + box.height / 2;
    editor.insertBefore(dragged, after ? target.nextSibling : target);
  });
  editor.addEventListener("drop", function (event) {
    if (dragged) event.preventDefault();
  });
  editor.addEventListener("dragend", function () {
    if (!dragged) return;
    dragged.classList.remove("dragging");
    dragged = null;
    refreshMoves();
    var now = order();
    if (now.join(" ") === before) return;
    var body = new URLSearchParams();
    var csrf = editor.querySelector('input[name="csrf"]').value;
    body.append("csrf", csrf);
    now.forEach(function (id) { body.append("target_ids", id); });
    setStatus(orderStatus, "Saving the order…", "");
    post(editor.getAttribute("data-order-url"), body, csrf)
      .then(function (answer) {
        if (answer.ok) {
          setStatus(orderStatus, "Order saved", "saved");
        } else {
          var errors = answer.data.errors || {};
          var message = answer.data.error || errors.order || Object.values(errors)[0];
          setStatus(orderStatus, "Order not saved: " + message + " Reload the page.", "error");
        }
      })
      .catch(function (error) {
        setStatus(orderStatus, "Order not saved: " + error.message, "error");
      });
  });

  refreshMoves();
})();
