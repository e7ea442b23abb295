/* Connections page: live status badges and the QR dialog.
   The inbox socket (/ws/inbox/) announces `connection.updated` ({id, status, has_qr, ...}); the page
   then re-reads the card (and the QR while its dialog is open) over HTTP. When the socket is down the
   open QR dialog polls instead, so pairing works either way. */
(function () {
  "use strict";
  var root = document.getElementById("connections-page");
  if (!root) return;
  var dialog = document.getElementById("qr-dialog");
  var qrBody = document.getElementById("qr-body");
  var qrFor = null;
  var socketOpen = false;
  var pollTimer = null;
  var FINAL = [4401, 4403, 4404];

  function url(template, id) { return template.replace(/\/0\/([a-z]+\/)$/, "/" + id + "/$1"); }

  function busy(card) {
    // someone is editing settings or confirming a delete on this card: do not replace it under them
    var confirm = card.querySelector("[role=alertdialog]");
    return Boolean(card.querySelector("details[open]") || (confirm && confirm.offsetParent !== null) ||
                   (card.contains(document.activeElement) && document.activeElement.matches("input, select, textarea")));
  }

  function refreshCard(id) {
    var card = document.getElementById("connection-" + id);
    if (!card || !window.htmx || busy(card)) return;
    if (card.querySelector(".htmx-request")) {  // a Test is running: re-read once its answer is shown
      card.dataset.stale = "1";
      return;
    }
    var result = card.querySelector("[id^=test-result-]");
    window.htmx.ajax("GET", url(root.dataset.cardUrl, id), { target: card, swap: "outerHTML" }).then(function () {
      // keep the answer of a Test the card was showing, read now: a Test answer may have been
      // drawn into the old card while this re-read was on its way
      var kept = result ? result.innerHTML : "";
      var fresh = document.querySelector("#connection-" + id + " [id^=test-result-]");
      if (fresh && kept && !fresh.innerHTML.trim()) fresh.innerHTML = kept;
    });
  }

  function loadQr() {
    if (qrFor === null) return;
    fetch(url(root.dataset.qrUrl, qrFor), { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null || qrFor === null) return;
        qrBody.innerHTML = html;
        if (window.app) window.app.renderIcons();
        if (qrBody.querySelector("[data-qr-connected]")) {
          var id = qrFor;
          refreshCard(id);
          window.setTimeout(function () { if (qrFor === id) closeQr(); }, 1500);
        }
      })
      .catch(function () {});
  }

  function schedulePoll() {
    window.clearTimeout(pollTimer);
    if (qrFor === null) return;
    pollTimer = window.setTimeout(function () {
      if (!socketOpen) loadQr();
      schedulePoll();
    }, 3000);
  }

  function openQr(id) {
    qrFor = String(id);
    qrBody.innerHTML = "";
    loadQr();
    if (dialog && !dialog.open) {
      if (typeof dialog.showModal === "function") dialog.showModal(); else dialog.setAttribute("open", "");
    }
    schedulePoll();
  }

  function closeQr() {
    qrFor = null;
    window.clearTimeout(pollTimer);
    if (dialog && dialog.open) dialog.close();
  }

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-qr-open]");
    if (opener) { openQr(opener.getAttribute("data-qr-open")); return; }
    if (event.target.closest("[data-qr-close]")) { closeQr(); return; }
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var input = document.querySelector(copy.getAttribute("data-copy"));
      if (!input) return;
      var done = function () {
        var label = copy.querySelector("span");
        if (!label) return;
        var old = label.textContent;
        label.textContent = copy.getAttribute("data-copied-label") || old;
        window.setTimeout(function () { label.textContent = old; }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () { input.select(); document.execCommand("copy"); done(); });
      } else {
        input.select(); document.execCommand("copy"); done();
      }
    }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var card = event.target && event.target.closest ? event.target.closest("[data-connection-id]") : null;
    if (card && card.dataset.stale) {
      delete card.dataset.stale;
      refreshCard(card.dataset.connectionId);
    }
  });
  if (dialog) dialog.addEventListener("close", function () { qrFor = null; window.clearTimeout(pollTimer); });

  function onEvent(message) {
    var type = message.type || message.event;
    var data = message.data || message;
    if (type !== "connection.updated" || !data || data.id === undefined) return;
    var id = String(data.id);
    refreshCard(id);
    if (qrFor === id) {
      loadQr();
    } else if (data.status === "awaiting_qr" && data.has_qr && String(root.dataset.pair || "") === id) {
      openQr(id);
    }
  }

  var attempts = 0;
  function connect() {
    if (!("WebSocket" in window)) return;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket;
    try { socket = new WebSocket(scheme + window.location.host + root.dataset.wsPath); } catch (e) { return; }
    socket.onopen = function () {
      attempts = 0;
      socketOpen = true;
      // events may have been missed while disconnected: re-read what is on screen
      document.querySelectorAll("[data-connection-id]").forEach(function (card) {
        if (card.dataset.status !== "connected") refreshCard(card.dataset.connectionId);
      });
      loadQr();
    };
    socket.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      onEvent(message);
    };
    socket.onclose = function (event) {
      socketOpen = false;
      if (FINAL.indexOf(event.code) !== -1) return;
      attempts += 1;
      var delay = Math.min(30000, 1000 * Math.pow(2, attempts - 1)) * (0.5 + Math.random() / 2);
      window.setTimeout(connect, delay);
    };
    socket.onerror = function () { /* onclose follows; retry quietly */ };
  }

  connect();
  if (root.dataset.pair) openQr(root.dataset.pair);
  window.connectionsPage = { openQr: openQr, closeQr: closeQr, refreshCard: refreshCard,
                             live: function () { return socketOpen; } };
})();
