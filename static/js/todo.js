// The 待办 count in the navigation bar (issue 14). Fetched after the page has loaded, so that
// no page pays for the count's queries; without JavaScript the link still leads to the list.
(function () {
  "use strict";
  const badge = document.getElementById("todo-badge");
  if (!badge || !window.fetch) return;
  fetch(badge.dataset.countUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (data) {
      if (!data || !data.total) return;
      badge.textContent = String(data.total);
      badge.hidden = false;
    })
    .catch(function () { /* the link works without the count */ });
})();
