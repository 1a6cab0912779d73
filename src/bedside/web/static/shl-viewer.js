// The SMART Health Link viewer: reads the link from the URL fragment (never sent to a server),
// asks the manifest for the files (naming the recipient, with the passcode when the link has
// flag P), and decrypts each JWE (alg dir, enc A256GCM) with WebCrypto using the link's key.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const problem = (text) => { $("problem").textContent = text; $("problem").hidden = false; };

  function b64urlBytes(text) {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function readLink() {
    const hash = decodeURIComponent(window.location.hash.slice(1));
    const at = hash.indexOf("shlink:/");
    if (at < 0) return null;
    try {
      return JSON.parse(new TextDecoder().decode(b64urlBytes(hash.slice(at + 8))));
    } catch (e) {
      return null;
    }
  }

  async function decrypt(jwe, keyText) {
    const parts = jwe.split(".");
    if (parts.length !== 5) throw new Error("not a compact JWE");
    const header = JSON.parse(new TextDecoder().decode(b64urlBytes(parts[0])));
    if (header.alg !== "dir" || header.enc !== "A256GCM") throw new Error("unexpected JWE");
    const key = await crypto.subtle.importKey("raw", b64urlBytes(keyText), "AES-GCM", false,
                                              ["decrypt"]);
    const data = new Uint8Array([...b64urlBytes(parts[3]), ...b64urlBytes(parts[4])]);
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: b64urlBytes(parts[2]),
        additionalData: new TextEncoder().encode(parts[0]), tagLength: 128 }, key, data);
    return new TextDecoder().decode(plain);
  }

  function words(concept) {
    if (!concept) return "";
    if (concept.text) return concept.text;
    const coding = (concept.coding || []).find((c) => c.display);
    return coding ? coding.display : "";
  }

  function valueOf(r) {
    const q = r.valueQuantity;
    if (q && q.value !== undefined) return `${q.value} ${q.unit || ""}`.trim();
    if (r.valueString) return r.valueString;
    if (r.valueCodeableConcept) return words(r.valueCodeableConcept);
    return "";
  }

  const KINDS = {
    Patient: "About the person", Observation: "Results and measurements",
    DiagnosticReport: "Reports", MedicationRequest: "Medicines",
    MedicationStatement: "Medicines", Condition: "Conditions",
    AllergyIntolerance: "Allergies", Immunization: "Vaccinations",
    DocumentReference: "Documents",
  };

  function dayWords(text) {
    const day = new Date(`${text.slice(0, 10)}T12:00:00Z`);
    if (Number.isNaN(day.getTime())) return text;
    return day.toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric",
                                             timeZone: "UTC" });
  }

  function line(r) {
    if (r.resourceType === "Patient") {
      const n = (r.name || [])[0] || {};
      return [n.text || `${(n.given || []).join(" ")} ${n.family || ""}`.trim(),
              r.birthDate ? `born ${dayWords(r.birthDate)}` : ""].filter(Boolean).join(", ");
    }
    const what = words(r.code) || words(r.medicationCodeableConcept) || words(r.vaccineCode) ||
                 words(r.type) || r.description || "Entry";
    const when = r.effectiveDateTime || r.authoredOn || r.onsetDateTime || r.occurrenceDateTime ||
                 r.recordedDate || r.date || "";
    return [what, valueOf(r), when ? `(${dayWords(when)})` : ""].filter(Boolean).join(" ");
  }

  function show(bundle) {
    const groups = new Map();
    for (const entry of bundle.entry || []) {
      const r = entry.resource || {};
      const kind = KINDS[r.resourceType] || "Other";
      if (!groups.has(kind)) groups.set(kind, []);
      groups.get(kind).push(line(r));
    }
    const body = $("record-body");
    body.textContent = "";
    for (const [kind, lines] of groups) {
      const h = document.createElement("h3");
      h.textContent = kind;
      const ul = document.createElement("ul");
      ul.className = "items";
      for (const text of lines) {
        const li = document.createElement("li");
        li.textContent = text;
        ul.appendChild(li);
      }
      body.append(h, ul);
    }
    $("record").hidden = false;
  }

  const link = readLink();
  if (!link || typeof link.url !== "string" || typeof link.key !== "string") {
    problem("This page needs a SMART Health Link after the # in its address.");
    return;
  }
  if (link.label) { $("label").textContent = `Shared: ${link.label}`; $("label").hidden = false; }
  if (link.exp && Date.now() / 1000 >= link.exp) {
    problem("This link has expired. Ask the person who shared it for a new one.");
    return;
  }
  const needsPasscode = (link.flag || "").includes("P");
  $("passcode-field").hidden = !needsPasscode;
  $("passcode").required = needsPasscode;
  $("open").hidden = false;

  $("open").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("problem").hidden = true;
    const request = { recipient: $("recipient").value.trim() };
    if (needsPasscode) request.passcode = $("passcode").value;
    let answer;
    try {
      answer = await fetch(link.url, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(request),
      });
    } catch (e) {
      problem("The server holding this record could not be reached. Try again later.");
      return;
    }
    const body = await answer.json().catch(() => ({}));
    if (answer.status === 401) {
      const left = body.remainingAttempts;
      problem(left > 0 ? `That passcode is not right. ${left} ${left === 1 ? "try" : "tries"} left.`
                       : "That passcode is not right, and no tries are left: the link is now closed.");
      $("passcode").value = "";
      $("passcode").focus();
      return;
    }
    if (answer.status === 404) {
      problem("This link has ended: it was withdrawn, it expired, or too many wrong passcodes were tried.");
      return;
    }
    if (!answer.ok) {
      problem(body.error || "The record could not be opened.");
      return;
    }
    try {
      for (const file of body.files || []) {
        let jwe = file.embedded;
        if (!jwe && file.location) {
          const fetched = await fetch(file.location);
          if (!fetched.ok) throw new Error("file not available");
          jwe = await fetched.text();
        }
        if (jwe) show(JSON.parse(await decrypt(jwe, link.key)));
      }
      $("open").hidden = true;
    } catch (e) {
      problem("The record could not be decrypted with this link.");
    }
  });
})();
