// hotich review station: keyboard first. Every key below is also listed on screen.
//   Tab / Shift+Tab  move between fields (native)
//   Enter            accept the field (saving a correction) and go to the next field needing a look
//   Alt+G            take the first suggestion     Alt+K  illegible     Alt+T  blank
//   Ctrl+Enter       confirm the record and open the next one
//   Alt+H            postpone to the exceptions list     Alt+A  whole page     Alt+L  candidates
//   Alt+S            history of the field in hand     Alt+Z  crops larger (or click a crop)
// Keys are matched on event.code, so a Vietnamese input method or keyboard layout does not
// change them. Saving goes to the server at once; the server's answer (a new version, or a
// conflict with someone else's value) replaces the field's row.
(() => {
  "use strict";
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
  const csrf = () => ($('meta[name="csrf-token"]') || {}).content || "";

  for (const el of $$(".bar-mini span[data-share]")) {
    el.style.width = `${Math.round(parseFloat(el.dataset.share) * 100)}%`;
  }

  const form = $("#record-form");
  if (!form) {
    const start = $("#start");
    if (start) {
      start.focus();
    }
    return;
  }
  // The address bar names the record on screen, whatever brought it here (the redirect
  // after Ctrl+Enter, a refused confirmation answered at /confirm, a back-forward restore):
  // a refresh or a copied link must reopen this record, never the one before it.
  const address = form.dataset.address;
  if (address && window.location.pathname + window.location.search !== address) {
    window.history.replaceState(null, "", address + window.location.hash);
  }
  const readonly = form.dataset.readonly === "1";
  const rows = () => $$(".frow", form);
  const rowOf = (el) => (el && el.closest ? el.closest(".frow") : null);
  const inputOf = (row) => $(".fval", row);
  let lastRow = null;
  let pending = 0;
  const idle = [];

  function settle() {
    if (pending === 0) return Promise.resolve();
    return new Promise((resolve) => idle.push(resolve));
  }

  function focusRow(row) {
    if (!row) return;
    const input = inputOf(row);
    input.focus();
    input.select();
  }

  function nextAfter(row) {
    const all = rows();
    const i = all.indexOf(row);
    return all.slice(i + 1).find((r) => r.classList.contains("attn")) || all[i + 1] || null;
  }

  function moveOn(row) {
    const next = nextAfter(row);
    if (next) focusRow(next);
    else ($("#confirm") || inputOf(row)).focus();
  }

  async function save(row, action, extra = {}) {
    const input = inputOf(row);
    const body = new URLSearchParams({
      action,
      value: extra.value !== undefined ? extra.value : input.value,
      version: $('input[type="hidden"][name^="version."]', row).value,
      source: extra.source || "review",
    });
    pending += 1;
    try {
      const res = await fetch(row.dataset.url, {
        method: "POST", body, credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf(), "HX-Request": "true" },
      });
      if (res.status === 401) { window.location.href = "/login"; return null; }
      const tpl = document.createElement("template");
      tpl.innerHTML = (await res.text()).trim();
      const fresh = tpl.content.firstElementChild;
      if (!fresh || !fresh.classList.contains("frow")) {
        banner(`Không lưu được (mã ${res.status}). Tải lại trang.`);
        return null;
      }
      const hadFocus = row.contains(document.activeElement);
      row.replaceWith(fresh);
      if (hadFocus) focusRow(fresh);
      if (lastRow === row) lastRow = fresh;
      return { row: fresh, ok: res.ok };
    } catch (err) {
      banner("Mất kết nối tới máy chủ; giá trị chưa được lưu.");
      return null;
    } finally {
      pending -= 1;
      if (pending === 0) idle.splice(0).forEach((resolve) => resolve());
    }
  }

  function banner(text) {
    let el = $("#banner");
    if (!el) {
      el = document.createElement("p");
      el.id = "banner";
      el.className = "banner error";
      el.setAttribute("role", "alert");
      form.before(el);
    }
    el.textContent = text;
  }

  async function act(row, action, extra) {
    if (readonly || !row) return;
    const input = inputOf(row);
    // A field already read and left as it is needs no round trip.
    if (action === "accept" && !row.classList.contains("attn") && input.value === input.dataset.saved) {
      moveOn(row);
      return;
    }
    // Move on at once, so a fast typist never waits for the server; a conflict or an
    // error brings the focus back to the field with the server's message.
    moveOn(row);
    const result = await save(row, action, extra);
    if (result && !result.ok) focusRow(result.row);
  }

  function takeSuggestion(row, button) {
    const b = button || $(".sugg", row);
    if (!b) { banner("Trường này không có gợi ý."); return; }
    act(row, "suggestion", { value: b.dataset.value, source: b.dataset.source });
  }

  async function confirmRecord() {
    if (readonly) return;
    await settle();
    const links = $("#links");
    if (links && links.dataset.needs === "1" && !$('input[name="link"]:checked')) {
      banner("Chọn công dân ứng viên, hoặc 'Không phải ai trong số này', trước khi xác nhận (Alt+L, rồi ↑ ↓).");
      focusLinks();
      return;
    }
    form.requestSubmit();
  }

  function focusLinks() {
    const radio = $('input[name="link"]:checked:not([disabled])') || $('input[name="link"]:not([disabled])');
    if (radio) radio.focus();
  }

  function showHistory(row) {
    row = row || lastRow;
    if (!row || !window.htmx) return;
    window.htmx.ajax("GET", `${row.dataset.url}/history`, { target: "#history", swap: "outerHTML" });
  }

  // ---- postpone dialog ----
  const dialog = $("#postpone-dialog");
  function openPostpone() {
    if (readonly || !dialog) return;
    dialog.showModal();
    $("#postpone-note").focus();
  }
  // Each control is looked up on its own: a read-only (approved) record has no postpone
  // button, and one missing element must not stop the rest of the script.
  const on = (sel, type, handler, root = document) => {
    const el = $(sel, root);
    if (el) el.addEventListener(type, handler);
  };
  if (dialog) {
    on("#postpone-open", "click", openPostpone);
    on("#postpone-cancel", "click", () => dialog.close(), dialog);
  }

  // ---- whole-page viewer ----
  const viewer = $("#page-viewer");
  let zoom = 1;
  function placeMark(mark, boxText) {
    const canvas = $("#canvas");
    const w = parseFloat(canvas.dataset.w) || $("#page-img").naturalWidth;
    const h = parseFloat(canvas.dataset.h) || $("#page-img").naturalHeight;
    if (!boxText || !w || !h) { mark.style.display = "none"; return; }
    const [x0, y0, x1, y1] = boxText.split(",").map(Number);
    Object.assign(mark.style, {
      display: "block", left: `${(x0 / w) * 100}%`, top: `${(y0 / h) * 100}%`,
      width: `${((x1 - x0) / w) * 100}%`, height: `${((y1 - y0) / h) * 100}%`,
    });
  }
  function layout() {
    const canvas = $("#canvas");
    const base = Math.min($("#viewport").clientWidth - 40, 1000);
    canvas.style.width = `${Math.round(base * zoom)}px`;
    $("#zoom-level").textContent = `${Math.round(zoom * 100)} %`;
    placeMark($("#record-mark"), canvas.dataset.box);
    placeMark($("#field-mark"), lastRow ? lastRow.dataset.box : null);
  }
  function scrollToRecord() {
    const mark = $("#field-mark").style.display === "block" ? $("#field-mark") : $("#record-mark");
    const viewport = $("#viewport");
    viewport.scrollTop = Math.max(0, mark.offsetTop - 80);
    viewport.scrollLeft = Math.max(0, mark.offsetLeft - 40);
  }
  function openViewer() {
    if (!viewer) return;
    const img = $("#page-img");
    viewer.hidden = false;
    const ready = () => { layout(); scrollToRecord(); };
    if (!img.src) { img.addEventListener("load", ready, { once: true }); img.src = img.dataset.src; }
    else ready();
    $("#viewport").focus();
  }
  function closeViewer() {
    viewer.hidden = true;
    focusRow(lastRow || rows()[0]);
  }
  function setZoom(step) {
    zoom = Math.min(4, Math.max(0.5, zoom * (step > 0 ? 1.25 : 0.8)));
    layout();
  }
  if (viewer) {
    on("#show-page", "click", openViewer);
    for (const b of $$("[data-zoom]", viewer)) b.addEventListener("click", () => setZoom(Number(b.dataset.zoom)));
    const viewport = $("#viewport", viewer);
    if (viewport) viewport.addEventListener("wheel", (e) => { if (e.ctrlKey) { e.preventDefault(); setZoom(-e.deltaY); } }, { passive: false });
  }

  // ---- keys ----
  document.addEventListener("keydown", (e) => {
    if (viewer && !viewer.hidden) {
      if (e.key === "Escape" || (e.altKey && e.code === "KeyA")) { e.preventDefault(); closeViewer(); }
      else if (e.key === "+" || e.key === "=") { e.preventDefault(); setZoom(1); }
      else if (e.key === "-") { e.preventDefault(); setZoom(-1); }
      return;
    }
    if (dialog && dialog.open) return;  // the dialog's own form handles Enter and Esc
    const row = rowOf(e.target);
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); confirmRecord(); return; }
    if (e.altKey && !e.ctrlKey && !e.metaKey) {
      const handlers = {
        KeyG: () => takeSuggestion(row || lastRow),
        KeyK: () => act(row || lastRow, "illegible"),
        KeyT: () => act(row || lastRow, "blank"),
        KeyH: openPostpone,
        KeyA: openViewer,
        KeyL: focusLinks,
        KeyS: () => showHistory(row),
        KeyZ: () => document.body.classList.toggle("crops-zoomed"),
      };
      if (handlers[e.code]) { e.preventDefault(); handlers[e.code](); }
      return;
    }
    if (e.key === "Enter" && !e.shiftKey) {
      if (row && e.target.classList.contains("fval")) { e.preventDefault(); act(row, "accept"); }
      else if (e.target.classList.contains("link-choice")) { e.preventDefault(); e.target.checked = true; confirmRecord(); }
    }
  });

  document.addEventListener("click", (e) => {
    const b = e.target.closest(".sugg");
    if (b) takeSuggestion(rowOf(b), b);
    if (e.target.classList.contains("crop")) document.body.classList.toggle("crops-zoomed");
  });

  form.addEventListener("focusin", (e) => {
    const row = rowOf(e.target);
    if (!row) return;
    if (lastRow && lastRow !== row) lastRow.classList.remove("active");
    row.classList.add("active");
    lastRow = row;
  });

  form.addEventListener("submit", (e) => {
    if (pending > 0) { e.preventDefault(); settle().then(() => form.submit()); }
  });

  const first = $(".frow.conflict", form) || $(".frow.error", form) || rows().find((r) => r.classList.contains("attn"));
  const links = $("#links");
  if (readonly) return;
  if (first) focusRow(first);
  else if (links && links.dataset.needs === "1") focusLinks();  // only the link waits
  else focusRow(rows()[0]);
})();
