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

  // signInPath is where a reader whose session ended signs in again, to come back to
  // this page.
  const signInPath = () => "/login?next=" + encodeURIComponent(location.pathname + location.search);

  // NotUpdating is why a live page could not be read again: what the reader is told,
  // and where to sign in again when the session ended.
  class NotUpdating extends Error {
    constructor(message, signIn) {
      super(message);
      this.signIn = signIn || "";
    }
  }

  // fetchPage reads the page at the current address again, as a document, and says
  // how big its HTML is. It throws NotUpdating when it cannot: hookflow did not answer;
  // it answered with an error (its page's message, or the JSON error of a session that
  // could not be checked, says why: Redis unreachable, mostly); or it sent the reader
  // to sign in, as the session ended (a 303 to /login, which fetch follows: the
  // sign-in form is no page of runs).
  async function fetchPage() {
    let resp, text;
    try {
      resp = await fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
      text = await resp.text();
    } catch (e) {
      throw new NotUpdating("hookflow is unreachable.");
    }
    if (resp.redirected && new URL(resp.url).pathname === "/login") {
      throw new NotUpdating("you are signed out.", resp.url);
    }
    const doc = new DOMParser().parseFromString(text, "text/html");
    if (!resp.ok) {
      let said = "hookflow answered " + resp.status + ".";
      const alert = doc.querySelector('main [role="alert"]');
      if (alert) said = alert.textContent;
      try { said = JSON.parse(text).error || said; } catch (e) { /* a page, not JSON */ }
      throw new NotUpdating(said.replace(/;? try again\.?$/, "").replace(/\.?$/, "."));
    }
    return { doc: doc, size: text.length };
  }

  // notUpdating says, above the live part of the page (before), that it stopped
  // updating and why (a NotUpdating), and what it shows is what it read last; with
  // none, that it updates again: the notice goes. The runs list's note that it updates
  // as runs arrive is hidden meanwhile.
  function notUpdating(before, why) {
    let notice = document.getElementById("not-updating");
    const note = document.getElementById("live-note");
    if (note) note.hidden = !!why;
    if (!why) {
      if (notice) notice.remove();
      return;
    }
    const text = "Not updating: " + why.message + (why.signIn ? " " : " The page shows what it read last, and reads it again until hookflow answers.");
    if (notice && notice.dataset.text === text) return; // said already: not announced again
    if (!notice) {
      notice = document.createElement("p");
      notice.id = "not-updating";
      notice.className = "not-updating";
      notice.setAttribute("role", "alert");
      before.parentNode.insertBefore(notice, before);
    }
    notice.dataset.text = text;
    notice.textContent = text;
    if (why.signIn) {
      const link = document.createElement("a");
      link.href = why.signIn;
      link.textContent = "Sign in again";
      notice.append(link, ".");
    }
  }

  // pollDelay is how long a live page waits before it reads itself again: every
  // interval, or longer for a page that is big or slow to read and compare (a run
  // showing a thousand items), a second more per 100 KB and at least twenty times
  // what the last poll took, so that polling keeps the reader's machine busy a few
  // percent of the time at most; 15 seconds at the longest.
  function pollDelay(interval, size, took) {
    return Math.round(Math.min(15000, Math.max(interval, interval * size / 100000, 20 * took)));
  }

  // The live parts of a page are swapped only when the server's HTML of them changed:
  // each is compared with the HTML last fetched (or served), never with the page,
  // whose times localTimes rewrote and whose sections the reader opened. What did not
  // change keeps its elements, and with them the reader's focus and selection.

  // swap replaces old with node and, when the focus was inside old, gives it to the
  // element of node that stands for the one that had it: the same id, link address,
  // button's action, copy button's source or next link, or the summary of the same
  // section. Without it a
  // live update drops the focus to the page's body, and a keyboard user walking the
  // list starts again from its top.
  function swap(old, node) {
    const had = document.activeElement;
    const twin = had && had !== document.body && old.contains(had) ? twinIn(node, had) : null;
    old.replaceWith(node);
    if (twin) twin.focus({ preventScroll: true });
  }

  function twinIn(node, el) {
    const section = el.localName === "summary" && el.parentElement.dataset.key;
    if (section) return node.querySelector('details[data-key="' + CSS.escape(section) + '"] > summary');
    for (const name of ["id", "href", "data-post", "data-copy", "rel"]) {
      const value = el.getAttribute(name);
      if (value === null) continue;
      const sel = el.localName + "[" + name + '="' + CSS.escape(value) + '"]';
      const twin = node.matches(sel) ? node : node.querySelector(sel);
      if (twin) return twin;
    }
    return null;
  }

  // Runs: the first page of the list swaps in new rows every two seconds, and with
  // them the link to the older runs: it goes on from the last row the page shows, so
  // the runs a new one pushed off the page are on the next, never on none.
  //
  // The rows are updated where they are (see updateRows): the list is not replaced
  // whole, so that a reader scrolled down keeps the run read where it is, as the
  // browser keeps the place of what stays (scroll anchoring) when rows arrive above.
  //
  // A new row is highlighted (class "new") as it arrives, and is new no more once its
  // highlight faded, or by the next update, where it faded not (its animation did not
  // run): a row kept across updates keeps its element, which would keep the class, and
  // show it again whenever its animation restarts.
  function liveRuns(table) {
    let served = table.querySelector("tbody").innerHTML; // taken before localTimes
    let servedRows = rowsOf(table.querySelector("tbody"));
    const olderLink = document.getElementById("older-runs");
    let servedOlder = olderLink ? olderLink.outerHTML : "";
    const before = table.closest(".scroll") || table;
    const faded = (e) => { if (e.target.localName === "tr") e.target.classList.remove("new"); };
    table.addEventListener("animationend", faded);
    table.addEventListener("animationcancel", faded);
    const poll = async () => {
      const began = performance.now();
      let page;
      try { page = await fetchPage(); } catch (e) { notUpdating(before, e); return 2000; }
      const doc = page.doc;
      const fresh = doc.querySelector("#runs tbody");
      const old = table.querySelector("tbody");
      if (!fresh || !old) { notUpdating(before, new NotUpdating("hookflow answered with another page.")); return 2000; }
      notUpdating(before, null);
      const freshOlder = doc.getElementById("older-runs");
      const older = document.getElementById("older-runs");
      if (freshOlder && older && freshOlder.outerHTML !== servedOlder) {
        servedOlder = freshOlder.outerHTML;
        swap(older, document.importNode(freshOlder, true));
      }
      const delay = pollDelay(2000, page.size, performance.now() - began);
      if (fresh.innerHTML === served) return delay;
      served = fresh.innerHTML;
      const freshRows = rowsOf(fresh);
      old.querySelectorAll("tr.new").forEach((r) => r.classList.remove("new"));
      const known = new Set([...old.querySelectorAll("tr[data-run]")].map((r) => r.dataset.run));
      const added = [...fresh.querySelectorAll("tr[data-run]")].filter((r) => !known.has(r.dataset.run));
      added.forEach((r) => r.classList.add("new"));
      if (!servedRows || !freshRows) { // a list of no runs, or one becoming such: replaced whole
        const node = document.importNode(fresh, true);
        localTimes(node);
        swap(old, node);
      } else {
        updateRows(old, fresh, servedRows, freshRows);
      }
      servedRows = freshRows;
      if (added.length) announce(added.length + (added.length === 1 ? " new run" : " new runs"));
      return delay;
    };
    follow(poll, 2000);
  }

  // rowsOf is the HTML of each row of a list of runs, by run id; null when the list
  // has a row of no run (that it has none).
  function rowsOf(tbody) {
    const rows = new Map();
    for (const row of tbody.children) {
      if (!row.dataset.run) return null;
      rows.set(row.dataset.run, row.outerHTML);
    }
    return rows;
  }

  // updateRows makes the rows of old those of fresh, in its order: a row whose HTML
  // (freshRows) is as served before (servedRows) stays as it is, one that changed is
  // swapped, a new one is inserted, and one no longer on the page goes.
  function updateRows(old, fresh, servedRows, freshRows) {
    const rows = new Map([...old.children].map((r) => [r.dataset.run, r]));
    let at = null; // the row placed last
    for (const freshRow of [...fresh.children]) {
      const id = freshRow.dataset.run;
      let row = rows.get(id);
      rows.delete(id);
      if (!row || servedRows.get(id) !== freshRows.get(id)) {
        const node = document.importNode(freshRow, true);
        localTimes(node);
        if (row) swap(row, node);
        row = node;
      }
      const there = at ? at.nextElementSibling : old.firstElementChild;
      if (row !== there) old.insertBefore(row, there);
      at = row;
    }
    rows.forEach((r) => r.remove());
  }

  // follow calls poll after delay, and again after the delay it returns, while the
  // page is shown, until it returns 0. The delay waited is on the page's body, as
  // data-poll-ms, and goes when the polling ends.
  function follow(poll, delay) {
    document.body.dataset.pollMs = delay;
    return setTimeout(async () => {
      let next = delay;
      try {
        if (!document.hidden) next = await poll();
      } catch (e) {
        next = Math.min(2 * delay, 15000); // a poll that threw does not end the polling
      }
      if (next) follow(poll, next);
      else delete document.body.dataset.pollMs;
    }, delay);
  }

  // runServed is the run's HTML as last fetched (or served); following says it is
  // polled.
  let runServed = "";
  let following = false;

  // A run that is not over: the page reads it every second (longer for a big page,
  // as pollDelay says) and swaps in its new state when it changed, keeping open what
  // the reader opened (by each section's data-key: a section that went, such as a
  // resumed wait's, opens no other), until it is over. Called for a run that is over
  // (one just acted on, or a page shown again), it reads it once, and follows it only
  // if it is live again: a run over and unchanged is read no more.
  function liveRun() {
    if (following) return; // followed already
    following = true;
    const poll = async () => {
      const began = performance.now();
      const old = document.getElementById("run");
      if (!old) return 0;
      let page;
      try { page = await fetchPage(); } catch (e) { notUpdating(old, e); return 1000; }
      const fresh = page.doc.getElementById("run");
      if (!fresh) { notUpdating(old, new NotUpdating("hookflow answered with another page.")); return 1000; }
      notUpdating(old, null);
      const delay = pollDelay(1000, page.size, performance.now() - began);
      if (fresh.outerHTML === runServed) {
        if (old.hasAttribute("data-live")) return delay;
        following = false;
        return 0;
      }
      runServed = fresh.outerHTML;
      const open = new Map([...old.querySelectorAll("details[data-key]")].map((d) => [d.dataset.key, d.open]));
      const node = document.importNode(fresh, true);
      const said = old.querySelector("#action-result");
      const saying = node.querySelector("#action-result");
      if (said && saying) saying.textContent = said.textContent;
      // The run's error is an alert, which a screen reader says as it is inserted: said
      // when it appears or changes, not again with each update (every second while
      // the on_failure steps run).
      const errorWas = old.querySelector(":scope > div.error");
      const errorNow = node.querySelector(":scope > div.error");
      if (errorWas && errorNow && errorWas.textContent === errorNow.textContent) errorNow.removeAttribute("role");
      node.querySelectorAll("details[data-key]").forEach((d) => {
        if (open.has(d.dataset.key)) d.open = open.get(d.dataset.key);
      });
      localTimes(node);
      swap(old, node);
      wire(node);
      if (!node.hasAttribute("data-live")) {
        following = false;
        const status = node.querySelector("#run-status");
        if (status) announce("Run " + status.textContent);
        return 0;
      }
      return pollDelay(1000, page.size, performance.now() - began);
    };
    follow(poll, 1000);
  }

  // Buttons with data-post act through the admin API: JSON, same origin. Each that
  // changes a run asks first (a replay or a retry sends the steps' requests again):
  // the question is the button's data-confirm, or its row's, which asks it for each
  // of the row's buttons (a replay on the run's version or on the current one).
  //
  // A button is disabled while its request is out, and goes, or stays disabled, once
  // it did what it does: the focus, which it loses, goes to what came of it (the
  // message above the steps or the list), or back to the button that can be pressed
  // again, unless the reader moved it meanwhile. One offered but not to be pressed
  // (aria-disabled: its description says why) does nothing.
  async function post(button) {
    if (button.getAttribute("aria-disabled") === "true") return;
    const result = document.getElementById("action-result") || document.getElementById("announce");
    const asks = button.closest("[data-confirm]");
    if (asks && !window.confirm(asks.dataset.confirm)) return;
    const focusTo = (el) => {
      const had = document.activeElement;
      if (!had || had === document.body || had === button) el.focus();
    };
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
      if (resp.status === 409 && answer.current_version && button.dataset.version) {
        button.disabled = false;
        const note = outdated(button, answer, result);
        focusTo(note);
        if (document.activeElement === note) note.scrollIntoView({ block: "nearest" }); // whole, not its first line
        return;
      }
      if (!resp.ok) {
        // A 5xx refused nothing: it could not be done now (Redis unreachable, say).
        // A 401 is a session that ended.
        const said = answer.error || resp.status;
        result.textContent = resp.status === 401 ? "Not done: you are signed out. " :
          resp.status >= 500 ? "Could not do it: " + said : "Refused: " + said;
        if (resp.status === 401) {
          const link = document.createElement("a");
          link.href = signInPath();
          link.textContent = "Sign in again";
          result.append(link, ".");
        }
        button.disabled = false;
        focusTo(button);
        return;
      }
      result.textContent = answer.status === "cancelled" ? "Cancelled." :
        answer.status === "failed" ? "Its on_failure steps cancelled: the run stays failed." : answer.step ? "Resumed." :
        "Run " + answer.run_id + " queued again" + (answer.from && answer.from.length ? " from " + answer.from.join(", ") : "") +
        (answer.version ? " on version " + answer.version : "") + ".";
      if (result.hasAttribute("tabindex")) focusTo(result);
      if (document.getElementById("run")) {
        liveRun(); // follow the run on its page
      } else { // a dead letter retried is one no more: its row keeps the buttons, disabled
        const row = button.closest("tr");
        if (row) row.querySelectorAll("button[data-post]").forEach((b) => { b.disabled = true; });
      }
    } catch (e) {
      result.textContent = "Could not reach hookflow: " + e.message;
      button.disabled = false;
      focusTo(button);
    }
  }

  // outdated says that a replay or retry on the version the page named (the button's
  // data-version) was refused, as another version of its workflow is in use now (the
  // answer's current_version): the page is out of date, and pressing again would be
  // refused again. It says so beside the button (a dead letter's, in its row; a run's,
  // below its buttons), with a link that reads the page again, which offers the
  // version in use; and the buttons of the page that name another version of that
  // workflow are offered no more (aria-disabled, described by what it says). It
  // returns what it says, for the focus to go to.
  let outdatedNotes = 0;
  function outdated(button, answer, result) {
    const cell = button.closest("td");
    let note = result;
    if (cell) { // a dead letter: said in its row, not above the list, out of view
      note = document.createElement("p");
      note.id = "outdated-" + ++outdatedNotes;
      note.className = "refused";
      note.tabIndex = -1;
      note.setAttribute("role", "status");
      cell.append(note);
      result.textContent = "";
    }
    note.textContent = "Refused: " + answer.error + ". Reload the page to " + (cell ? "retry" : "replay") +
      " on the version in use now. ";
    const reload = document.createElement("a");
    reload.href = location.pathname + location.search;
    reload.textContent = "Reload the page";
    note.append(reload);
    document.querySelectorAll("button[data-version]").forEach((b) => {
      if (b.dataset.workflow !== button.dataset.workflow || b.dataset.version === answer.current_version) return;
      b.setAttribute("aria-disabled", "true");
      b.setAttribute("aria-describedby", note.id);
    });
    return note;
  }

  // A copy button's data-copy is the id of what it copies: an id, not a selector, as
  // one made of a step's name (resume-url-on_failure/ack) is no valid selector.
  async function copy(button) {
    const source = document.getElementById(button.dataset.copy);
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

  // A page the browser shows again from its back-forward cache is the page as it was
  // left: a run retried on the dead letters page, or replayed, cancelled or resumed
  // since, would show its old state, buttons and all. It reads itself again at once: a
  // run's page follows its run (until it is over), the runs list goes on polling, and
  // a page that does not update itself (the dead letters, older runs, the workflows)
  // loads again.
  window.addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    if (document.getElementById("run")) liveRun();
    else if (!document.querySelector('[data-live="runs"]')) location.reload();
  });

  document.addEventListener("DOMContentLoaded", () => {
    // The live parts' HTML is taken as served, before localTimes rewrites it.
    const runs = document.querySelector('[data-live="runs"]');
    if (runs) liveRuns(runs);
    const run = document.getElementById("run");
    if (run) runServed = run.outerHTML;
    if (run && run.hasAttribute("data-live")) liveRun();
    localTimes(document);
    wire(document);
  });
})();
