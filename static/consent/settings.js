// The consent settings on the app page: saves through the page's signed
// admin token (no cookies inside the portal's iframe), then reloads the
// section the server renders.
(function () {
  "use strict";
  var page = JSON.parse(document.getElementById("pdn-app-data").textContent);

  function post(body, status) {
    var headers = { "Content-Type": "application/json" };
    headers[page.header] = page.token;
    status.textContent = "…";
    return fetch(page.consent_url, {
      method: "POST",
      headers: headers,
      credentials: "omit",
      body: JSON.stringify(body)
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
        var section = document.getElementById("pdn-consent-settings");
        section.outerHTML = data.html;
        bind();
        document.body.dataset.consentSaved = String(Date.now());
      })
      .catch(function (error) {
        status.textContent = error.message;
      });
  }

  function bind() {
    var operator = document.getElementById("pdn-operator-form");
    operator.addEventListener("submit", function (event) {
      event.preventDefault();
      var settings = {};
      Array.prototype.forEach.call(operator.elements, function (field) {
        if (!field.name) {
          return;
        }
        settings[field.name] = field.type === "checkbox" ? field.checked : field.value;
      });
      post({ settings: settings }, operator.querySelector(".pdn-form-status"));
    });
    document.querySelectorAll(".pdn-text-form").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        post(
          { purpose: form.dataset.purpose, text: form.elements.text.value },
          form.querySelector(".pdn-form-status")
        );
      });
    });
  }

  bind();
})();
