// The legal hold in the lead tab, through the tab's signed token.
(function () {
  "use strict";
  var tab = JSON.parse(document.getElementById("pdn-tab").textContent);
  var section = document.getElementById("pdn-hold");
  var state = document.getElementById("pdn-hold-state");
  var form = document.getElementById("pdn-hold-form");
  var release = document.getElementById("pdn-hold-release");

  function call(method, body) {
    var headers = { "Content-Type": "application/json" };
    headers[tab.header] = tab.token;
    return fetch(section.dataset.url, {
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

  function show(data) {
    var hold = data.hold;
    state.textContent = hold
      ? hold.reason + " · " + hold.review_date
      : state.dataset.none;
    state.dataset.held = hold ? "1" : "0";
    form.hidden = Boolean(hold);
    release.hidden = !hold;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    call("POST", {
      reason: form.elements.reason.value,
      review_date: form.elements.review_date.value
    }).then(show).catch(function (error) { state.textContent = error.message; });
  });
  release.addEventListener("click", function () {
    call("DELETE").then(show).catch(function (error) { state.textContent = error.message; });
  });
  call("GET").then(show).catch(function (error) { state.textContent = error.message; });
})();
