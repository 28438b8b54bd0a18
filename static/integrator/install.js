// Finish the install only when the server finished binding events and the tab:
// installFinish before that would leave the portal sending events to nobody.
(function () {
  "use strict";
  var root = document.getElementById("pdn-install");
  var status = document.getElementById("pdn-install-status");
  if (!root || root.dataset.finish !== "1") {
    return;
  }
  if (!window.BX24) {
    status.textContent = root.dataset.noLibraryText;
    status.className = "pdn-status pdn-status--error";
    status.dataset.state = "failed";
    return;
  }
  window.BX24.init(function () {
    window.BX24.installFinish();
    status.textContent = root.dataset.finishedText;
    status.dataset.state = "finished";
  });
})();
