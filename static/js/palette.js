/* The search palette (search app; markup: search/templates/search/_palette.html).
   - Ctrl-K / ⌘-K on any page, or the header's "Search" button, opens it; Esc closes it and gives focus back;
   - typing asks GET /api/v1/search/ (debounced; the session cookie goes along, same origin) and lists
     the results, written with textContent only: nothing the server sends is ever read as HTML;
   - ↓/↑ choose an option (none is chosen until then; a combobox with aria-activedescendant), Enter opens
     it, and Enter with none chosen opens the /search/ page with every result.
   A file, not inline: the Content-Security-Policy refuses inline script. */
(function () {
  "use strict";

  var DEBOUNCE_MS = 150;
  var LIMIT = 10;
  var LABELS = { project: "Project", decision: "Decision", entity: "Entity", person: "Person", event: "Audit row" };

  function init() {
    var root = document.querySelector("[data-palette]");
    if (!root || root.dataset.ready) return;
    root.dataset.ready = "1";
    var opener = root.querySelector("[data-palette-open]");
    var dialog = root.querySelector("[data-palette-dialog]");
    var form = root.querySelector("[data-palette-form]");
    var input = root.querySelector("[data-palette-input]");
    var list = root.querySelector("[data-palette-results]");
    var status = root.querySelector("[data-palette-status]");
    var endpoint = root.dataset.endpoint;
    var page = root.dataset.page;
    if (!dialog || typeof dialog.showModal !== "function") return; // the button stays a link to /search/

    var mac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent || "");
    var shortcut = root.querySelector("[data-palette-shortcut]");
    if (shortcut) shortcut.textContent = mac ? "⌘K" : "Ctrl K";
    opener.setAttribute("aria-haspopup", "dialog");

    var results = [];
    var active = -1;
    var timer = null;
    var controller = null;
    var asked = 0; // the number of the newest request: older answers are dropped
    var returnFocus = null;

    function open() {
      if (dialog.open) {
        input.focus();
        input.select();
        return;
      }
      returnFocus = document.activeElement;
      dialog.showModal();
      input.focus();
      input.select();
      if (input.value.trim()) schedule();
    }

    function close() {
      if (dialog.open) dialog.close();
    }

    dialog.addEventListener("close", function () {
      cancel();
      var target = returnFocus && document.contains(returnFocus) && returnFocus !== document.body ? returnFocus : opener;
      returnFocus = null;
      target.focus();
    });

    // A click on the backdrop (outside the dialog's box) closes it, as Esc does.
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) close();
    });

    opener.addEventListener("click", function (event) {
      if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      open();
    });

    document.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey && (event.key === "k" || event.key === "K")) {
        event.preventDefault();
        open();
      }
    });

    function cancel() {
      if (timer) clearTimeout(timer);
      timer = null;
      if (controller) controller.abort();
      controller = null;
    }

    function schedule() {
      cancel();
      var q = input.value.trim();
      if (!q) {
        asked += 1;
        show([], "");
        return;
      }
      timer = setTimeout(function () { fetchResults(q); }, DEBOUNCE_MS);
    }

    function fetchResults(q) {
      timer = null;
      var number = (asked += 1);
      controller = typeof AbortController === "function" ? new AbortController() : null;
      var url = endpoint + "?q=" + encodeURIComponent(q) + "&limit=" + LIMIT;
      status.textContent = "Looking…";
      fetch(url, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        signal: controller ? controller.signal : undefined,
      })
        .then(function (response) {
          return response.json().catch(function () { return {}; }).then(function (body) {
            return { status: response.status, body: body };
          });
        })
        .then(function (answer) {
          if (number !== asked) return;
          if (answer.status === 200) {
            var found = Array.isArray(answer.body.results) ? answer.body.results : [];
            show(found, found.length ? found.length + " result" + (found.length === 1 ? "" : "s") : "Nothing you can see matches.");
          } else if (answer.status === 401 || answer.status === 403) {
            show([], "Your session has ended: sign in again.");
          } else {
            show([], firstMessage(answer.body) || "The search failed (" + answer.status + ").");
          }
        })
        .catch(function (error) {
          if (error && error.name === "AbortError") return;
          if (number === asked) show([], "The search could not reach the server.");
        });
    }

    function firstMessage(body) {
      if (!body || typeof body !== "object") return "";
      var value = body.detail || body.q || body.limit || body.type;
      if (Array.isArray(value)) value = value[0];
      return typeof value === "string" ? value : "";
    }

    function show(found, message) {
      results = found;
      active = -1;
      while (list.firstChild) list.removeChild(list.firstChild);
      found.forEach(function (result, index) {
        var option = document.createElement("li");
        option.id = "palette-option-" + index;
        option.className = "palette-option palette-option-" + result.type;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        var kind = document.createElement("span");
        kind.className = "palette-kind";
        kind.textContent = LABELS[result.type] || result.type;
        var title = document.createElement("span");
        title.className = "palette-title";
        title.textContent = result.title;
        option.appendChild(kind);
        option.appendChild(title);
        if (result.snippet) {
          var snippet = document.createElement("span");
          snippet.className = "palette-snippet";
          snippet.textContent = result.snippet;
          option.appendChild(snippet);
        }
        // mousedown would take the focus from the input; the click opens the result.
        option.addEventListener("mousedown", function (event) { event.preventDefault(); });
        option.addEventListener("click", function () { go(result.url); });
        list.appendChild(option);
      });
      input.setAttribute("aria-expanded", found.length ? "true" : "false");
      input.removeAttribute("aria-activedescendant");
      status.textContent = message;
    }

    function activate(index) {
      var options = list.children;
      if (!options.length) return;
      if (active >= 0 && options[active]) options[active].setAttribute("aria-selected", "false");
      active = (index + options.length) % options.length;
      var option = options[active];
      option.setAttribute("aria-selected", "true");
      input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    }

    function go(url) {
      // Only a path on this site: a result's URL is never followed elsewhere.
      if (typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/") window.location.assign(url);
    }

    function searchPage() {
      var q = input.value.trim();
      if (q) window.location.assign(page + "?q=" + encodeURIComponent(q));
    }

    input.addEventListener("input", schedule);

    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown") {
        event.preventDefault();
        activate(active + 1);
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        activate(active - 1);
      } else if (event.key === "Enter") {
        event.preventDefault();
        if (timer) {
          // Typed faster than the debounce: Enter means "show me everything for what I typed".
          searchPage();
        } else if (active >= 0 && results[active]) {
          go(results[active].url);
        } else {
          searchPage();
        }
      }
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      searchPage();
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
