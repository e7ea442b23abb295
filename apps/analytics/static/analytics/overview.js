/* Visão Geral: draws the Chart.js charts from the JSON the page embeds (#overview-charts), in the
 * theme's colours (the tenant's primary / accent, purple #7C3AED / pink #EC4899 by default), and
 * again after each htmx swap of the content area. Loaded (deferred) after chart.umd.min.js. */
(function () {
  "use strict";

  var charts = [];

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function locale() {
    return document.documentElement.lang || "pt-BR";
  }

  function money(value, currency) {
    try {
      return new Intl.NumberFormat(locale(), { style: "currency", currency: currency || "BRL", maximumFractionDigits: 0 }).format(value);
    } catch (e) {
      return String(value);
    }
  }

  function number(value) {
    return new Intl.NumberFormat(locale()).format(value);
  }

  function theme() {
    var primary = cssVar("--color-primary", "#7C3AED");
    var accent = cssVar("--color-accent", "#EC4899");
    return {
      primary: primary,
      accent: accent,
      text: cssVar("--ui-muted", "#a09bb8"),
      grid: cssVar("--ui-line", "#2b2740"),
      surface: cssVar("--ui-surface", "#15121f"),
      palette: [primary, accent, "#A78BFA", "#F9A8D4", "#6D28D9", "#DB2777", "#C4B5FD", "#FBCFE8", "#4C1D95", "#9D174D"],
    };
  }

  function destroyAll() {
    charts.forEach(function (chart) { chart.destroy(); });
    charts = [];
  }

  function make(canvas, config) {
    if (!canvas) return;
    charts.push(new window.Chart(canvas, config));
    canvas.setAttribute("data-rendered", "true");
  }

  function render() {
    destroyAll();
    var source = document.getElementById("overview-charts");
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    var t = theme();
    var Chart = window.Chart;
    Chart.defaults.color = t.text;
    Chart.defaults.borderColor = t.grid;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    var base = { responsive: true, maintainAspectRatio: false, animation: { duration: 250 } };
    var currency = data.currency;

    var series = data.series;
    make(document.querySelector('canvas[data-chart="series"]'), {
      type: "bar",
      data: {
        labels: series.labels,
        datasets: [
          { type: "bar", label: series.revenueLabel, data: series.revenue, backgroundColor: t.primary, borderRadius: 6, yAxisID: "y", order: 2 },
          { type: "line", label: series.ordersLabel, data: series.orders, borderColor: t.accent, backgroundColor: t.accent, tension: 0.3, pointRadius: series.labels.length > 40 ? 0 : 3, yAxisID: "y1", order: 1 },
        ],
      },
      options: Object.assign({}, base, {
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 12 } },
          y: { beginAtZero: true, ticks: { callback: function (v) { return money(v, currency); } } },
          y1: { beginAtZero: true, position: "right", grid: { display: false }, ticks: { precision: 0 } },
        },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12 } },
          tooltip: { callbacks: { label: function (ctx) {
            return ctx.dataset.label + ": " + (ctx.dataset.yAxisID === "y" ? money(ctx.parsed.y, currency) : number(ctx.parsed.y));
          } } },
        },
      }),
    });

    [["channels", data.channels], ["payments", data.payments]].forEach(function (pair) {
      var part = pair[1];
      make(document.querySelector('canvas[data-chart="' + pair[0] + '"]'), {
        type: "doughnut",
        data: { labels: part.labels, datasets: [{ label: part.ordersLabel, data: part.orders, backgroundColor: t.palette, borderColor: t.surface, borderWidth: 2 }] },
        options: Object.assign({}, base, { cutout: "62%", plugins: { legend: { position: "right", labels: { boxWidth: 12 } } } }),
      });
    });

    var categories = data.categories;
    make(document.querySelector('canvas[data-chart="categories"]'), {
      type: "bar",
      data: { labels: categories.labels, datasets: [{ label: categories.revenueLabel, data: categories.revenue, backgroundColor: categories.labels.map(function (_, i) { return t.palette[i % t.palette.length]; }), borderRadius: 6 }] },
      options: Object.assign({}, base, {
        indexAxis: "y",
        scales: { x: { beginAtZero: true, ticks: { callback: function (v) { return money(v, currency); } } }, y: { grid: { display: false } } },
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: function (ctx) { return money(ctx.parsed.x, currency); } } } },
      }),
    });
  }

  // A 400 (invalid filters) carries the form with its errors: swap it in like a 200.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (event.detail.xhr.status === 400 && target && target.id === "overview-content") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (document.getElementById("overview-content")) render();
  });
  document.addEventListener("DOMContentLoaded", function () {
    render();
    // the theme toggle switches <html class="dark|light">: redraw in the new colours
    new MutationObserver(render).observe(document.documentElement, { attributes: true, attributeFilter: ["class"] });
  });
})();
