// Session expiry warning (issue 5). The server puts the seconds left before the session ends
// on <body data-session-expires-in> (30 minutes idle, 12 hours at most). Five minutes before,
// a Bootstrap alert offers to stay logged in; typing also keeps the session alive. When the
// session has ended the alert says so: what was typed in the entry form is kept in this
// browser (entry-autosave.js) and offered again after logging in.
(function () {
  "use strict";
  const body = document.body;
  const seconds = parseInt(body.dataset.sessionExpiresIn || "", 10);
  if (!seconds) return;
  const WARN_BEFORE_MS = 5 * 60 * 1000;
  const TYPING_REFRESH_MS = 5 * 60 * 1000;
  const keepaliveUrl = body.dataset.sessionKeepaliveUrl;
  const loginUrl = body.dataset.loginUrl;
  let kind = body.dataset.sessionKind || "idle";
  let deadline = Date.now() + seconds * 1000;
  let lastContact = Date.now();
  let alertBox = null;
  let expired = false;

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function minutesLeft() {
    return Math.max(0, Math.ceil((deadline - Date.now()) / 60000));
  }

  function removeAlert() {
    if (alertBox) alertBox.remove();
    alertBox = null;
  }

  function showAlert(text, withButton, level) {
    if (alertBox && alertBox.dataset.level === level) {
      alertBox.querySelector("span").textContent = text;  // the countdown, without re-creating the button
      return;
    }
    removeAlert();
    alertBox = document.createElement("div");
    alertBox.id = "session-expiry-alert";
    alertBox.className = `alert alert-${level} shadow-sm d-flex flex-wrap align-items-center gap-2`;
    alertBox.setAttribute("role", "alert");
    alertBox.dataset.level = level;
    const message = document.createElement("span");
    message.className = "me-auto";
    message.textContent = text;
    alertBox.appendChild(message);
    if (withButton) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-sm btn-primary";
      button.id = "session-keepalive";
      button.textContent = "继续使用（保持登录）";
      button.addEventListener("click", () => keepalive());
      alertBox.appendChild(button);
    }
    if (expired) {
      const link = document.createElement("a");
      link.className = "btn btn-sm btn-primary";
      link.href = `${loginUrl}?next=${encodeURIComponent(window.location.pathname + window.location.search)}`;
      link.textContent = "重新登录";
      alertBox.appendChild(link);
    }
    const main = document.querySelector("main") || body;
    main.prepend(alertBox);
  }

  const FORM_NOTE = document.getElementById("entry-form")
    ? "本页已填写的内容会自动暂存在本机浏览器中，重新登录后可恢复。"
    : "";

  function warn() {
    if (kind === "absolute") {
      showAlert(`本次登录已接近 12 小时上限，将于 ${minutesLeft()} 分钟后自动退出，请及时保存。${FORM_NOTE}`, false, "warning");
    } else {
      showAlert(`您已较长时间未操作，登录将于 ${minutesLeft()} 分钟后过期。${FORM_NOTE}`, true, "warning");
    }
  }

  function expire() {
    expired = true;
    showAlert(`登录已过期，请重新登录。${FORM_NOTE}`, false, "danger");
  }

  async function keepalive() {
    if (expired || !keepaliveUrl) return;
    lastContact = Date.now();
    try {
      const response = await fetch(keepaliveUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), "X-Requested-With": "fetch", Accept: "application/json" },
      });
      if (response.status === 401) { expire(); return; }
      if (!response.ok) return;
      const data = await response.json();
      if (data.expires_in) {
        deadline = Date.now() + data.expires_in * 1000;
        kind = data.kind || kind;
        removeAlert();
      }
    } catch (err) {
      // Offline for a moment: the next tick or keystroke tries again.
    }
  }

  function tick() {
    if (expired) return;
    const left = deadline - Date.now();
    if (left <= 0) expire();
    else if (left <= WARN_BEFORE_MS) warn();
  }

  // Typing counts as activity: refresh the session at most every five minutes while typing.
  document.addEventListener("input", () => {
    if (!expired && kind === "idle" && Date.now() - lastContact > TYPING_REFRESH_MS) keepalive();
  });
  // Logging out on a shared computer also removes the drafts kept in this browser.
  document.querySelectorAll(`form[action$="/logout/"]`).forEach((form) => {
    form.addEventListener("submit", () => {
      try {
        Object.keys(window.localStorage)
          .filter((key) => key.startsWith("portal-entry:"))
          .forEach((key) => window.localStorage.removeItem(key));
      } catch (err) { /* storage disabled */ }
    });
  });
  window.portalSession = { keepalive, tick, expiresAt: () => deadline };
  setInterval(tick, 15000);
  tick();
})();
