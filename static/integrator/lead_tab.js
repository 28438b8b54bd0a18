// The lead tab: refreshes itself with the signed token the page carries
// (cookies do not come back reliably inside the portal's iframe).
(function () {
  "use strict";
  var tab = JSON.parse(document.getElementById("pdn-tab").textContent);
  var button = document.getElementById("pdn-refresh");
  var title = document.getElementById("pdn-lead-title");
  var phones = document.getElementById("pdn-phone-count");

  function fit() {
    if (window.BX24 && window.BX24.fitWindow) {
      window.BX24.fitWindow();
    }
  }

  function refresh() {
    var headers = {};
    headers[tab.header] = tab.token;
    button.disabled = true;
    fetch(tab.lead_url, { headers: headers, credentials: "omit" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (lead) {
        title.textContent = lead.title || title.dataset.untitled;
        phones.textContent = String(lead.phone_count);
        document.body.dataset.refreshed = "1";
      })
      .catch(function () {
        document.body.dataset.refreshed = "failed";
      })
      .then(function () {
        button.disabled = false;
        fit();
      });
  }

  button.addEventListener("click", refresh);
  if (window.BX24 && window.BX24.init) {
    window.BX24.init(fit);
  }
})();
