// Shows the local date and time of every <time datetime> on hover (the page
// prints "3 minutes ago"; the server only knows UTC).
(function () {
  "use strict";
  var fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  function localise(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d.getTime())) {
        el.title = fmt.format(d);
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localise(document); });
  document.addEventListener("gatehouse:updated", function (e) { localise(e.target); });
})();
