// Entry form enhancements. The form works without this file: rows are added by a
// server round-trip, ordered by the 顺序 numbers, and scores appear after saving.
(function () {
  "use strict";
  const form = document.getElementById("entry-form");
  if (!form) return;
  document.documentElement.classList.add("js");

  // ---- formset rows: add, move, delete ----
  function rows(prefix) {
    return Array.from(form.querySelectorAll(`table.formset[data-prefix="${prefix}"] tbody > tr.formset-row`));
  }
  function renumber(prefix) {
    rows(prefix).forEach((row, i) => {
      const order = row.querySelector(`input[name$="-ORDER"]`);
      if (order) order.value = i + 1;
    });
  }
  form.querySelectorAll("button.add-row").forEach((button) => {
    button.addEventListener("click", (event) => {
      event.preventDefault();
      const prefix = button.dataset.prefix;
      const total = form.querySelector(`#id_${prefix}-TOTAL_FORMS`);
      const template = document.getElementById(`${prefix}-empty`);
      const index = parseInt(total.value, 10);
      const holder = document.createElement("template");
      holder.innerHTML = template.innerHTML.replace(/__prefix__/g, String(index)).trim();
      // A row is a <tr>, or (indicators) a <tbody> of the row and the line of notes under it.
      const unit = holder.content.firstElementChild;
      const table = form.querySelector(`table.formset[data-prefix="${prefix}"]`);
      (unit.tagName === "TBODY" ? table : table.tBodies[0]).append(unit);
      total.value = String(index + 1);
      renumber(prefix);
      wireRow(unit.matches("tr.formset-row") ? unit : unit.querySelector("tr.formset-row"));
      unit.querySelectorAll("textarea").forEach(grow);
      const first = unit.querySelector("select, textarea, input:not([type=hidden])");
      if (first) first.focus();
    });
  });
  function group(row) {
    return row.closest("tbody.indicator-group") || row;
  }
  function wireRow(row) {
    const table = row.closest("table.formset");
    const prefix = table ? table.dataset.prefix : null;
    const unit = group(row);  // what moves and what is struck through: the row with its notes
    const up = row.querySelector(".move-up");
    const down = row.querySelector(".move-down");
    const sibling = (el) => el && el.tagName === unit.tagName;
    if (up) up.addEventListener("click", () => {
      const prev = unit.previousElementSibling;
      if (sibling(prev)) { unit.parentNode.insertBefore(unit, prev); renumber(prefix); schedulePreview(); }
    });
    if (down) down.addEventListener("click", () => {
      const next = unit.nextElementSibling;
      if (sibling(next)) { unit.parentNode.insertBefore(next, unit); renumber(prefix); schedulePreview(); }
    });
    const del = row.querySelector('input[type=checkbox][name$="-DELETE"]');
    if (del) del.addEventListener("change", () => unit.classList.toggle("row-deleted", del.checked));
    // 二级 suggestions follow the row's 一级 (any other 二级 may still be typed).
    const level1 = row.querySelector("select.level1");
    const level2 = row.querySelector("input.level2");
    if (level1 && level2) {
      const sync = () => {
        const list = form.querySelector(`datalist[data-level1="${CSS.escape(level1.value)}"]`);
        if (list) level2.setAttribute("list", list.id); else level2.removeAttribute("list");
      };
      level1.addEventListener("change", sync);
      sync();
    }
  }
  form.querySelectorAll("tr.formset-row").forEach(wireRow);

  // ---- text boxes grow with what is typed, so long texts read in full ----
  function grow(area) {
    area.style.height = "auto";
    area.style.height = `${area.scrollHeight + 2}px`;
  }
  form.querySelectorAll("textarea").forEach(grow);
  form.addEventListener("input", (event) => { if (event.target.tagName === "TEXTAREA") grow(event.target); });

  // ---- live scores ----
  const status = document.getElementById("live-status");
  function setText(id, value) {
    const el = document.getElementById(id);
    if (el) el.textContent = value;
  }
  // Until a submit was refused, what a row still lacks is a neutral 待填 hint, not an error.
  const attempted = form.dataset.attempted === "1";
  function problemLine(text) {
    const div = document.createElement("div");
    if (!attempted) {
      const tag = document.createElement("span");
      tag.className = "pending-tag";
      tag.textContent = "待填";
      div.append(tag);
    }
    div.append(text);
    return div;
  }
  function showRules(result) {
    const panel = document.getElementById("live-rules");
    const list = document.getElementById("live-rules-list");
    if (panel && list) {
      list.replaceChildren(...(result.rules || []).map((text) => { const li = document.createElement("li"); li.textContent = text; return li; }));
      panel.hidden = !(result.rules || []).length;
    }
    const sums = document.getElementById("live-level1-sums");
    if (sums) {
      sums.replaceChildren(...(result.level1_sums || []).map((g) => {
        const span = document.createElement("span");
        span.className = `level1-sum ${g.ok ? "ok" : "off"}`;
        const strong = document.createElement("strong");
        strong.textContent = g.total;
        span.append(`${g.name} `, strong, ` / ${g.expected}`);
        return span;
      }));
    }
  }
  function show(result) {
    showRules(result);
    setText("live-rate", result.funding.rate ? result.funding.rate + "%" : "—");
    setText("live-funding-rate", result.funding.rate ? result.funding.rate + "%" : "");
    setText("live-funding-weight", result.funding.weight);
    setText("live-funding-score", result.funding.suggested);
    setText("live-funding-explain", result.funding.explanation);
    setText("live-total", result.total || "—");
    setText("live-grade", result.grade || "—");
    setText("live-weight-total", result.weight_total || "—");
    if (status) {
      status.textContent = result.total ? "得分已按当前填写内容计算（尚未保存）"
        : result.status ? `${result.status}，总分和等级待全部计分后显示` : "未设分值：不计算得分";
    }
    (result.funding_rows || []).forEach((f) => {
      const cell = form.querySelector(`tr.funding-row[data-source="${CSS.escape(f.source)}"] .live-row-rate`);
      if (cell) cell.textContent = f.rate ? f.rate + "%" : "";
    });
    const seen = new Set();
    result.indicators.forEach((r) => {
      const row = form.querySelector(`tr.indicator-row[data-prefix="${r.prefix}"]`);
      if (!row) return;
      seen.add(row);
      const unit = group(row);
      unit.id = `indicator-${r.number}`;
      unit.querySelector(".live-score").textContent = r.suggested;
      const differs = unit.querySelector(".live-differs");
      if (differs) differs.textContent = r.differs ? "与规则计算不同" : "";
      const warnings = unit.querySelector(".live-warnings");
      if (warnings) warnings.replaceChildren(...r.warnings.map((p) => { const d = document.createElement("div"); d.textContent = p; return d; }));
      const explain = unit.querySelector(".live-explain");
      explain.textContent = r.explanation;
      explain.classList.toggle("bad", attempted && r.problems.length > 0);
      const problems = unit.querySelector(".live-problems");
      problems.replaceChildren(...r.problems.map(problemLine));
    });
    form.querySelectorAll("tr.indicator-row").forEach((row) => {
      if (!seen.has(row)) {
        const unit = group(row);
        unit.querySelector(".live-score").textContent = "";
        unit.querySelector(".live-explain").textContent = "";
        unit.querySelector(".live-problems").replaceChildren();
        const warnings = unit.querySelector(".live-warnings");
        if (warnings) warnings.replaceChildren();
      }
    });
  }
  const schedulePreview = window.PortalLive.attach(form, form.dataset.previewUrl, show, () => {
    if (status) status.textContent = "暂时无法计算得分，保存后可查看。";
  });
})();
