// Admin interface: search as you type. The form works without it (submit);
// with it, the results panel is replaced in place while typing.
(function () {
  "use strict";
  function liveSearch(form) {
    var target = document.getElementById(form.getAttribute("data-live-search"));
    var input = form.querySelector("input[type=search]");
    if (!target || !input) return;
    var timer = null;
    var seq = 0;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var mine = ++seq;
        var url = form.action + "?" + new URLSearchParams(new FormData(form)).toString();
        fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
          .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
          .then(function (html) {
            if (mine !== seq) return;
            var doc = new DOMParser().parseFromString(html, "text/html");
            var fresh = doc.getElementById(target.id);
            if (fresh) {
              target.innerHTML = fresh.innerHTML;
              history.replaceState(null, "", url);
              target.dispatchEvent(new CustomEvent("gatehouse:updated", { bubbles: true }));
            }
          })
          .catch(function () { /* the submit button still works */ });
      }, 200);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-live-search]").forEach(liveSearch);
  });
})();

// The events page's live tail: server-sent events, each a new row on top.
(function () {
  "use strict";
  function cell(label, node) {
    var td = document.createElement("td");
    td.setAttribute("data-label", label);
    td.appendChild(node);
    return td;
  }
  function text(s, cls) {
    var span = document.createElement(cls === "code" ? "code" : "span");
    if (cls && cls !== "code") span.className = cls;
    span.textContent = s || "";
    return span;
  }
  function row(e) {
    var tr = document.createElement("tr");
    var t = document.createElement("time");
    t.setAttribute("datetime", e.at);
    t.textContent = "just now";
    tr.appendChild(cell("When", t));
    tr.appendChild(cell("Action", text(e.action, "code")));
    tr.appendChild(cell("By", text(e.actor, "break")));
    tr.appendChild(cell("User", text(e.user, "break")));
    tr.appendChild(cell("Address", text(e.client_ip)));
    tr.appendChild(cell("Details", text("")));
    return tr;
  }
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("live-tail");
    var body = document.getElementById("event-rows");
    var status = document.getElementById("live-status");
    if (!button || !body) return;
    var source = null;
    button.addEventListener("click", function () {
      if (source) {
        source.close();
        source = null;
        button.setAttribute("aria-pressed", "false");
        button.textContent = "Follow live";
        status.textContent = "Live tail paused.";
        return;
      }
      source = new EventSource(button.getAttribute("data-tail-url"));
      button.setAttribute("aria-pressed", "true");
      button.textContent = "Pause";
      status.textContent = "Following new events as they happen.";
      source.addEventListener("audit", function (msg) {
        var e = JSON.parse(msg.data);
        var tr = row(e);
        tr.className = "is-new";
        body.insertBefore(tr, body.firstChild);
        button.setAttribute("data-tail-url", "/if/admin/events/stream?after=" + e.seq);
        tr.dispatchEvent(new CustomEvent("gatehouse:updated", { bubbles: true }));
      });
    });
  });
})();

// Blueprints: a chosen file's text goes into the box the form sends (the
// box alone works without script).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[type=file][data-fill]").forEach(function (input) {
      var box = document.getElementById(input.getAttribute("data-fill"));
      var name = document.getElementById(input.getAttribute("data-name"));
      input.addEventListener("change", function () {
        var file = input.files && input.files[0];
        if (!file || !box) return;
        file.text().then(function (text) {
          box.value = text;
          if (name) name.value = file.name;
        });
      });
    });
  });
})();
