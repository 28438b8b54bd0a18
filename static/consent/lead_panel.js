// The consent block of the lead tab: reloads itself and records a manager's
// withdrawal through the tab's signed token (no cookies inside the iframe).
(function () {
  "use strict";
  var tab = JSON.parse(document.getElementById("pdn-tab").textContent);
  var block = document.getElementById("pdn-consent");
  var form = document.getElementById("pdn-withdraw-form");
  var note = document.getElementById("pdn-withdraw-note");
  var status = document.getElementById("pdn-withdraw-status");
  var refresh = document.getElementById("pdn-refresh");

  function headers() {
    var h = { "Content-Type": "application/json" };
    h[tab.header] = tab.token;
    return h;
  }

  function show(data) {
    var body = document.getElementById("pdn-consent-body");
    body.outerHTML = data.html;
    form.hidden = !data.panel.can_withdraw;
    block.dataset.loaded = String(Date.now());
    if (window.BX24 && window.BX24.fitWindow) {
      window.BX24.fitWindow();
    }
  }

  function load() {
    return fetch(tab.consent_url, { headers: headers(), credentials: "omit" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(show);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    status.textContent = "";
    fetch(tab.withdraw_url, {
      method: "POST",
      headers: headers(),
      credentials: "omit",
      body: JSON.stringify({ note: note.value })
    })
      .then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok) {
            throw new Error(data.error || String(response.status));
          }
          return data;
        });
      })
      .then(function (data) {
        note.value = "";
        show(data);
        status.textContent = status.dataset.done;
      })
      .catch(function (error) {
        status.textContent = error.message;
      });
  });

  if (refresh) {
    refresh.addEventListener("click", function () {
      load().catch(function () {
        block.dataset.loaded = "failed";
      });
    });
  }
})();
