/* CommandCentral's page behaviour (a file, not inline: the Content-Security-Policy refuses inline script).
   - after an htmx update, focus moves to the message it brought (screen readers and keyboards follow);
   - Esc closes an open transition panel or the user menu;
   - "/" focuses the page's search or filter box (unless you are typing somewhere);
   - on a phone, the list filters start as a closed drawer. */
(function () {
  "use strict";

  function focusMessage() {
    var message = document.querySelector("#messages .message");
    if (!message) return;
    message.setAttribute("tabindex", "-1");
    message.focus({ preventScroll: false });
  }

  document.addEventListener("htmx:afterSettle", focusMessage);

  // On a phone the filters are a drawer, closed until asked for (open on wider screens, and whenever
  // a filter is in force, so what shapes the list stays visible).
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.matchMedia("(max-width: 700px)").matches) return;
    var filtering = /[?&](search|state|member|project|event_type|actor|success|since|until|q)=[^&]/.test(location.search);
    document.querySelectorAll("details.filter-drawer").forEach(function (drawer) {
      if (!filtering) drawer.removeAttribute("open");
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      var open = document.querySelectorAll("details.transition[open], details.usermenu[open]");
      open.forEach(function (details) {
        details.removeAttribute("open");
        var summary = details.querySelector("summary");
        if (summary && details.contains(document.activeElement)) summary.focus();
      });
      return;
    }
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    var typing = target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
    if (typing) return;
    var search = document.querySelector("input[type=search], input[name=search], input[name=q]");
    if (search) {
      event.preventDefault();
      var drawer = search.closest("details");
      if (drawer) drawer.open = true;
      search.focus();
      search.select();
    }
  });
})();
