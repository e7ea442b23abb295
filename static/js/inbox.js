/* The inbox page: list | chat | contact panel, kept live over /ws/inbox/.
 *
 * The socket only announces changes; every change is re-read from the server as an HTML fragment
 * (a list row, a bubble, the panel), so what the page shows is always what the server renders.
 * After a reconnect the page re-reads the messages newer than the last one it has and the list,
 * because the channel layer may have dropped events while the socket was down.
 */
(function () {
  "use strict";

  var root = document.getElementById("inbox");
  if (!root) return;

  var FINAL_CLOSE = [4401, 4403, 4404]; // signed out, no access / blocked, unknown company: do not retry
  var ALERTS_KEY = "inbox.alerts";
  var listScroll = document.getElementById("conversation-list-scroll");
  var chatPane = document.getElementById("inbox-chat-pane");
  var panelPane = document.getElementById("inbox-panel-pane");
  var filtersForm = document.getElementById("inbox-filters");
  var offlineBadge = root.querySelector("[data-offline-badge]");
  var canned = readJson("inbox-canned") || [];
  var botLabels = readJson("inbox-bot-labels") || {};
  var socket = null;
  var attempts = 0;
  var everConnected = false;
  var pingTimer = null;
  var loadingOlder = false;
  var windowTimer = null;

  // ---- helpers -------------------------------------------------------------------------------

  function readJson(id) {
    var el = document.getElementById(id);
    if (!el) return null;
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }

  function csrf() {
    return window.app && window.app.csrfToken ? window.app.csrfToken() : "";
  }

  function icons() {
    if (window.app && window.app.renderIcons) window.app.renderIcons();
  }

  function get(url) {
    return fetch(url, {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}});
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", body: body || new FormData(), credentials: "same-origin",
      headers: {"X-CSRFToken": csrf(), "X-Requested-With": "fetch"},
    });
  }

  function fragment(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content;
  }

  function filterQuery() {
    var params = new URLSearchParams();
    if (!filtersForm) return params;
    new FormData(filtersForm).forEach(function (value, key) {
      if (value && !(key === "view" && value === "all")) params.set(key, value);
    });
    return params;
  }

  function withFilters(url) {
    var query = filterQuery().toString();
    return query ? url + (url.indexOf("?") === -1 ? "?" : "&") + query : url;
  }

  function openId() {
    var chat = document.getElementById("chat");
    return chat ? parseInt(chat.dataset.conversation, 10) : null;
  }

  // ---- conversation list -----------------------------------------------------------------------

  function listEl() { return document.getElementById("conversation-list"); }

  function markActiveRow() {
    var id = openId();
    (listEl() ? listEl().querySelectorAll("[data-open-conversation]") : []).forEach(function (a) {
      if (parseInt(a.dataset.openConversation, 10) === id) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
  }

  function updateEmptyState() {
    var empty = document.getElementById("conversation-list-empty");
    if (empty && listEl()) empty.classList.toggle("hidden", listEl().children.length > 0);
  }

  function placeRow(row) {
    var list = listEl();
    if (!list) return;
    var key = parseFloat(row.dataset.sort || "0");
    var siblings = list.querySelectorAll("[data-conversation-row]");
    for (var i = 0; i < siblings.length; i++) {
      if (siblings[i] !== row && parseFloat(siblings[i].dataset.sort || "0") < key) {
        list.insertBefore(row, siblings[i]);
        return;
      }
    }
    list.appendChild(row);
  }

  // several events about one conversation fetch its row concurrently; only the newest request may
  // draw it, or a slower, older answer would put a stale row (e.g. before an assignment) back
  var rowRequests = {};

  function refreshRow(id) {
    var url = withFilters(root.dataset.baseUrl + "c/" + id + "/row/");
    var ticket = (rowRequests[id] || 0) + 1;
    rowRequests[id] = ticket;
    return get(url).then(function (response) {
      if (rowRequests[id] !== ticket) return;
      var old = listEl() && listEl().querySelector('[data-conversation-row="' + id + '"]');
      if (response.status === 204 || response.status === 404) {
        if (old) old.remove();
        updateEmptyState();
        return;
      }
      if (!response.ok) return;
      return response.text().then(function (html) {
        if (rowRequests[id] !== ticket) return;
        var row = fragment(html).firstElementChild;
        if (!row) return;
        if (old) old.replaceWith(row);
        placeRow(row);
        markActiveRow();
        updateEmptyState();
        icons();
      });
    }).catch(function () {});
  }

  var listRequest = 0;
  function refreshList(pushUrl) {
    var mine = ++listRequest;
    var query = filterQuery().toString();
    return get(root.dataset.listUrl + (query ? "?" + query : "")).then(function (response) {
      if (!response.ok || mine !== listRequest) return;
      return response.text().then(function (html) {
        if (mine !== listRequest) return;
        listScroll.innerHTML = html;
        markActiveRow();
        icons();
        if (pushUrl) {
          var base = openId() ? root.dataset.baseUrl + "c/" + openId() + "/" : root.dataset.baseUrl;
          history.replaceState(history.state, "", base + (query ? "?" + query : ""));
        }
      });
    }).catch(function () {});
  }

  if (filtersForm) {
    var debounce = null;
    filtersForm.addEventListener("input", function (event) {
      clearTimeout(debounce);
      debounce = setTimeout(function () { refreshList(true); }, event.target.type === "search" ? 250 : 0);
    });
    filtersForm.addEventListener("change", function () { refreshList(true); });
    filtersForm.addEventListener("submit", function (event) { event.preventDefault(); refreshList(true); });
  }

  // ---- opening a chat ------------------------------------------------------------------------

  function setChatOpen(open) {
    root.dataset.chat = open ? "open" : "none";
    if (!open) root.dataset.panel = "closed";
  }

  function openConversation(id, push) {
    var url = root.dataset.baseUrl + "c/" + id + "/";
    return get(url + "?fragment=1").then(function (response) {
      if (!response.ok) {
        if (response.status === 404) refreshRow(id);
        return;
      }
      return response.text().then(function (html) {
        var content = fragment(html);
        var chat = content.querySelector('template[data-fragment="chat"]');
        var panel = content.querySelector('template[data-fragment="panel"]');
        chatPane.innerHTML = "";
        chatPane.appendChild(chat.content.cloneNode(true));
        panelPane.innerHTML = "";
        panelPane.appendChild(panel.content.cloneNode(true));
        root.dataset.openId = String(id);
        setChatOpen(true);
        root.dataset.panel = "closed";
        if (push) {
          var query = filterQuery().toString();
          history.pushState({conversation: id}, "", url + (query ? "?" + query : ""));
        }
        var name = chatPane.querySelector("[data-chat-name]");
        if (name) document.title = name.textContent + " · " + document.title.split(" · ").slice(-2).join(" · ");
        initChat();
        markActiveRow();
        icons();
        var row = listEl() && listEl().querySelector('[data-conversation-row="' + id + '"] [data-unread]');
        if (row) row.remove();
      });
    }).catch(function () {});
  }

  function closeConversation(push) {
    setChatOpen(false);
    if (push) {
      var query = filterQuery().toString();
      history.pushState({conversation: null}, "", root.dataset.baseUrl + (query ? "?" + query : ""));
    }
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-open-conversation]");
    if (link && root.contains(link) && !event.metaKey && !event.ctrlKey && !event.shiftKey && event.button === 0) {
      event.preventDefault();
      openConversation(parseInt(link.dataset.openConversation, 10), true);
      return;
    }
    var action = event.target.closest("[data-action]");
    if (!action || !root.contains(action)) return;
    switch (action.dataset.action) {
      case "back":
        event.preventDefault();
        closeConversation(true);
        break;
      case "open-panel":
        root.dataset.panel = "open";
        var close = panelPane.querySelector('[data-action="close-panel"]');
        if (close) close.focus();
        break;
      case "close-panel":
        root.dataset.panel = "closed";
        break;
      case "load-older":
        loadOlder();
        break;
      case "clear-attachment":
        clearAttachment(action.closest("form"));
        break;
      case "toggle-alerts":
        toggleAlerts();
        break;
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && root.dataset.panel === "open") root.dataset.panel = "closed";
  });

  window.addEventListener("popstate", function () {
    var match = window.location.pathname.match(/\/c\/(\d+)\/?$/);
    if (match) openConversation(parseInt(match[1], 10), false);
    else closeConversation(false);
  });

  // ---- chat: messages ------------------------------------------------------------------------

  function messagesEl() { return document.getElementById("chat-messages"); }
  function scroller() { return document.getElementById("chat-scroll"); }

  function nearBottom() {
    var s = scroller();
    return !s || s.scrollHeight - s.scrollTop - s.clientHeight < 120;
  }

  function scrollToBottom() {
    var s = scroller();
    if (s) s.scrollTop = s.scrollHeight;
  }

  function lastMessageId() {
    var all = messagesEl() ? messagesEl().querySelectorAll("[data-message-id]") : [];
    var max = 0;
    all.forEach(function (el) { max = Math.max(max, parseInt(el.dataset.messageId, 10) || 0); });
    return max;
  }

  function firstMessageId() {
    var first = messagesEl() && messagesEl().querySelector("[data-message-id]");
    return first ? parseInt(first.dataset.messageId, 10) : null;
  }

  // One date separator per day: hide repeats (older pages and single bubbles bring their own).
  function dedupeSeparators() {
    var seen = {};
    (messagesEl() ? messagesEl().querySelectorAll("[data-date-sep]") : []).forEach(function (sep) {
      var day = sep.dataset.dateSep;
      sep.classList.toggle("is-duplicate", !!seen[day]);
      seen[day] = true;
    });
  }

  // Append bubbles (and their date separators); a bubble already shown is replaced in place.
  function insertBubbles(html) {
    var list = messagesEl();
    if (!list) return;
    Array.prototype.slice.call(fragment(html).children).forEach(function (el) {
      var id = el.dataset.messageId;
      var existing = id && list.querySelector('[data-message-id="' + id + '"]');
      if (existing) existing.replaceWith(el);
      else list.appendChild(el);
    });
    dedupeSeparators();
    icons();
  }

  function prependBubbles(html) {
    var list = messagesEl();
    if (!list) return;
    var content = fragment(html);
    Array.prototype.slice.call(content.querySelectorAll("[data-message-id]")).forEach(function (el) {
      var existing = list.querySelector('[data-message-id="' + el.dataset.messageId + '"]');
      if (existing) el.remove();
    });
    list.insertBefore(content, list.firstChild);
    dedupeSeparators();
    icons();
  }

  function appendMessage(id) {
    var conversation = openId();
    return get(root.dataset.baseUrl + "m/" + id + "/").then(function (response) {
      if (!response.ok) return;
      return response.text().then(function (html) {
        if (openId() !== conversation) return;
        var stick = nearBottom();
        var list = messagesEl();
        var existing = list && list.querySelector('[data-message-id="' + id + '"]');
        var content = fragment(html);
        var bubble = content.querySelector("[data-message-id]");
        if (existing && bubble) {
          existing.replaceWith(bubble);
        } else {
          list.appendChild(content);
        }
        dedupeSeparators();
        icons();
        if (stick) scrollToBottom();
      });
    }).catch(function () {});
  }

  function loadOlder() {
    var chat = document.getElementById("chat");
    var first = firstMessageId();
    if (!chat || loadingOlder || chat.dataset.hasMore !== "1" || !first) return;
    loadingOlder = true;
    var s = scroller();
    var before = s.scrollHeight - s.scrollTop;
    get(chat.dataset.messagesUrl + "?before=" + first).then(function (response) {
      if (!response.ok) return;
      chat.dataset.hasMore = response.headers.get("X-Has-More") === "1" ? "1" : "0";
      var older = chat.querySelector("[data-older]");
      if (older) older.classList.toggle("hidden", chat.dataset.hasMore !== "1");
      return response.text().then(function (html) {
        prependBubbles(html);
        s.scrollTop = s.scrollHeight - before;
      });
    }).catch(function () {}).then(function () { loadingOlder = false; });
  }

  function catchUp() {
    var chat = document.getElementById("chat");
    if (!chat) return;
    var last = lastMessageId();
    var url = chat.dataset.messagesUrl + (last ? "?after=" + last : "");
    get(url).then(function (response) {
      if (!response.ok) return;
      return response.text().then(function (html) {
        var stick = nearBottom();
        if (!last) messagesEl().innerHTML = "";
        insertBubbles(html);
        if (stick) scrollToBottom();
      });
    }).catch(function () {});
  }

  function markRead() {
    var chat = document.getElementById("chat");
    if (chat && !document.hidden) post(chat.dataset.readUrl).catch(function () {});
  }

  function refreshPanel() {
    var panel = document.getElementById("panel");
    if (!panel) return;
    // do not pull a select out from under someone using it
    if (panel.contains(document.activeElement) && document.activeElement.tagName === "SELECT") return;
    get(panel.dataset.panelUrl).then(function (response) {
      if (!response.ok) return;
      return response.text().then(function (html) {
        var fresh = fragment(html).firstElementChild;
        var current = document.getElementById("panel");
        if (fresh && current && current.dataset.conversation === fresh.dataset.conversation) {
          current.replaceWith(fresh);
          icons();
        }
      });
    }).catch(function () {});
  }

  function updateHeaderBadge(state) {
    var slot = document.querySelector("[data-chat-bot-badge]");
    var badge = slot && slot.querySelector("[data-bot-badge]");
    if (!badge || !botLabels[state] || badge.dataset.botBadge === state) return;
    // the panel refresh brings the styled badge; the header shows the label meanwhile
    badge.dataset.botBadge = state;
    badge.lastChild.textContent = botLabels[state];
  }

  function startWindowTimer() {
    clearInterval(windowTimer);
    var el = document.querySelector("[data-window][data-expires]");
    if (!el) return;
    var expires = Date.parse(el.dataset.expires);
    var target = el.querySelector("[data-window-left]");
    function tick() {
      var left = Math.max(0, Math.floor((expires - Date.now()) / 1000));
      var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60);
      if (target) target.textContent = (el.dataset.format || "%(h)sh %(m)smin")
        .replace("%(h)s", String(h)).replace("%(m)s", (m < 10 ? "0" : "") + m);
      if (left === 0) {
        clearInterval(windowTimer);
        var id = openId();
        if (id) openConversation(id, false); // the composer becomes the template picker
      }
    }
    tick();
    windowTimer = setInterval(tick, 30000);
  }

  function initChat() {
    var s = scroller();
    if (!s) return;
    dedupeSeparators();
    scrollToBottom();
    s.addEventListener("scroll", function () {
      if (s.scrollTop < 80) loadOlder();
    }, {passive: true});
    var form = document.querySelector("[data-composer]");
    if (form) initComposer(form);
    startWindowTimer();
  }

  // ---- composer ------------------------------------------------------------------------------

  function showError(form, messages) {
    var box = form.querySelector("[data-composer-error]");
    if (!box) return;
    box.textContent = messages && messages.length ? messages.join(" ") : "";
    box.classList.toggle("hidden", !box.textContent);
  }

  function clearAttachment(form) {
    if (!form) return;
    var input = form.querySelector("[data-file]");
    if (input) input.value = "";
    var chip = form.querySelector("[data-attachment]");
    if (chip) { chip.classList.add("hidden"); chip.classList.remove("flex"); }
  }

  function checkFile(form, file) {
    var max = parseInt(form.dataset.maxBytes || "0", 10);
    if (max && file.size > max) return root.dataset.textTooLarge;
    var accept = (form.dataset.accept || "").split(",").filter(Boolean);
    if (accept.length && accept.indexOf((file.type || "").toLowerCase()) === -1) return root.dataset.textBadType;
    return "";
  }

  function autosize(textarea) {
    textarea.style.height = "auto";
    textarea.style.height = Math.min(textarea.scrollHeight, 160) + "px";
  }

  function submitComposer(form) {
    if (form.dataset.busy === "1") return;
    var data = new FormData(form);
    var text = form.querySelector("[data-text-input]");
    var fileInput = form.querySelector("[data-file]");
    var file = fileInput && fileInput.files[0];
    if (!form.hasAttribute("data-template-form")) {
      if (file) {
        var problem = checkFile(form, file);
        if (problem) { showError(form, [problem]); return; }
      } else {
        data.delete("file");
      }
      if (!file && text && !text.value.trim()) return;
    }
    form.dataset.busy = "1";
    var button = form.querySelector("[type=submit]");
    if (button) button.disabled = true;
    post(form.action, data).then(function (response) {
      if (response.ok) {
        return response.text().then(function (html) {
          showError(form, []);
          if (text) { text.value = ""; autosize(text); }
          if (form.hasAttribute("data-template-form")) form.reset();
          clearAttachment(form);
          insertBubbles(html);
          scrollToBottom();
        });
      }
      return response.json().then(function (body) {
        showError(form, body.errors || [body.detail || root.dataset.textNetwork]);
      }, function () { showError(form, [root.dataset.textNetwork]); });
    }).catch(function () {
      showError(form, [root.dataset.textNetwork]);
    }).then(function () {
      form.dataset.busy = "0";
      if (button) button.disabled = false;
      if (text) text.focus();
    });
  }

  function initComposer(form) {
    var text = form.querySelector("[data-text-input]");
    var fileInput = form.querySelector("[data-file]");
    var popup = form.querySelector("[data-canned-popup]");
    var state = {items: [], index: 0, open: false};

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submitComposer(form);
    });
    if (fileInput) {
      fileInput.addEventListener("change", function () {
        var file = fileInput.files[0];
        var chip = form.querySelector("[data-attachment]");
        if (!file) { clearAttachment(form); return; }
        var problem = checkFile(form, file);
        if (problem) { showError(form, [problem]); clearAttachment(form); return; }
        showError(form, []);
        form.querySelector("[data-attachment-name]").textContent = file.name;
        chip.classList.remove("hidden");
        chip.classList.add("flex");
      });
    }
    if (!text) return;

    function closePopup() {
      state.open = false;
      if (popup) popup.classList.add("hidden");
    }

    function renderPopup() {
      var list = popup.querySelector("[data-canned-list]");
      list.innerHTML = "";
      var template = popup.querySelector("template[data-canned-item]");
      state.items.forEach(function (item, i) {
        var li = template.content.firstElementChild.cloneNode(true);
        li.setAttribute("aria-selected", i === state.index ? "true" : "false");
        li.dataset.index = String(i);
        li.querySelector("[data-canned-head]").textContent = "/" + item.shortcut + (item.title ? " · " + item.title : "");
        li.querySelector("[data-canned-text]").textContent = item.text;
        li.addEventListener("mousedown", function (event) { event.preventDefault(); choose(i); });
        list.appendChild(li);
      });
      popup.querySelector("[data-canned-empty]").classList.toggle("hidden", state.items.length > 0);
      popup.classList.remove("hidden");
      state.open = true;
    }

    function slashQuery() {
      var upto = text.value.slice(0, text.selectionStart);
      var match = upto.match(/(^|\s)\/([\w-]*)$/);
      return match ? {query: match[2].toLowerCase(), start: upto.length - match[2].length - 1} : null;
    }

    function updatePopup() {
      if (!popup) return;
      var found = slashQuery();
      if (!found) { closePopup(); return; }
      var q = found.query;
      state.items = canned.filter(function (item) {
        return !q || item.shortcut.toLowerCase().indexOf(q) === 0 || (item.title || "").toLowerCase().indexOf(q) !== -1;
      }).slice(0, 8);
      state.index = 0;
      renderPopup();
    }

    function choose(i) {
      var item = state.items[i];
      var found = slashQuery();
      if (!item || !found) { closePopup(); return; }
      var before = text.value.slice(0, found.start);
      var after = text.value.slice(text.selectionStart);
      text.value = before + item.text + after;
      var caret = (before + item.text).length;
      text.setSelectionRange(caret, caret);
      closePopup();
      autosize(text);
      text.focus();
    }

    text.addEventListener("input", function () { autosize(text); updatePopup(); });
    text.addEventListener("blur", function () { setTimeout(closePopup, 150); });
    text.addEventListener("keydown", function (event) {
      if (state.open && state.items.length) {
        if (event.key === "ArrowDown" || event.key === "ArrowUp") {
          event.preventDefault();
          var n = state.items.length;
          state.index = (state.index + (event.key === "ArrowDown" ? 1 : n - 1)) % n;
          renderPopup();
          return;
        }
        if (event.key === "Enter" || event.key === "Tab") {
          event.preventDefault();
          choose(state.index);
          return;
        }
      }
      if (state.open && event.key === "Escape") { event.preventDefault(); closePopup(); return; }
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submitComposer(form);
      }
    });
  }

  // ---- retry, panel actions ------------------------------------------------------------------

  document.addEventListener("click", function (event) {
    var retry = event.target.closest("[data-retry-url]");
    if (!retry || !root.contains(retry)) return;
    event.preventDefault();
    retry.disabled = true;
    post(retry.dataset.retryUrl).then(function (response) {
      return response.text().then(function (html) {
        if (response.ok) { insertBubbles(html); return; }
        retry.disabled = false;
        var box = retry.closest("[data-failed]").querySelector("[data-error]");
        try { box.textContent = JSON.parse(html).errors.join(" "); } catch (e) { /* keep the old reason */ }
      });
    }).catch(function () { retry.disabled = false; });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-panel-form")) return;
    event.preventDefault();
    var data = new FormData(form);
    if (event.submitter && event.submitter.name) data.set(event.submitter.name, event.submitter.value);
    Array.prototype.forEach.call(form.querySelectorAll("button"), function (b) { b.disabled = true; });
    post(form.action, data).then(function (response) {
      return response.text().then(function (html) {
        var fresh = fragment(html).firstElementChild;
        var current = document.getElementById("panel");
        if (fresh && current) { current.replaceWith(fresh); icons(); }
        var id = openId();
        if (id) refreshRow(id);
      });
    }).catch(function () {
      Array.prototype.forEach.call(form.querySelectorAll("button"), function (b) { b.disabled = false; });
    });
  });

  // ---- "Why this answer?" and "Summarize conversation": one side drawer ----------------------

  function openDrawer(title, request) {
    var dialog = document.getElementById("inbox-drawer");
    if (!dialog || typeof dialog.showModal !== "function") return false; // the link opens a new tab instead
    var body = dialog.querySelector("[data-drawer-body]");
    var loading = dialog.querySelector("template[data-drawer-loading]");
    dialog.querySelector("[data-drawer-title]").textContent = title || "";
    body.innerHTML = "";
    if (loading) body.appendChild(loading.content.cloneNode(true));
    body.setAttribute("aria-busy", "true");
    if (!dialog.open) dialog.showModal();
    icons();
    function fail() {
      body.innerHTML = "";
      var p = document.createElement("p");
      p.className = "alert alert-error";
      p.textContent = dialog.dataset.textError || root.dataset.textNetwork;
      body.appendChild(p);
    }
    request.then(function (response) {
      // our fragments explain their own upstream errors (502/503); anything else is a page, not a fragment
      if (!response.ok && response.status !== 502 && response.status !== 503) { fail(); return; }
      return response.text().then(function (html) {
        if (!dialog.isConnected) return;
        body.innerHTML = html;
        icons();
      });
    }).catch(fail).then(function () { body.removeAttribute("aria-busy"); });
    return true;
  }

  document.addEventListener("click", function (event) {
    var dialog = document.getElementById("inbox-drawer");
    if (dialog && dialog.open && (event.target === dialog || event.target.closest("[data-drawer-close]"))) {
      dialog.close();
      return;
    }
    var why = event.target.closest("[data-why-url]");
    if (why && root.contains(why)) {
      if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
      if (openDrawer(why.textContent.trim(), get(why.dataset.whyUrl))) event.preventDefault();
      return;
    }
    var summary = event.target.closest("[data-summary-url]");
    if (summary && root.contains(summary)) {
      event.preventDefault();
      if (summary.disabled) return;
      summary.disabled = true;
      openDrawer(summary.getAttribute("aria-label"), post(summary.dataset.summaryUrl));
      setTimeout(function () { summary.disabled = false; }, 1500);
    }
  });

  // ---- sound and desktop notification --------------------------------------------------------

  function alertsOn() {
    try { return window.localStorage.getItem(ALERTS_KEY) === "1"; } catch (e) { return false; }
  }

  function showAlertsState() {
    var button = root.querySelector('[data-action="toggle-alerts"]');
    if (!button) return;
    var on = alertsOn();
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.querySelector("[data-alerts-on]").classList.toggle("hidden", !on);
    button.querySelector("[data-alerts-off]").classList.toggle("hidden", on);
  }

  function toggleAlerts() {
    var on = !alertsOn();
    try { window.localStorage.setItem(ALERTS_KEY, on ? "1" : "0"); } catch (e) { /* private mode */ }
    if (on && "Notification" in window && Notification.permission === "default") {
      Notification.requestPermission();
    }
    showAlertsState();
    icons();
  }

  var audio = null;
  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.08, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.25);
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.25);
    } catch (e) { /* no audio */ }
  }

  function alertNewMessage(data) {
    if (!alertsOn()) return;
    if (!document.hidden && data.conversation_id === openId()) return;
    beep();
    if ("Notification" in window && Notification.permission === "granted") {
      try {
        var note = new Notification(root.dataset.textNewMessage, {body: (data.text || "").slice(0, 120),
                                                                   tag: "inbox-" + data.conversation_id});
        note.onclick = function () { window.focus(); openConversation(data.conversation_id, true); note.close(); };
      } catch (e) { /* some browsers only allow notifications from a service worker */ }
    }
  }

  // ---- the socket ----------------------------------------------------------------------------

  function onEvent(data) {
    var current = openId();
    switch (data.type) {
      case "message.created":
        if (data.conversation_id === current) {
          appendMessage(data.id);
          if (data.direction === "in") markRead();
        }
        if (data.direction === "in" && data.sender_kind === "contact") alertNewMessage(data);
        break;
      case "message.updated":
        if (data.conversation_id === current && messagesEl() &&
            messagesEl().querySelector('[data-message-id="' + data.id + '"]')) appendMessage(data.id);
        break;
      case "conversation.updated":
        refreshRow(data.id);
        if (data.id === current) {
          updateHeaderBadge(data.bot_state);
          refreshPanel();
        }
        break;
    }
  }

  function setOffline(offline) {
    if (offlineBadge) offlineBadge.classList.toggle("hidden", !offline);
    root.dataset.socket = offline ? "closed" : "open";
  }

  function connect() {
    if (!("WebSocket" in window)) return;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + root.dataset.wsPath);
    socket.onopen = function () {
      attempts = 0;
      setOffline(false);
      if (everConnected) {
        // events may have been lost while the socket was down: re-read from the database
        catchUp();
        refreshList(false);
      }
      everConnected = true;
      clearInterval(pingTimer);
      pingTimer = setInterval(function () {
        if (socket && socket.readyState === 1) socket.send(JSON.stringify({type: "ping"}));
      }, 25000);
    };
    socket.onmessage = function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (data && data.type) onEvent(data);
    };
    socket.onclose = function (event) {
      clearInterval(pingTimer);
      if (FINAL_CLOSE.indexOf(event.code) !== -1) return;
      setOffline(true);
      if (held) return;
      attempts += 1;
      var delay = Math.min(15000, 500 * Math.pow(2, attempts - 1)) * (0.6 + Math.random() * 0.4);
      setTimeout(connect, delay);
    };
  }

  // For tests and the console: cut the line as a network failure would, and (optionally) keep it
  // down until connect() is called, to see the page catch up on what it missed.
  var held = false;
  window.inboxDebug = {
    disconnect: function (hold) { held = !!hold; if (socket) socket.close(4000); },
    connect: function () { if (held) { held = false; connect(); } },
  };

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && openId()) markRead();
  });

  showAlertsState();
  markActiveRow();
  if (openId()) initChat();
  connect();
})();
