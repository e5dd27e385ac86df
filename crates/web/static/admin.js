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
