// 复核 form: the 复核计分 column, the totals and every problem follow what is typed (live.js
// posts the form to the review preview, which checks and scores it as a save would). A field
// with a problem is marked invalid and described by the row's problem list.
(function () {
  "use strict";
  const form = document.getElementById("review-form");
  if (!form || !form.dataset.previewUrl) return;
  const status = document.createElement("p");
  status.className = "small text-body-secondary mt-2 mb-0";
  status.id = "review-live-status";
  status.setAttribute("aria-live", "polite");
  const table = document.getElementById("review-table");
  if (table) table.after(status);

  function setText(id, value) {
    const el = document.getElementById(id);
    if (el) el.textContent = value;
  }

  function showRow(row) {
    const tr = form.querySelector(`tr.review-row[data-key="${CSS.escape(row.key)}"]`);
    if (!tr) return;
    tr.querySelector(".live-review-score").textContent = row.score;
    tr.querySelector(".live-review-explain").textContent = row.explanation;
    const problems = tr.querySelector(".live-review-problems");
    const messages = Object.values(row.errors).flat();
    problems.replaceChildren(...messages.map((text) => {
      const div = document.createElement("div");
      div.textContent = text;
      return div;
    }));
    tr.querySelectorAll("input:not([type=hidden]), select, textarea").forEach((field) => {
      const name = field.name.replace(/^review-\d+-/, "");
      const bad = Boolean(row.errors[name]);
      field.classList.toggle("is-invalid", bad);
      field.setAttribute("aria-invalid", bad ? "true" : "false");
      if (bad) field.setAttribute("aria-describedby", problems.id); else field.removeAttribute("aria-describedby");
    });
  }

  function show(result) {
    result.rows.forEach(showRow);
    setText("review-total", result.total ? result.total + (result.grade ? `（${result.grade}）` : "") : "—");
    setText("total-gap", result.gap || "—");
    status.textContent = result.problem_count
      ? `复核中还有 ${result.problem_count} 处问题（见各行），修改后才能审核通过或退回。`
      : "复核计分已按当前填写内容计算（尚未保存）。";
  }

  window.PortalLive.attach(form, form.dataset.previewUrl, show, (err) => {
    status.textContent = (err.body && err.body.error) || "暂时无法计算复核得分，保存后可查看。";
  });
})();
