// The 单位 box of the review dashboard, the public list and the 批复目标 upload (issue 17, part 5): instead of a
// list of every unit (thousands in a province), the box suggests the names that contain what is
// typed, asked from the server as one types. Without this script the box still filters (by name).
(function () {
  "use strict";
  const input = document.getElementById("f-unit");
  const list = document.getElementById("f-unit-options");
  if (!input || !list || !input.dataset.suggestUrl) return;
  let timer = null;
  let asked = null;

  function fill(units) {
    list.replaceChildren(...units.map((u) => {
      const option = document.createElement("option");
      option.value = u.name;
      if (u.short_name && u.short_name !== u.name) option.label = u.short_name;
      return option;
    }));
  }

  function ask() {
    const q = input.value.trim();
    if (q === asked) return;
    asked = q;
    const url = `${input.dataset.suggestUrl}?q=${encodeURIComponent(q)}`;
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : { units: [] }))
      .then((data) => { if (asked === q) fill(data.units || []); })
      .catch(() => { /* suggestions are a convenience: typing and 筛选 still work */ });
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(ask, 200);
  });
  input.addEventListener("focus", ask, { once: true });
})();
