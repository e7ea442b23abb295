/* Simulator page: remembers the customer (name, phone, number) in localStorage, sends with Enter,
   shows form errors, keeps the chat scrolled to the newest message and refreshes it live.
   Loaded (deferred) before htmx processes the page, so the remembered values are in the inputs
   before the transcript's first load. The inbox socket only announces; the transcript is re-read
   over HTTP, and polled every 2 s while the socket is down. */
(function () {
  "use strict";
  var page = document.getElementById("simulator-page");
  var form = document.getElementById("sim-form");
  if (!page || !form) return;
  var KEY = "simulator.customer";
  var fields = {
    connection: form.querySelector("[name=connection]"),
    name: form.querySelector("[name=name]"),
    phone: form.querySelector("[name=phone]"),
  };
  var text = form.querySelector("[name=text]");
  var errors = document.getElementById("sim-errors");
  var transcript = document.getElementById("transcript");
  window.simSocketOpen = false;
  var lastRefresh = Date.now();
  // poll every 2 s while the socket is down; with it up, still re-read every 10 s (the socket only
  // tells about conversations this user may see in the inbox)
  window.simShouldPoll = function () { return !window.simSocketOpen || Date.now() - lastRefresh > 10000; };

  function load() {
    try { return JSON.parse(window.localStorage.getItem(KEY) || "{}") || {}; } catch (e) { return {}; }
  }
  function save() {
    try {
      window.localStorage.setItem(KEY, JSON.stringify({
        name: fields.name.value, phone: fields.phone.value, connection: fields.connection.value,
      }));
    } catch (e) { /* private mode: nothing to remember */ }
  }
  function randomPhone() {
    var digits = "";
    for (var i = 0; i < 8; i++) digits += Math.floor(Math.random() * 10);
    return "+55119" + digits;
  }

  var stored = load();
  var fromUrl = new URLSearchParams(window.location.search);
  if (!fields.name.value) fields.name.value = stored.name || page.dataset.defaultName || "";
  if (!fields.phone.value) fields.phone.value = stored.phone || randomPhone();
  if (!fromUrl.get("connection") && stored.connection &&
      fields.connection.querySelector('option[value="' + stored.connection + '"]')) {
    fields.connection.value = stored.connection;
  }
  save();

  function refresh() {
    if (window.htmx) window.htmx.trigger(document.body, "sim-refresh");
  }
  ["change", "input"].forEach(function (type) {
    form.addEventListener(type, function (event) {
      if (event.target === text) return;
      save();
      if (type === "change") refresh();
    });
  });

  text.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (typeof form.requestSubmit === "function") form.requestSubmit(); else form.submit();
    }
  });

  function scrollDown() { transcript.scrollTop = transcript.scrollHeight; }
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    var elt = event.detail.requestConfig ? event.detail.requestConfig.elt : event.detail.elt;
    if (elt === form && xhr.status === 400) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
      event.detail.target = errors;
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    if (event.detail.elt === form && xhr && xhr.status >= 200 && xhr.status < 300) {
      text.value = "";
      errors.innerHTML = "";
      text.focus();
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target === transcript) { lastRefresh = Date.now(); scrollDown(); }
  });
  document.addEventListener("DOMContentLoaded", scrollDown);

  function interesting(message) {
    var type = message.type || message.event;
    var data = message.data || message;
    if (["message.created", "message.updated", "conversation.updated"].indexOf(type) === -1) return false;
    var current = transcript.querySelector("[data-transcript]");
    var id = current ? current.dataset.conversationId : "";
    var convId = String(type === "conversation.updated" ? data.id : data.conversation_id);
    // a new conversation (first message, or after a reset) has no id on screen yet
    return !id || id === convId || (current && current.dataset.pending);
  }

  var attempts = 0;
  var FINAL = [4401, 4403, 4404];
  var live = page.querySelector("[data-sim-live]");
  function connect() {
    if (!("WebSocket" in window)) return;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket;
    try { socket = new WebSocket(scheme + window.location.host + page.dataset.wsPath); } catch (e) { return; }
    socket.onopen = function () {
      attempts = 0;
      window.simSocketOpen = true;
      if (live) live.hidden = false;
      refresh();  // re-read what may have been missed
    };
    socket.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (interesting(message)) refresh();
    };
    socket.onclose = function (event) {
      window.simSocketOpen = false;
      if (live) live.hidden = true;
      if (FINAL.indexOf(event.code) !== -1) return;
      attempts += 1;
      var delay = Math.min(30000, 1000 * Math.pow(2, attempts - 1)) * (0.5 + Math.random() / 2);
      window.setTimeout(connect, delay);
    };
    socket.onerror = function () { /* onclose follows; retry quietly */ };
  }
  connect();
})();
