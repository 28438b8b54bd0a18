// Retention on the app page: every call carries the page's signed admin
// token in a header (no cookies inside the portal's iframe).
(function () {
  "use strict";
  var section = document.getElementById("pdn-retention");
  if (!section) {
    return;
  }
  var status = document.getElementById("pdn-retention-status");

  function call(method, url, body) {
    var headers = { "Content-Type": "application/json" };
    headers[section.dataset.header] = section.dataset.token;
    return fetch(url, {
      method: method,
      headers: headers,
      credentials: "omit",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) {
          throw new Error(data.error || String(response.status));
        }
        return data;
      });
    });
  }

  document.getElementById("pdn-retention-policy").addEventListener("submit", function (event) {
    event.preventDefault();
    var form = event.target;
    var body = {};
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name) {
        return;
      }
      if (field.type === "checkbox") {
        body[field.name] = field.checked;
      } else if (field.name === "medical_sources" || field.name === "medical_statuses") {
        body[field.name] = field.value ? JSON.parse(field.value) : [];
      } else {
        body[field.name] = field.value;
      }
    });
    status.textContent = "…";
    call("POST", "/b24/retention/policy/", body)
      .then(function () { status.textContent = "✓"; section.dataset.saved = String(Date.now()); })
      .catch(function (error) { status.textContent = error.message; });
  });

  document.getElementById("pdn-retention-preview").addEventListener("click", function () {
    var out = document.getElementById("pdn-retention-preview-out");
    call("GET", "/b24/retention/preview/")
      .then(function (data) {
        var lines = data.destroy.map(function (row) {
          return "lead#" + row.lead_id + " " + row.data_class + " " + row.reason;
        });
        lines.push(data.summary);
        out.textContent = lines.join("\n");
        out.hidden = false;
      })
      .catch(function (error) { out.textContent = error.message; out.hidden = false; });
  });

  Array.prototype.forEach.call(section.querySelectorAll("[data-restore]"), function (button) {
    button.addEventListener("click", function () {
      call("POST", "/b24/retention/archives/" + button.dataset.restore + "/restore/")
        .then(function (data) { button.replaceWith("→ lead#" + data.lead_id); })
        .catch(function (error) { button.textContent = error.message; });
    });
  });
})();
