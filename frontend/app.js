/* Dashboard glue: icons, theme toggle, small helpers. Loaded (deferred) before Alpine.js. */
(function () {
  "use strict";

  function renderIcons() {
    if (window.lucide && typeof window.lucide.createIcons === "function") {
      window.lucide.createIcons();
    }
  }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // POST a form in the background; falls back to a normal submit when the request fails.
  function postForm(form) {
    return fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "X-Requested-With": "fetch" },
    }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response;
    });
  }

  // Theme toggle: <form data-theme-toggle method="post" action="{% url 'core:preferences' %}">
  // with a hidden input name="theme". Switches at once, then saves on the user.
  function toggleTheme(form) {
    var html = document.documentElement;
    var next = html.classList.contains("light") ? "dark" : "light";
    html.classList.remove("dark", "light");
    html.classList.add(next);
    var input = form.querySelector("input[name=theme]");
    if (input) input.value = next;
    var button = form.querySelector("[aria-pressed]");
    if (button) button.setAttribute("aria-pressed", next === "light" ? "true" : "false");
    postForm(form).catch(function () {
      form.submit();
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-theme-toggle")) {
      event.preventDefault();
      toggleTheme(form);
    }
  });

  document.addEventListener("DOMContentLoaded", renderIcons);
  // new content from htmx (swaps, out-of-band swaps) gets its icons too
  document.addEventListener("htmx:load", renderIcons);
  document.addEventListener("htmx:afterSettle", renderIcons);

  window.app = { renderIcons: renderIcons, csrfToken: csrfToken, postForm: postForm, toggleTheme: toggleTheme };
})();
