/* Store pages.
 *
 * Vendas (#orders-page): the order drawer (a <dialog> whose body htmx fills from
 * /store/orders/<id>/?fragment=1) and the live list. The store socket (/ws/store/) announces
 * `order.placed` and `order.updated` ({id, number, status, ...}); the page then re-reads the row
 * from the server (/store/orders/<id>/row/?<the list's filters>; 204 = it no longer matches) and
 * prepends or replaces it, and refreshes the open drawer. After a reconnect the whole list is
 * re-read, because the channel layer may have dropped events while the socket was down.
 *
 * Counter sale (#counter-sale): `counterSale()` is the Alpine component of the form (search, lines,
 * a total preview; the server recomputes every price and total).
 *
 * Loaded (deferred) before Alpine.js, so `window.counterSale` exists when Alpine starts.
 */
(function () {
  "use strict";

  var lang = document.documentElement.lang || "pt-BR";
  var currency;
  try {
    currency = new Intl.NumberFormat(lang, { style: "currency", currency: "BRL" });
  } catch (e) {
    currency = { format: function (n) { return "R$ " + n.toFixed(2); } };
  }

  function parseNumber(text) {
    if (text === null || text === undefined) return NaN;
    var s = String(text).replace(/[\sR$\u00a0]/g, "");
    if (s.indexOf(",") !== -1 && s.indexOf(".") !== -1) {
      s = s.lastIndexOf(",") > s.lastIndexOf(".") ? s.replace(/\./g, "").replace(",", ".") : s.replace(/,/g, "");
    } else {
      s = s.replace(",", ".");
    }
    return s === "" ? NaN : Number(s);
  }

  // ---- counter sale -----------------------------------------------------------------------------

  var lineKey = 0;

  window.counterSale = function (dataId) {
    var initial = [];
    var script = document.getElementById(dataId);
    if (script) {
      try { initial = JSON.parse(script.textContent) || []; } catch (e) { initial = []; }
    }
    return {
      q: "",
      results: [],
      active: 0,
      searched: false,
      busy: false,
      discount: "",
      lines: initial.map(function (line) { lineKey += 1; return Object.assign({ key: lineKey }, line); }),
      search: function () {
        var self = this;
        var q = this.q.trim();
        if (!q) { this.results = []; this.searched = false; return; }
        var url = this.$root.dataset.searchUrl + "?q=" + encodeURIComponent(q);
        fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : { results: [] }; })
          .then(function (data) {
            if (self.q.trim() !== q) return;  // an older answer
            self.results = data.results || [];
            self.active = 0;
            self.searched = true;
          })
          .catch(function () { self.results = []; });
      },
      move: function (step) {
        if (!this.results.length) return;
        this.active = (this.active + step + this.results.length) % this.results.length;
      },
      pick: function (index) {
        var product = this.results[index];
        if (!product) return;
        var existing = this.lines.find(function (line) { return String(line.id) === String(product.id); });
        if (existing) {
          var current = parseNumber(existing.quantity);
          existing.quantity = String((isNaN(current) ? 0 : current) + 1);
          existing.error = "";
        } else {
          lineKey += 1;
          this.lines.push(Object.assign({ key: lineKey, quantity: "1", error: "" }, product));
        }
        this.q = "";
        this.results = [];
        this.searched = false;
        var self = this;
        this.$nextTick(function () {
          if (window.app) window.app.renderIcons();
          var field = self.$root.querySelector("#sale-search");
          if (field) field.focus();
        });
      },
      remove: function (index) { this.lines.splice(index, 1); },
      lineTotal: function (line) {
        var quantity = parseNumber(line.quantity);
        var price = parseNumber(line.price);
        return isNaN(quantity) || isNaN(price) ? 0 : Math.round(quantity * price * 100) / 100;
      },
      subtotal: function () {
        var self = this;
        return this.lines.reduce(function (sum, line) { return sum + self.lineTotal(line); }, 0);
      },
      total: function () {
        var off = parseNumber(this.discount);
        return Math.max(0, this.subtotal() - (isNaN(off) ? 0 : off));
      },
      money: function (value) {
        var n = typeof value === "number" ? value : parseNumber(value);
        return currency.format(isNaN(n) ? 0 : n);
      },
      stockLabel: function (product) {
        var stock = parseNumber(product.stock);
        var labels = document.getElementById("counter-sale").dataset;
        if (isNaN(stock) || stock <= 0) return labels.outLabel || "out of stock";
        var amount = String(stock).replace(".", lang.indexOf("en") === 0 ? "." : ",");
        return (labels.stockLabel || "stock: %s").replace("%s", amount + (product.unit === "unit" ? "" : " " + product.unit_label));
      },
    };
  };

  // ---- Vendas: drawer + live list ------------------------------------------------------------

  var root = document.getElementById("orders-page");
  if (!root) return;

  var drawer = document.getElementById("order-drawer");
  var drawerBody = document.getElementById("order-drawer-body");
  var results = document.getElementById("orders-results");
  var announcer = root.querySelector("[data-announcer]");
  var liveBadge = root.querySelector("[data-live-badge]");
  var FINAL_CLOSE = [4401, 4403, 4404];

  function urlFor(template, id) { return template.replace("/0/", "/" + id + "/"); }

  function openId() {
    var el = drawerBody && drawerBody.querySelector("[data-order-drawer]");
    return drawer && drawer.open && el ? String(el.getAttribute("data-order-drawer")) : null;
  }

  function setUrlOrder(id) {
    var url = new URL(window.location.href);
    if (id) url.searchParams.set("order", id); else url.searchParams.delete("order");
    window.history.replaceState(window.history.state, "", url.toString());
  }

  function openDrawer() {
    if (!drawer || drawer.open) return;
    if (typeof drawer.showModal === "function") drawer.showModal(); else drawer.setAttribute("open", "");
  }

  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target === drawerBody) {
      openDrawer();
      var id = openId();
      if (id) setUrlOrder(id);
    }
  });
  if (drawer) {
    drawer.addEventListener("click", function (event) {
      if (event.target === drawer || event.target.closest("[data-drawer-close]")) drawer.close();
    });
    drawer.addEventListener("close", function () { setUrlOrder(null); });
    if (drawer.hasAttribute("data-open")) openDrawer();
  }

  function listQuery() {
    // the filters the list shows (the URL carries them: hx-push-url keeps it current)
    var params = new URLSearchParams(window.location.search);
    params.delete("order");
    params.delete("page");
    return params.toString();
  }

  function currentPage() {
    return Number(new URLSearchParams(window.location.search).get("page") || "1");
  }

  function fetchRow(id) {
    var query = listQuery();
    var url = urlFor(root.dataset.rowUrl, id) + (query ? "?" + query : "");
    return fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } }).then(function (r) {
      if (r.status === 204) return "";
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.text();
    });
  }

  function toElement(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.querySelector("li[data-order-id]");
  }

  function reloadList() {
    if (!window.htmx || !results) return;
    var query = new URLSearchParams(window.location.search);
    query.delete("order");
    window.htmx.ajax("GET", root.dataset.listUrl + (query.toString() ? "?" + query.toString() : ""),
                     { target: results, swap: "innerHTML", headers: { "HX-Target": "orders-results" } });
  }

  function flash(el) {
    el.classList.add("bg-primary-soft");
    window.setTimeout(function () { el.classList.remove("bg-primary-soft"); }, 2500);
  }

  function settle(el) {
    if (window.htmx) window.htmx.process(el);
    if (window.app) window.app.renderIcons();
  }

  function upsertRow(id, isNew) {
    var existing = document.getElementById("order-row-" + id);
    var list = document.getElementById("order-list");
    if (!existing && (!isNew || currentPage() !== 1)) return Promise.resolve();
    return fetchRow(id).then(function (html) {
      existing = document.getElementById("order-row-" + id);
      list = document.getElementById("order-list");
      if (!html) {
        if (existing) existing.remove();
        return;
      }
      var row = toElement(html);
      if (!row) return;
      if (existing) {
        existing.replaceWith(row);
      } else if (list) {
        list.insertBefore(row, list.firstElementChild);
        flash(row);
      } else {
        reloadList();  // the empty state: draw the whole list
        return;
      }
      settle(row);
    }).catch(function () { /* the next reconnect re-reads the list */ });
  }

  function refreshDrawer(id) {
    if (openId() !== String(id) || !window.htmx) return;
    var active = document.activeElement;
    if (active && drawerBody.contains(active) && active.matches("input, textarea, select")) return;  // typing
    if (drawerBody.querySelector(".htmx-request")) return;  // an action is on its way; its answer redraws
    window.htmx.ajax("GET", urlFor(root.dataset.detailUrl, id) + "?fragment=1", { target: drawerBody, swap: "innerHTML" });
  }

  function announce(text) {
    if (!announcer) return;
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = text; }, 50);
  }

  function onEvent(data) {
    if (!data || data.id === undefined) return;
    if (data.type === "order.placed") {
      upsertRow(data.id, true);
      announce((root.dataset.newOrderLabel || "New order") + (data.number ? " #" + data.number : ""));
    } else if (data.type === "order.updated") {
      upsertRow(data.id, false);
      refreshDrawer(data.id);
    }
  }

  var socket = null;
  var attempts = 0;
  var everConnected = false;
  var pingTimer = null;

  function setLive(on) {
    root.dataset.socket = on ? "open" : "closed";
    if (liveBadge) liveBadge.hidden = !on;
  }

  function connect() {
    if (!("WebSocket" in window)) return;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    try { socket = new WebSocket(scheme + window.location.host + root.dataset.wsPath); } catch (e) { return; }
    socket.onopen = function () {
      attempts = 0;
      setLive(true);
      if (everConnected) reloadList();  // events may have been lost while the socket was down
      everConnected = true;
      window.clearInterval(pingTimer);
      pingTimer = window.setInterval(function () {
        if (socket && socket.readyState === 1) socket.send(JSON.stringify({ type: "ping" }));
      }, 25000);
    };
    socket.onmessage = function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      onEvent(data);
    };
    socket.onclose = function (event) {
      window.clearInterval(pingTimer);
      setLive(false);
      if (FINAL_CLOSE.indexOf(event.code) !== -1) return;
      attempts += 1;
      var delay = Math.min(15000, 500 * Math.pow(2, attempts - 1)) * (0.6 + Math.random() * 0.4);
      window.setTimeout(connect, delay);
    };
  }

  connect();
  window.storePage = {
    live: function () { return root.dataset.socket === "open"; },
    disconnect: function () { if (socket) socket.close(4000); },
  };
})();
