/* Live pages: what htmx's SSE extension does not do by itself (a file, not inline: the
   Content-Security-Policy refuses inline script). The signed-in <body> is connected to the event stream
   (base.html); each part of a page that follows it says how in its attributes:
   - hx-trigger="sse:change delay:500ms" + hx-get="?partial=…": redrawn in place (a badge, a count, a panel);
     with data-live-guard it waits while the reader is busy in it (an open panel, a field being filled
     in, a choice made but not sent, a refusal shown), and is redrawn once they are done;
   - data-live-news (templates/_live_news.html): a list that would move under the reader's eyes is not
     redrawn; its new rows are counted ("3 new changes — show", in an aria-live region) and shown when
     asked for. A row counts once, and only if it is newer than the list (data-live-since) and matches
     the list (data-live-match, data-live-mentions).
   - a stream that cannot be reached stays quiet: a page whose stream never opened (not served by this
     server, signed out) gives up without a word; once it has worked, the browser's own reconnection and
     then the extension's take over. */
(function () {
  "use strict";

  if (!window.htmx || !window.EventSource) return;

  // --- The connection ---------------------------------------------------------------------------------
  var everOpened = false;

  // <body data-live="open|connecting|closed">: where the connection stands (for styles and tests).
  function state(value) {
    document.body.setAttribute("data-live", value);
  }

  // The SSE extension calls htmx.createEventSource(url) and then sets the source's onerror, which logs an
  // error and builds a new source whenever one closes. Here it runs only for a stream that was working:
  // a "connecting" error is the browser retrying by itself, and a stream that never opened is not there.
  htmx.createEventSource = function (url) {
    var source = new EventSource(url, { withCredentials: true });
    var onerror = null;
    Object.defineProperty(source, "onerror", {
      configurable: true,
      get: function () { return onerror; },
      set: function (handler) { onerror = handler; }
    });
    source.addEventListener("open", function () {
      everOpened = true;
      state("open");
    });
    source.addEventListener("error", function (event) {
      if (source.readyState !== EventSource.CLOSED) {
        state("connecting");
        return;
      }
      state("closed");
      if (everOpened && onerror) onerror.call(source, event);
      else source.close();
    });
    return source;
  };

  // --- Parts redrawn in place, unless the reader is busy in them ----------------------------------------
  function changed(field) {
    if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
    if (field.tagName === "SELECT") {
      if (field.multiple) {
        return Array.prototype.some.call(field.options, function (option) {
          return option.selected !== option.defaultSelected;
        });
      }
      var initial = 0;  // with no option marked selected, a single select starts at its first
      for (var i = 0; i < field.options.length; i++) {
        if (field.options[i].defaultSelected) {
          initial = i;
          break;
        }
      }
      return field.selectedIndex !== initial;
    }
    if (field.type === "hidden" || field.type === "submit" || field.type === "button") return false;
    return field.value !== field.defaultValue;
  }

  function busy(part) {
    var active = document.activeElement;
    if (active && part.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) return true;
    // An open form, or a refusal the reader has not dealt with yet (with what they wrote, to copy).
    if (part.querySelector("details[open], [role=alert]")) return true;
    return Array.prototype.some.call(part.querySelectorAll("input, textarea, select"), changed);
  }

  document.addEventListener("htmx:confirm", function (event) {
    var part = event.detail.elt;
    var cause = event.detail.triggeringEvent;
    if (!part.hasAttribute("data-live-guard") || !cause || !/^(sse|live):/.test(cause.type)) return;
    if (busy(part)) {
      event.preventDefault();  // not now: redrawn when the reader is done (refreshStale)
      part.setAttribute("data-live-stale", "");
    } else {
      part.removeAttribute("data-live-stale");
    }
  });

  function refreshStale() {
    window.setTimeout(function () {
      document.querySelectorAll("[data-live-stale]").forEach(function (part) {
        if (!busy(part)) htmx.trigger(part, "live:refresh");
      });
    }, 0);
  }

  document.addEventListener("focusout", refreshStale);
  document.addEventListener("toggle", refreshStale, true);  // a <details> closing (toggle does not bubble)
  document.addEventListener("reset", refreshStale);

  // --- Lists: new rows announced, shown on request -----------------------------------------------------
  function rowOf(message) {
    try {
      var row = JSON.parse(message.data);
      return row && typeof row.id === "number" ? row : null;
    } catch (error) {
      return null;
    }
  }

  function belongs(region, row) {
    var match = region.dataset.liveMatch ? JSON.parse(region.dataset.liveMatch) : {};
    var fields = Object.keys(match);
    for (var i = 0; i < fields.length; i++) {
      var allowed = [].concat(match[fields[i]]).map(String);
      if (allowed.indexOf(String(row[fields[i]])) < 0) return false;
    }
    var mentions = region.dataset.liveMentions;
    return !mentions || JSON.stringify(row).indexOf(mentions) >= 0;
  }

  function since(region) {
    var list = document.querySelector(region.dataset.liveNews);
    var drawn = list && list.dataset.liveSince;
    return Math.max(Number(drawn || region.dataset.liveSince || 0), region.liveShown || 0);
  }

  function announce(region) {
    var floor = since(region);
    var ids = Object.keys(region.liveRows || {}).filter(function (id) { return Number(id) > floor; });
    var button = region.querySelector(".live-show");
    if (!button) return;
    if (!ids.length) {
      button.hidden = true;
      button.textContent = "";
      return;
    }
    var noun = region.dataset.liveNoun || "change";
    button.textContent = ids.length + " new " + noun + (ids.length === 1 ? "" : "s") + " — show";
    button.hidden = false;
  }

  document.addEventListener("htmx:sseMessage", function (event) {
    var region = event.target;
    if (!region.matches || !region.matches("[data-live-news]")) return;
    var row = rowOf(event.detail);
    if (!row || !belongs(region, row)) return;
    region.liveRows = region.liveRows || {};
    region.liveRows[row.id] = true;
    announce(region);
  });

  // What a reader typed in a list's section (a comment being written) survives the list being redrawn.
  var typed = null;

  document.addEventListener("htmx:beforeRequest", function (event) {
    var button = event.detail.elt;
    if (!button.classList || !button.classList.contains("live-show")) return;
    var region = button.closest("[data-live-news]");
    var target = region && document.querySelector(region.dataset.liveNews);
    typed = {};
    if (!target) return;
    target.querySelectorAll("textarea[id], input[id]").forEach(function (field) {
      if (changed(field) && field.type !== "checkbox" && field.type !== "radio") typed[field.id] = field.value;
    });
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var button = event.detail.elt;
    if (!button.classList || !button.classList.contains("live-show")) return;
    var region = button.closest("[data-live-news]");
    if (!region) return;
    var target = document.querySelector(region.dataset.liveNews);
    if (event.detail.successful) {
      if (!target || !target.dataset.liveSince) {
        // A list that does not say when it was drawn: everything counted so far is in it now.
        region.liveShown = Math.max.apply(null, [region.liveShown || 0].concat(Object.keys(region.liveRows || {}).map(Number)));
      }
      Object.keys(typed || {}).forEach(function (id) {
        var field = document.getElementById(id);
        if (field && !field.value) field.value = typed[id];
      });
      announce(region);
      if (target) {
        // The button is gone; the keyboard carries on from the list it brought up to date.
        target.setAttribute("tabindex", "-1");
        target.focus({ preventScroll: true });
      }
    }
    typed = null;
  });
})();
