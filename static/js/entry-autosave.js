// Typed work is never lost (issue 5): every few seconds the entry form is copied to this
// browser's localStorage, keyed by user, assessment and the version the page was opened at.
// When the page is opened again and an unsaved copy exists (the session expired and the save
// went to the login page, the tab was closed, the network failed), the page offers
// “恢复未保存的内容”. A copy is removed once its save has succeeded (the version moved on),
// when the user discards it, when it is older than 7 days, and on logout (session.js).
(function () {
  "use strict";
  const form = document.getElementById("entry-form");
  if (!form || !form.dataset.autosaveKey) return;
  let storage;
  try {
    storage = window.localStorage;
    storage.getItem("portal-entry:probe");
  } catch (err) {
    return;  // storage disabled: the form still works, only without the local copy
  }
  const PREFIX = `portal-entry:${form.dataset.autosaveKey}:`;
  const version = parseInt(form.dataset.autosaveVersion, 10) || 0;
  const KEY = PREFIX + version;
  const INTERVAL_MS = 3000;
  const MAX_AGE_MS = 7 * 24 * 3600 * 1000;
  const SKIP = new Set(["csrfmiddlewaretoken", "action"]);

  function fields() {
    const values = {};
    for (const el of form.elements) {
      if (!el.name || SKIP.has(el.name) || el.name.endsWith("-TOTAL_FORMS")) continue;
      if (el.type === "checkbox") values[el.name] = el.checked;
      else if (el.type === "radio") { if (el.checked) values[el.name] = el.value; }
      else if (el.type !== "submit" && el.type !== "button" && el.type !== "file") values[el.name] = el.value;
    }
    return values;
  }
  function totals() {
    const result = {};
    form.querySelectorAll('input[name$="-TOTAL_FORMS"]').forEach((el) => {
      result[el.name.slice(0, -"-TOTAL_FORMS".length)] = parseInt(el.value, 10) || 0;
    });
    return result;
  }
  function read(key) {
    try { return JSON.parse(storage.getItem(key)); } catch (err) { return null; }
  }
  function write(copy) {
    try { storage.setItem(KEY, JSON.stringify(copy)); } catch (err) { /* quota: keep going */ }
  }

  const baseline = JSON.stringify(fields());
  let lastWritten = null;

  function save(submitted) {
    const values = fields();
    const json = JSON.stringify(values);
    if (json === baseline && !submitted) {
      if (lastWritten !== null) { storage.removeItem(KEY); lastWritten = null; }
      return;
    }
    if (json === lastWritten && !submitted) return;
    write({ v: version, savedAt: Date.now(), submitted: !!submitted, fields: values, totals: totals() });
    lastWritten = json;
  }

  // ---- on load: tidy up, and offer an unsaved copy ----
  let offer = null;
  for (const key of Object.keys(storage)) {
    if (!key.startsWith(PREFIX)) continue;
    const copy = read(key);
    if (!copy || !copy.fields || Date.now() - copy.savedAt > MAX_AGE_MS || copy.v > version) {
      storage.removeItem(key);
    } else if (copy.v < version && copy.submitted) {
      storage.removeItem(key);  // that save went through: the version moved on
    } else if (copy.v === version && JSON.stringify(copy.fields) === baseline) {
      storage.removeItem(key);  // the page already shows exactly this content
    } else if (!offer || copy.savedAt > offer.copy.savedAt) {
      offer = { key, copy };
    }
  }

  function restore(copy) {
    for (const [prefix, total] of Object.entries(copy.totals || {})) {
      const input = form.querySelector(`input[name="${CSS.escape(prefix)}-TOTAL_FORMS"]`);
      const button = form.querySelector(`button.add-row[data-prefix="${CSS.escape(prefix)}"]`);
      let guard = 200;
      while (input && button && (parseInt(input.value, 10) || 0) < total && guard-- > 0) button.click();
    }
    for (const el of form.elements) {
      if (!el.name || !(el.name in copy.fields)) continue;
      const value = copy.fields[el.name];
      if (el.type === "checkbox") el.checked = !!value;
      else if (el.type === "radio") el.checked = el.value === value;
      else el.value = value;
    }
    // Let entry.js re-apply dependent choices, marks and scores.
    form.querySelectorAll("select.level1").forEach((el) => el.dispatchEvent(new Event("change", { bubbles: true })));
    form.querySelectorAll("select.level2").forEach((el) => {
      if (el.name in copy.fields) el.value = copy.fields[el.name];
    });
    form.querySelectorAll('input[type=checkbox][name$="-DELETE"]').forEach((el) => el.dispatchEvent(new Event("change")));
    form.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function showOffer() {
    const box = document.createElement("div");
    box.id = "autosave-offer";
    box.className = "alert alert-info d-flex flex-wrap align-items-center gap-2";
    box.setAttribute("role", "alert");
    const text = document.createElement("span");
    text.className = "me-auto";
    const when = new Date(offer.copy.savedAt).toLocaleString("zh-CN", { hour12: false });
    text.textContent = `本机浏览器中有 ${when} 暂存的未保存内容。`
      + (offer.copy.v < version ? "该内容基于较早的版本，期间已有他人保存过此自评；恢复后保存时，系统会提示比较两个版本。" : "");
    const restoreButton = document.createElement("button");
    restoreButton.type = "button";
    restoreButton.className = "btn btn-sm btn-primary";
    restoreButton.id = "autosave-restore";
    restoreButton.textContent = "恢复未保存的内容";
    const discardButton = document.createElement("button");
    discardButton.type = "button";
    discardButton.className = "btn btn-sm btn-outline-secondary";
    discardButton.id = "autosave-discard";
    discardButton.textContent = "放弃";
    box.append(text, restoreButton, discardButton);
    form.prepend(box);
    restoreButton.addEventListener("click", () => {
      const copy = offer.copy;
      restore(copy);
      if (offer.key !== KEY) storage.removeItem(offer.key);
      offer = null;
      save(false);
      box.className = "alert alert-success";
      box.replaceChildren("已恢复本机暂存的内容，请核对后点击“保存草稿”。");
    });
    discardButton.addEventListener("click", () => {
      storage.removeItem(offer.key);
      offer = null;
      box.remove();
    });
  }
  if (offer) showOffer();

  // ---- while typing: keep the copy current ----
  let dirty = false;
  form.addEventListener("input", () => { dirty = true; });
  form.addEventListener("change", () => { dirty = true; });
  setInterval(() => {
    if (dirty && !offer) { dirty = false; save(false); }
  }, INTERVAL_MS);
  form.addEventListener("submit", () => {
    if (offer) {  // saving without restoring: the user chose what is on the page
      storage.removeItem(offer.key);
      offer = null;
    }
    save(true);
  });
  window.addEventListener("pagehide", () => { if (dirty && !offer) save(false); });
})();
