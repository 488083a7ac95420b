/* CommandCentral's page behaviour (a file, not inline: the Content-Security-Policy refuses inline script).
   - after an htmx update, focus moves to the message it brought (screen readers and keyboards follow);
   - Esc closes an open transition panel or the user menu;
   - "/" focuses the page's search or filter box (unless you are typing somewhere). */
(function () {
  "use strict";

  function focusMessage() {
    var message = document.querySelector("#messages .message");
    if (!message) return;
    message.setAttribute("tabindex", "-1");
    message.focus({ preventScroll: false });
  }

  document.addEventListener("htmx:afterSettle", focusMessage);

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
      search.focus();
      search.select();
    }
  });
})();
