// Live recomputation shared by the officer's entry page (entry.js) and the reviewer's 复核 form
// (review.js): 400 ms after the last change the form is posted to its preview URL, where the
// server scores it with scoring.py, the code a save runs; a newer request aborts an older one.
// Nothing is saved. Returns the function that schedules a preview (for changes made by script).
// What was typed before this script ran (a page still loading) is scored as soon as it attaches.
window.PortalLive = {
  attach(form, url, onResult, onFailure) {
    "use strict";
    let timer = null;
    let inFlight = null;
    async function run() {
      if (inFlight) inFlight.abort();
      inFlight = new AbortController();
      try {
        const response = await fetch(url, {
          method: "POST", body: new FormData(form), signal: inFlight.signal,
          headers: { "X-Requested-With": "fetch" }, credentials: "same-origin",
        });
        const body = await response.json().catch(() => ({}));
        if (!response.ok) throw Object.assign(new Error(String(response.status)), { body });
        onResult(body);
      } catch (err) {
        if (err.name !== "AbortError" && onFailure) onFailure(err);
      }
    }
    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(run, 400);
    }
    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
    const changed = (el) => {
      if (el.type === "checkbox" || el.type === "radio") return el.checked !== el.defaultChecked;
      if (el.tagName === "SELECT") return Array.from(el.options).some((o) => o.selected !== o.defaultSelected);
      return "defaultValue" in el && el.type !== "hidden" && el.value !== el.defaultValue;
    };
    if (Array.from(form.elements).some(changed)) schedule();
    return schedule;
  },
};
