// 从Excel粘贴 (issue 17): a block of cells copied from a spreadsheet and pasted into any cell of the
// indicator table (or into the “从Excel粘贴指标” box) is sent to the server, which reads it by the
// assessment's 表样 with the import's parser and answers the rows as entry-form fields. The rows
// are added with the table's own “添加指标行” button, filled, and announced; nothing is saved until
// 保存草稿. Pasted rows never overwrite a saved row (the server starts after them); the empty new
// rows at the end of the table (a new assessment opens with five) are used first.
(function () {
  "use strict";
  const form = document.getElementById("entry-form");
  if (!form || !form.dataset.pasteUrl) return;
  const table = form.querySelector('table.formset[data-prefix="indicators"]');
  const total = form.querySelector("#id_indicators-TOTAL_FORMS");
  const initial = form.querySelector("#id_indicators-INITIAL_FORMS");
  const addButton = form.querySelector('button.add-row[data-prefix="indicators"]');
  const status = document.getElementById("paste-status");
  if (!table || !total || !initial || !addButton || !status) return;

  // A block is what has a tab, or several lines pasted where a line cannot go (a one-line box).
  // One cell (Excel adds a line break after it) and text pasted into a text area stay normal pastes.
  function isBlock(text, target) {
    const trimmed = text.replace(/(\r\n|\n|\r)$/, "");
    if (trimmed.includes("\t")) return true;
    return /[\r\n]/.test(trimmed) && target.tagName !== "TEXTAREA";
  }

  function indexOf(row) {
    return parseInt(row.dataset.prefix.split("-").pop(), 10);
  }
  function isEmpty(row) {
    const unit = row.closest("tbody.indicator-group") || row;
    const id = unit.querySelector('input[name$="-id"]');
    if (id && id.value) return false;
    return Array.from(unit.querySelectorAll("input, select, textarea")).every((el) =>
      el.type === "hidden" || el.name.endsWith("-ORDER") || (el.type === "checkbox" ? !el.checked : !el.value));
  }
  // The first of the empty new rows at the end of the formset (or the next row to add).
  function firstFreeIndex() {
    const saved = parseInt(initial.value, 10) || 0;
    const byIndex = new Map(Array.from(table.querySelectorAll("tr.indicator-row")).map((row) => [indexOf(row), row]));
    let start = parseInt(total.value, 10) || 0;
    while (start > saved && byIndex.has(start - 1) && isEmpty(byIndex.get(start - 1))) start -= 1;
    return start;
  }

  function showStatus(message, warnings, kind) {
    status.className = `small mt-2 alert alert-${kind || "info"} py-2`;
    const line = document.createElement("div");
    line.textContent = message;
    status.replaceChildren(line);
    if (warnings && warnings.length) {
      const list = document.createElement("ul");
      list.className = "mb-0";
      warnings.forEach((text) => {
        const item = document.createElement("li");
        item.textContent = text;
        list.append(item);
      });
      status.append(list);
    }
  }

  function fill(body) {
    let guard = 400;
    while ((parseInt(total.value, 10) || 0) < body.total_forms && guard-- > 0) addButton.click();
    const filled = [];
    body.rows.forEach((fields) => {
      for (const [name, value] of Object.entries(fields)) {
        const el = form.elements.namedItem(name);
        if (!el || el.disabled) continue;
        el.value = value;
        filled.push(el);
      }
    });
    // The events typing sends: 二级 suggestions follow the 一级, boxes grow, the live scores and
    // the 一级 sums are recomputed, and the local copy (entry-autosave.js) is kept.
    filled.forEach((el) => {
      el.dispatchEvent(new Event(el.tagName === "SELECT" ? "change" : "input", { bubbles: true }));
    });
    return filled[0];
  }

  let busy = false;
  async function send(text) {
    if (busy) return false;
    busy = true;
    const data = new FormData();
    data.append("csrfmiddlewaretoken", form.querySelector('[name="csrfmiddlewaretoken"]').value);
    data.append("text", text);
    data.append("start", String(firstFreeIndex()));
    showStatus("正在读取粘贴的内容……", [], "secondary");
    try {
      const response = await fetch(form.dataset.pasteUrl, {
        method: "POST", body: data, credentials: "same-origin", headers: { "X-Requested-With": "fetch" },
      });
      const body = await response.json().catch(() => null);
      if (!body || (!response.ok && !body.error)) {
        showStatus("未能粘贴：登录可能已过期或网络异常，请刷新页面后重试（已填写的内容会暂存在本机）。", [], "danger");
        return false;
      }
      if (!response.ok) {
        showStatus(body.error, [], "danger");
        return false;
      }
      const first = fill(body);
      showStatus(body.message, body.warnings, body.warnings.length ? "warning" : "success");
      if (first) first.focus();
      return true;
    } catch (err) {
      showStatus("未能粘贴：网络异常，请稍后重试。", [], "danger");
      return false;
    } finally {
      busy = false;
    }
  }

  table.addEventListener("paste", (event) => {
    const target = event.target;
    if (!target.matches("input, textarea, select") || !event.clipboardData) return;
    const text = event.clipboardData.getData("text/plain");
    if (!isBlock(text, target)) return;  // one cell: the browser pastes it as usual
    event.preventDefault();
    send(text);
  });

  // The box: for whoever prefers it, and for keyboard and screen-reader users.
  const open = document.getElementById("paste-open");
  const panel = document.getElementById("paste-panel");
  const box = document.getElementById("paste-text");
  const apply = document.getElementById("paste-apply");
  const cancel = document.getElementById("paste-cancel");
  if (!open || !panel || !box || !apply || !cancel) return;
  open.hidden = false;
  function toggle(show) {
    panel.hidden = !show;
    open.setAttribute("aria-expanded", String(show));
    if (show) box.focus();
  }
  open.addEventListener("click", () => toggle(panel.hidden));
  cancel.addEventListener("click", () => { toggle(false); open.focus(); });
  apply.addEventListener("click", async () => {
    if (!box.value.trim()) {
      showStatus("请先将 Excel 中复制的指标行粘贴到框中。", [], "danger");
      box.focus();
      return;
    }
    if (await send(box.value)) {
      box.value = "";
      toggle(false);
    }
  });
})();
