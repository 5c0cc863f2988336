// hookflow's run inspector: times in the reader's zone, live lists and runs (by
// polling the page itself), replays and retries (POST to the admin API), copy as curl
// and as a test.
"use strict";

(function () {
  const announce = (text) => {
    const el = document.getElementById("announce");
    if (el) el.textContent = text;
  };

  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach((el) => {
      const d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      el.title = el.textContent;
      el.textContent = d.toLocaleString();
    });
  }

  // fetchPage reads the page at the current address again, as a document.
  async function fetchPage() {
    const resp = await fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!resp.ok) throw new Error(resp.status);
    return new DOMParser().parseFromString(await resp.text(), "text/html");
  }

  // Runs: the first page of the list swaps in new rows every two seconds.
  function liveRuns(table) {
    setInterval(async () => {
      if (document.hidden) return;
      let doc;
      try { doc = await fetchPage(); } catch (e) { return; }
      const fresh = doc.querySelector("#runs tbody");
      const old = table.querySelector("tbody");
      if (!fresh || !old || fresh.innerHTML === old.innerHTML) return;
      const known = new Set([...old.querySelectorAll("tr[data-run]")].map((r) => r.dataset.run));
      const added = [...fresh.querySelectorAll("tr[data-run]")].filter((r) => !known.has(r.dataset.run));
      added.forEach((r) => r.classList.add("new"));
      const node = document.importNode(fresh, true);
      localTimes(node);
      old.replaceWith(node);
      if (added.length) announce(added.length + (added.length === 1 ? " new run" : " new runs"));
    }, 2000);
  }

  // A run that is not over: the page swaps in its new state every second, keeping
  // open what the reader opened, until it is over.
  function liveRun() {
    const timer = setInterval(async () => {
      if (document.hidden) return;
      let doc;
      try { doc = await fetchPage(); } catch (e) { return; }
      const fresh = doc.getElementById("run");
      const old = document.getElementById("run");
      if (!fresh || !old) return;
      const open = [...old.querySelectorAll("details")].map((d) => d.open);
      const node = document.importNode(fresh, true);
      const said = old.querySelector("#action-result");
      if (said) node.querySelector("#action-result").textContent = said.textContent;
      node.querySelectorAll("details").forEach((d, i) => { if (i < open.length) d.open = open[i]; });
      localTimes(node);
      old.replaceWith(node);
      wire(node);
      if (!node.hasAttribute("data-live")) {
        clearInterval(timer);
        const status = node.querySelector("#run-status");
        if (status) announce("Run " + status.textContent);
      }
    }, 1000);
  }

  // Buttons with data-post act through the admin API: JSON, same origin.
  async function post(button) {
    const result = document.getElementById("action-result") || document.getElementById("announce");
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    button.disabled = true;
    try {
      const resp = await fetch(button.dataset.post, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: "{}",
      });
      let answer = {};
      try { answer = await resp.json(); } catch (e) { /* not JSON */ }
      if (!resp.ok) {
        result.textContent = "Refused: " + (answer.error || resp.status);
        button.disabled = false;
        return;
      }
      result.textContent = answer.status === "cancelled" ? "Cancelled." : answer.step ? "Resumed." :
        "Queued again" + (answer.version ? " on version " + answer.version : "") + ".";
      if (document.getElementById("run")) liveRun(); // follow the run on its page
      else setTimeout(() => location.reload(), 400);
    } catch (e) {
      result.textContent = "Could not reach hookflow: " + e.message;
      button.disabled = false;
    }
  }

  async function copy(button) {
    const source = document.querySelector(button.dataset.copy);
    if (!source) return;
    if (button.dataset.copyFrom) { // the text comes from the admin API, read on the click
      try {
        const resp = await fetch(button.dataset.copyFrom, { credentials: "same-origin", headers: { Accept: "text/plain" } });
        const text = await resp.text();
        if (!resp.ok) {
          let message = text;
          try { message = JSON.parse(text).error || text; } catch (e) { /* not JSON */ }
          announce("Cannot copy: " + message);
          return;
        }
        source.textContent = text;
        source.hidden = false;
      } catch (e) {
        announce("Could not reach hookflow: " + e.message);
        return;
      }
    }
    try {
      await navigator.clipboard.writeText(source.textContent);
      announce("Copied");
      button.textContent = "Copied";
    } catch (e) {
      const range = document.createRange();
      range.selectNodeContents(source);
      const sel = getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      announce("Selected: press Ctrl+C to copy");
    }
  }

  function wire(root) {
    root.querySelectorAll("button[data-post]").forEach((b) => b.addEventListener("click", () => post(b)));
    root.querySelectorAll("button[data-copy]").forEach((b) => b.addEventListener("click", () => copy(b)));
  }

  document.addEventListener("DOMContentLoaded", () => {
    localTimes(document);
    wire(document);
    const runs = document.querySelector('[data-live="runs"]');
    if (runs) liveRuns(runs);
    if (document.querySelector('[data-live="run"]')) liveRun();
  });
})();
