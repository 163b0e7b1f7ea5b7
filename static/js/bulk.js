// 批量下载: while a ZIP is being built, fetch this page again every 3 s and replace the table's
// rows (no meta refresh: the page, the focus and what a screen reader is reading stay put).
// The progress is announced through the polite live region #bulk-status.
(function () {
  "use strict";
  const table = document.getElementById("bulk-jobs");
  const status = document.getElementById("bulk-status");
  if (!table || !table.dataset.running) return;
  const INTERVAL = 3000;
  const MAX_POLLS = 200; // ten minutes; then a reload shows where it stands
  let polls = 0;

  function progressText(body) {
    return Array.from(body.querySelectorAll(".progress-bar")).map((bar) => bar.textContent.trim()).join("，");
  }

  async function poll() {
    polls += 1;
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin", cache: "no-store" });
      if (response.ok) {
        const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById("bulk-jobs");
        if (fresh) {
          table.tBodies[0].replaceWith(document.importNode(fresh.tBodies[0], true));
          if (!fresh.dataset.running) {
            delete table.dataset.running;
            status.textContent = "打包已完成，可以下载。";
            return;
          }
          status.textContent = `打包进度 ${progressText(table.tBodies[0])}`;
        }
      }
    } catch (error) {
      // A network hiccup: try again at the next interval.
    }
    if (polls < MAX_POLLS) window.setTimeout(poll, INTERVAL);
  }

  window.setTimeout(poll, INTERVAL);
})();
