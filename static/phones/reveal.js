// The lead tab's phone block: masked numbers, and a reveal with a reason that
// the server checks and journals before it answers. The number is shown for
// the time the server names, then the mask comes back. Requests carry the
// tab's signed token; cookies do not come back inside the portal's iframe.
(function () {
  "use strict";
  var tab = JSON.parse(document.getElementById("pdn-tab").textContent);
  var block = document.getElementById("pdn-phones");
  var list = document.getElementById("pdn-phone-list");
  var row = document.getElementById("pdn-phone-row");
  var form = document.getElementById("pdn-reveal-form");
  var reason = document.getElementById("pdn-reveal-reason");
  var note = document.getElementById("pdn-reveal-note");
  var noteLabel = document.getElementById("pdn-reveal-note-label");
  var error = document.getElementById("pdn-reveal-error");
  var texts = document.getElementById("pdn-phone-texts").dataset;

  function headers() {
    var h = { "Content-Type": "application/json" };
    h[tab.header] = tab.token;
    return h;
  }

  function fit() {
    if (window.BX24 && window.BX24.fitWindow) {
      window.BX24.fitWindow();
    }
  }

  function fail(message) {
    error.textContent = message || texts.failed;
    error.hidden = false;
    fit();
  }

  function reveal(item, value, button) {
    error.hidden = true;
    button.disabled = true;
    var body = { index: item.index, reason: reason.value, note: note.value };
    fetch(tab.phones_reveal_url, {
      method: "POST",
      headers: headers(),
      credentials: "omit",
      body: JSON.stringify(body),
    })
      .then(function (response) {
        return response.json().then(function (data) {
          return { ok: response.ok, data: data };
        });
      })
      .then(function (answer) {
        if (!answer.ok) {
          button.disabled = false;
          fail(answer.data.error && answer.data.error.message);
          return;
        }
        var left = answer.data.visible_seconds;
        value.textContent = answer.data.phone;
        value.classList.add("pdn-phone__value--open");
        block.dataset.revealed = String(item.index);
        button.textContent = texts.hideIn + " " + left + " " + texts.seconds;
        var timer = window.setInterval(function () {
          left -= 1;
          button.textContent = texts.hideIn + " " + left + " " + texts.seconds;
          if (left <= 0) {
            window.clearInterval(timer);
            value.textContent = item.masked;
            value.classList.remove("pdn-phone__value--open");
            button.textContent = button.dataset.label;
            button.disabled = false;
            delete block.dataset.revealed;
          }
        }, 1000);
      })
      .catch(function () {
        button.disabled = false;
        fail();
      });
  }

  function show(data) {
    list.textContent = "";
    data.phones.forEach(function (item) {
      var li = row.content.firstElementChild.cloneNode(true);
      var value = li.querySelector(".pdn-phone__value");
      var button = li.querySelector(".pdn-reveal");
      value.textContent = item.masked;
      button.dataset.label = button.textContent;
      button.dataset.index = String(item.index);
      button.hidden = !data.can_reveal;
      button.addEventListener("click", function () {
        reveal(item, value, button);
      });
      list.appendChild(li);
    });
    if (reason.options.length === 1) {
      data.reasons.forEach(function (choice) {
        var option = document.createElement("option");
        option.value = choice.code;
        option.textContent = choice.label;
        reason.appendChild(option);
      });
    }
    document.getElementById("pdn-phones-empty").hidden = data.phones.length > 0;
    form.hidden = !data.can_reveal || data.phones.length === 0;
    document.getElementById("pdn-reveal-denied").hidden =
      data.can_reveal || data.phones.length === 0;
    block.dataset.loaded = "1";
    fit();
  }

  reason.addEventListener("change", function () {
    noteLabel.hidden = reason.value !== "other";
  });

  fetch(tab.phones_url, { headers: headers(), credentials: "omit" })
    .then(function (response) {
      if (!response.ok) {
        throw new Error(String(response.status));
      }
      return response.json();
    })
    .then(show)
    .catch(function () {
      block.dataset.loaded = "failed";
      fail();
    });
})();
