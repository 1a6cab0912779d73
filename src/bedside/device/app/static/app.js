// Bedside clinician app: the little the pages need from the browser. No framework, no
// third-party code. Nothing here scores NEWS2 (the device does, through /observe/score) and
// nothing about a patient is kept in the browser: not in storage, not in a URL.
(function () {
  "use strict";

  const body = document.body;
  const token = document.querySelector('meta[name="csrf-token"]');
  const csrf = token ? token.content : "";
  const patient = body.dataset.patient || null;
  const unlocked = body.dataset.unlocked === "yes";

  // --- content hidden while the window is in the background --------------------------------
  function veil(on) {
    document.documentElement.classList.toggle("veiled", on);
  }
  document.addEventListener("visibilitychange", function () {
    veil(document.visibilityState === "hidden");
  });
  window.addEventListener("blur", function () { veil(true); });
  window.addEventListener("focus", function () { veil(false); });
  // A page restored from the back-forward cache asks the device again (it may be locked now).
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { location.reload(); }
  });

  // --- the idle lock: the device locks itself; the page follows it to the unlock screen -----
  let lockTimer = null;
  function toUnlock() {
    location.assign("/unlock?next=" + encodeURIComponent(location.pathname));
  }
  function armLock(seconds) {
    if (!unlocked || seconds === null || seconds === undefined || seconds === "") { return; }
    clearTimeout(lockTimer);
    lockTimer = setTimeout(toUnlock, (Number(seconds) + 1) * 1000);
  }
  armLock(body.dataset.locksIn);

  async function post(url, data) {
    const answer = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRF-Token": csrf,
      },
      body: JSON.stringify(data),
    });
    const parsed = await answer.json().catch(function () { return {}; });
    if (answer.status === 401 && parsed.locked) { location.assign(parsed.unlock || "/unlock"); }
    return { status: answer.status, body: parsed };
  }

  // --- the status strip: online or offline, last sync, waiting items, mode ------------------
  function field(name) { return document.querySelector('#strip [data-field="' + name + '"]'); }
  function showStrip(s) {
    const net = field("online");
    if (net) {
      net.textContent = s.online ? "Online" : (s.online === false ? "Offline" : "Checking the network");
      net.className = "net net-" + (s.online ? "on" : (s.online === false ? "off" : "unknown"));
    }
    if (!s.unlocked) { return; }
    const last = field("last_sync");
    if (last) { last.textContent = "Last sync: " + (s.last_sync || "never"); }
    const waiting = field("waiting");
    if (waiting) { waiting.textContent = (s.waiting || 0) + " waiting to sync"; }
    const mode = field("mode");
    if (mode && s.mode_text) { mode.textContent = s.mode_text; }
  }
  async function poll() {
    try {
      const answer = await fetch("/status.json", {
        credentials: "same-origin", headers: { "Accept": "application/json" },
      });
      if (!answer.ok) { return; }
      const s = await answer.json();
      showStrip(s);
      if (unlocked && !s.unlocked) { toUnlock(); return; }
      armLock(s.locks_in);
    } catch (e) { /* the app itself stopped: nothing to show */ }
  }
  setInterval(poll, 10000);

  // --- two tabs on different patients --------------------------------------------------------
  const tab = Math.random().toString(36).slice(2);
  const others = new Map();
  function conflict() {
    if (!patient) { return false; }
    for (const other of others.values()) {
      if (other && other !== patient) { return true; }
    }
    return false;
  }
  function showConflict() {
    const warning = document.getElementById("other-patient");
    if (warning) { warning.hidden = !conflict(); }
  }
  if ("BroadcastChannel" in window) {
    const channel = new BroadcastChannel("bedside-app");
    channel.onmessage = function (event) {
      const m = event.data || {};
      if (m.tab === tab) { return; }
      if (m.kind === "hello") { channel.postMessage({ kind: "here", tab: tab, patient: patient }); }
      if (m.kind === "hello" || m.kind === "here") { others.set(m.tab, m.patient); }
      if (m.kind === "bye") { others.delete(m.tab); }
      showConflict();
    };
    channel.postMessage({ kind: "hello", tab: tab, patient: patient });
    window.addEventListener("pagehide", function () {
      channel.postMessage({ kind: "bye", tab: tab });
    });
  }

  // --- recording NEWS2: live scores from the device, the draft kept as it is typed ----------
  const form = document.getElementById("news2-form");
  if (form) {
    const base = form.getAttribute("action");
    const names = ["respiration_rate", "spo2", "spo2_scale", "air_or_oxygen", "systolic_bp",
      "pulse", "consciousness", "temperature"];
    const scored = ["respiration_rate", "spo2", "air_or_oxygen", "systolic_bp", "pulse",
      "consciousness", "temperature"];
    let scoreTimer = null;
    let draftTimer = null;
    let keeping = null;

    function values() {
      const out = {};
      for (const name of names) { out[name] = form.elements[name].value; }
      return out;
    }
    function text(id, value) {
      const node = document.getElementById(id);
      if (node) { node.textContent = value || ""; }
    }
    function show(result) {
      for (const name of scored) {
        const f = result.fields[name];
        text("o-" + name, f.score === null ? "—" : "Score " + f.score);
        text("m-" + name, f.message);
        const input = form.elements[name];
        if (f.message) { input.setAttribute("aria-invalid", "true"); }
        else { input.removeAttribute("aria-invalid"); }
      }
      text("news2-headline", result.headline);
      text("news2-band", result.band_text);
      text("news2-monitoring", result.monitoring);
      text("news2-action", result.action);
      const list = document.getElementById("news2-problems");
      list.replaceChildren();
      for (const problem of result.problems) {
        const item = document.createElement("li");
        item.textContent = problem;
        list.appendChild(item);
      }
      document.getElementById("news2-result").className = "result band-" + (result.band || "none");
    }
    async function score() {
      const answer = await post(base + "/score", { patient: patient, fields: values() });
      if (answer.status === 200) { show(answer.body); }
    }
    function keep() {
      keeping = post(base + "/draft", {
        patient: patient, fields: values(), draft: form.elements.draft.value || null,
      }).then(function (answer) {
        if (answer.status === 200) {
          form.elements.draft.value = answer.body.draft;
          armLock(answer.body.locks_in);
        }
      }).finally(function () { keeping = null; });
      return keeping;
    }
    function changed() {
      clearTimeout(scoreTimer);
      scoreTimer = setTimeout(score, 120);
      clearTimeout(draftTimer);
      draftTimer = setTimeout(keep, 400);
    }
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    form.addEventListener("submit", function (event) {
      const confirmed = event.submitter && event.submitter.name === "confirmed";
      if (conflict() && !confirmed) {
        event.preventDefault();
        const ask = document.getElementById("confirm-patient");
        ask.hidden = false;
        ask.querySelector("button").focus();
        return;
      }
      clearTimeout(draftTimer);
      if (keeping) {  // the draft being saved must be the one the save deletes
        event.preventDefault();
        keeping.then(function () { form.submit(); });
      }
    });
  }

  // --- writing a note: the draft kept every few seconds after a change, and when left -------
  const noteForm = document.getElementById("note-form");
  if (noteForm) {
    const noteBase = noteForm.getAttribute("action");
    const tick = (Number(noteForm.dataset.tick) || 2) * 1000;
    const kept = document.getElementById("n-kept");
    let noteTimer = null;
    let noteSaving = null;
    let dirty = false;
    let leaving = false;

    function noteBody() {
      return {
        patient: patient,
        draft: noteForm.elements.draft.value || null,
        key: noteForm.elements.key.value,
        title: noteForm.elements.title.value,
        text: noteForm.elements.text.value,
      };
    }
    function keepNote() {
      clearTimeout(noteTimer);
      noteTimer = null;
      if (noteSaving) { dirty = true; return noteSaving; }  // once this one is back
      dirty = false;
      noteSaving = post(noteBase + "/draft", noteBody()).then(function (answer) {
        if (answer.status === 200) {
          noteForm.elements.draft.value = answer.body.draft;
          if (kept) { kept.textContent = answer.body.message; }
          armLock(answer.body.locks_in);
        } else if (kept && answer.body.message) {
          kept.textContent = answer.body.message;
        }
      }).catch(function () {
        if (kept) { kept.textContent = "The draft could not be kept just now; it will be tried again."; }
        dirty = true;
      }).finally(function () {
        noteSaving = null;
        if (dirty && !leaving) { noteTimer = setTimeout(keepNote, tick); }
      });
      return noteSaving;
    }
    function noteChanged() {
      dirty = true;
      if (noteTimer === null && !noteSaving) { noteTimer = setTimeout(keepNote, tick); }
    }
    function keepNow() {
      // the page is going (hidden, closed, navigated): one last save that outlives the page
      if (!dirty) { return; }
      dirty = false;
      clearTimeout(noteTimer);
      noteTimer = null;
      fetch(noteBase + "/draft", {
        method: "POST", credentials: "same-origin", keepalive: true,
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(noteBody()),
      }).catch(function () { /* the app itself stopped */ });
    }
    noteForm.addEventListener("input", noteChanged);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") { keepNow(); }
    });
    window.addEventListener("pagehide", keepNow);
    noteForm.addEventListener("submit", function (event) {
      leaving = true;
      dirty = false;
      clearTimeout(noteTimer);
      if (noteSaving) {  // the post names the draft that save made
        event.preventDefault();
        const submitter = event.submitter;
        noteSaving.then(function () { noteForm.requestSubmit(submitter || undefined); });
      }
    });
  }

  // --- sync now, with its progress -----------------------------------------------------------
  const syncForm = document.getElementById("sync-form");
  if (syncForm) {
    const bar = document.getElementById("sync-bar");
    const message = document.getElementById("sync-message");
    async function follow() {
      const answer = await fetch("/sync/progress", {
        credentials: "same-origin", headers: { "Accept": "application/json" },
      });
      const p = await answer.json();
      bar.hidden = p.state !== "running";
      bar.max = p.total || 1;
      bar.value = p.total ? Math.min(p.done, p.total) : 0;
      message.textContent = p.message;
      message.dataset.state = p.state;
      if (p.state === "running") { setTimeout(follow, 400); }
      else if (p.state === "done") { setTimeout(function () { location.reload(); }, 600); }
    }
    syncForm.addEventListener("submit", async function (event) {
      event.preventDefault();
      const answer = await post("/sync", {});
      if (answer.body.started) {
        message.textContent = "Sync started.";
        message.dataset.state = "running";
        bar.hidden = false;
        follow();
      } else {
        message.textContent = answer.body.message || "The sync could not start.";
        message.dataset.state = "failed";
      }
    });
    if (message.dataset.state === "running") { follow(); }
  }
})();
