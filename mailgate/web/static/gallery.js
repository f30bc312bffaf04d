// mailgate template gallery: live preview, row adding, copy, drafts. No dependencies, no inline script (CSP).
"use strict";
(function () {
  function debounce(fn, ms) {
    var t = null;
    return function () { clearTimeout(t); t = setTimeout(fn, ms); };
  }

  // --- index: filter the cards as you type -------------------------------------------------
  var filter = document.querySelector("input[data-filter]");
  if (filter) {
    var list = document.querySelector(filter.getAttribute("data-filter"));
    var none = document.getElementById("none");
    filter.addEventListener("input", function () {
      var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      list.querySelectorAll("li[data-search]").forEach(function (li) {
        var text = li.getAttribute("data-search");
        var ok = words.every(function (w) { return text.indexOf(w) >= 0; });
        li.hidden = !ok;
        if (ok) shown++;
      });
      if (none) none.hidden = shown > 0;
    });
  }

  var form = document.getElementById("draft");
  if (!form) return;
  var preview = document.getElementById("preview");
  var mailto = document.getElementById("mailto");
  var copy = document.getElementById("copy");
  var copied = document.getElementById("copied");
  var plain = document.getElementById("plain");
  var seq = 0;
  var uid = 1000;

  function clearFlags() {
    form.querySelectorAll(".flags").forEach(function (el) { el.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
  }

  function inputFor(key) {
    var parts = key.split(".");
    if (parts[0] === "a") {
      var all = form.querySelectorAll('[name="' + parts.slice(0, 3).join(".") + '"]');
      return all[parseInt(parts[3], 10)] || null;
    }
    return form.querySelector('[name="' + key + '"]');
  }

  function showFlags(flags) {
    clearFlags();
    Object.keys(flags || {}).forEach(function (key) {
      var input = inputFor(key);
      if (!input) return;
      input.setAttribute("aria-invalid", "true");
      var box = document.getElementById("flag-" + key.replace(/\./g, "-"));
      if (!box) {
        box = document.createElement("div");
        box.className = "flags";
        box.id = "flag-" + key.replace(/\./g, "-");
        input.parentNode.appendChild(box);
      }
      flags[key].forEach(function (msg) {
        var p = document.createElement("p");
        p.className = "flag";
        p.textContent = msg;
        box.appendChild(p);
      });
    });
  }

  function showErrors(errors) {
    form.querySelectorAll("p.error").forEach(function (el) { el.remove(); });
  }

  // --- drafts: kept in this browser only (localStorage, one per template), restored on a blank form
  var draftKey = "mailgate.draft." + form.getAttribute("data-template");
  var note = document.getElementById("draft-note");
  var cleared = false;
  var dirty = false; // only what the user typed here is kept: an example or a posted form is not a draft

  function saveDraft() {
    if (cleared || !dirty) return;
    try {
      var fields = [];
      new FormData(form).forEach(function (value, name) { if (typeof value === "string") fields.push([name, value]); });
      if (fields.some(function (f) { return f[1].trim(); })) {
        localStorage.setItem(draftKey, JSON.stringify({ at: Date.now(), fields: fields }));
      } else {
        localStorage.removeItem(draftKey);
      }
    } catch (e) { /* storage off or full: a draft is a convenience, never a failure */ }
  }

  function named(name) {
    return form.querySelectorAll('[name="' + CSS.escape(name) + '"]');
  }

  function restoreDraft() {
    var saved = null;
    try { saved = JSON.parse(localStorage.getItem(draftKey) || "null"); } catch (e) { return false; }
    if (!saved || !Array.isArray(saved.fields) || !saved.fields.length) return false;
    var byName = {};
    saved.fields.forEach(function (f) {
      if (Array.isArray(f) && typeof f[0] === "string") (byName[f[0]] = byName[f[0]] || []).push(String(f[1]));
    });
    Object.keys(byName).forEach(function (name) {
      var values = byName[name];
      var inputs = named(name);
      if (!inputs.length) return; // the template changed since: that field is gone
      var rows = inputs[0].closest(".rows, .actions");
      while (rows && named(name).length < values.length) addRow(rows);
      inputs = named(name);
      values.forEach(function (value, i) { if (inputs[i]) inputs[i].value = value; });
    });
    document.getElementById("draft-at").textContent = new Date(saved.at).toLocaleString("zh-CN");
    note.hidden = false;
    return true;
  }

  window.addEventListener("pagehide", saveDraft); // typed less than a debounce before leaving
  document.getElementById("draft-clear").addEventListener("click", function () {
    cleared = true;
    try { localStorage.removeItem(draftKey); } catch (e) { /* nothing kept */ }
    window.location.replace(window.location.pathname);
  });

  function refresh() {
    saveDraft();
    var mine = ++seq;
    var body = new URLSearchParams(new FormData(form));
    preview.setAttribute("aria-busy", "true");
    fetch(form.getAttribute("data-preview"), {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: body,
      credentials: "same-origin",
    }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (data) {
      if (mine !== seq) return; // a newer request is on its way
      preview.innerHTML = data.html; // rendered and escaped by the server's autoescaping templates
      preview.setAttribute("aria-busy", "false");
      showErrors(data.errors);
      showFlags(data.flags);
      if (data.mailto) {
        mailto.href = data.mailto;
        mailto.hidden = false;
        copy.hidden = false;
        plain.value = data.subject + "\n\n" + data.body;
      } else {
        mailto.hidden = true;
        copy.hidden = true;
      }
      wireSuggestions();
    }).catch(function (err) {
      if (mine !== seq) return;
      preview.setAttribute("aria-busy", "false");
      var p = document.createElement("p");
      p.className = "verdict verdict-incomplete";
      p.id = "verdict";
      p.textContent = "预览暂时不可用（" + err.message + "），请稍后再试。";
      preview.replaceChildren(p);
    });
  }
  var later = debounce(refresh, 350);

  function edited() { dirty = true; later(); }
  form.addEventListener("input", edited);
  form.addEventListener("change", edited);
  form.addEventListener("submit", function (ev) {
    if (ev.submitter && ev.submitter.id === "download") return; // a real POST: the browser downloads
    ev.preventDefault();
    refresh();
  });

  function addRow(container) {
    var rows = container.querySelectorAll(".row");
    var last = rows[rows.length - 1];
    var row = last.cloneNode(true);
    row.querySelectorAll("input").forEach(function (input) {
      var label = row.querySelector('label[for="' + input.id + '"]');
      var id = input.id.replace(/-\d+$/, "") + "-" + (uid++);
      if (label) label.htmlFor = id;
      input.id = id;
      input.value = "";
      input.removeAttribute("aria-invalid");
    });
    row.querySelectorAll(".flags").forEach(function (el) { el.remove(); });
    if (row.getAttribute("aria-label")) row.setAttribute("aria-label", "第 " + (rows.length + 1) + " 项");
    last.parentNode.insertBefore(row, last.nextSibling);
    return row.querySelector("input");
  }
  form.querySelectorAll("button.add-row").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var input = addRow(document.getElementById(btn.getAttribute("data-rows")));
      if (input) input.focus();
    });
  });

  function wireSuggestions() {
    preview.querySelectorAll("button.add-cc").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var container = document.getElementById("cc-rows");
        var empty = Array.prototype.find.call(container.querySelectorAll('input[name="cc"]'),
          function (i) { return !i.value.trim(); });
        var input = empty || addRow(container);
        input.value = btn.getAttribute("data-address");
        dirty = true;
        refresh();
      });
    });
  }
  wireSuggestions();

  copy.addEventListener("click", function () {
    var text = plain.value;
    var done = function () { copied.textContent = "已复制"; setTimeout(function () { copied.textContent = ""; }, 2000); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { copied.textContent = "复制失败，请手动选择文本"; });
    } else {
      plain.removeAttribute("aria-hidden");
      plain.select();
      try { document.execCommand("copy"); done(); } catch (e) { copied.textContent = "复制失败"; }
      plain.setAttribute("aria-hidden", "true");
    }
  });
  if (plain.value) copy.hidden = false;
  if (form.hasAttribute("data-restore") && restoreDraft()) refresh();
})();
