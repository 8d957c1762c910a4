// coffer console. Plain ES module, no framework: it calls the native API
// (/v1/) with the session cookie, sends the CSRF token on every state
// change, and builds the page with DOM calls only (never parsed markup), so no
// text from the server is ever read as markup. Secret values are fetched
// only when the user clicks Reveal and are hidden again after 30 seconds.

const PAGE = 20;
const REVEAL_MS = 30000;
let me = null; // the session: who we act as and the CSRF token

const main = document.getElementById("main");
const statusEl = document.getElementById("status");

// h builds an element: h("a", {href: "#"}, "text", child...).
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) {
    if (kid === undefined || kid === null || kid === false) continue;
    el.append(typeof kid === "string" || typeof kid === "number" ? document.createTextNode(String(kid)) : kid);
  }
  return el;
}

function say(msg) { statusEl.textContent = msg; }

class APIError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

// api calls the native API; a 401 ends the console session view.
async function api(method, path, body) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = me ? me.csrf_token : "";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, credentials: "same-origin", cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch { data = null; }
  if (!res.ok) {
    const e = data && data.error ? data.error : { code: "error", message: res.statusText };
    if (res.status === 401 && path !== "/ui/session") { me = null; showSignIn(e.message); }
    throw new APIError(res.status, e.code, e.message);
  }
  return data;
}

const enc = encodeURIComponent;
const fmtTime = (t) => (t ? new Date(t).toLocaleString() : "");
const errorBox = () => h("p", { class: "error", role: "alert" });
function showError(box, err) {
  box.textContent = err instanceof APIError ? `${err.message} (${err.status} ${err.code})` : String(err.message || err);
}

function page(title, ...kids) {
  main.replaceChildren(h("h1", {}, title), ...kids);
  document.title = `${title} · coffer console`;
  main.focus();
}

function table(headers, rows, empty) {
  if (rows.length === 0) return h("p", { class: "empty" }, empty);
  return h("div", { class: "tablewrap" }, h("table", {},
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c)))))));
}

// confirmThen shows an inline confirmation before a destructive action.
function confirmThen(anchor, question, label, action) {
  const box = h("div", { class: "confirm", role: "alertdialog", "aria-label": question });
  const err = errorBox();
  const yes = h("button", { type: "button", class: "danger", onclick: async () => {
    yes.disabled = true;
    try { await action(); box.remove(); } catch (e) { showError(err, e); yes.disabled = false; }
  } }, label);
  const no = h("button", { type: "button", class: "secondary", onclick: () => { box.remove(); anchor.focus(); } }, "Cancel");
  box.append(h("p", {}, question), yes, " ", no, err);
  anchor.after(box);
  yes.focus();
}

function copyButton(getText, label) {
  return h("button", { type: "button", class: "secondary", onclick: async () => {
    try { await navigator.clipboard.writeText(getText()); say("Copied to the clipboard."); }
    catch { say("Copying failed: the browser refused clipboard access."); }
  } }, label || "Copy");
}

// ---- sign-in ----

function showSignIn(message) {
  document.getElementById("nav").hidden = true;
  const err = errorBox();
  if (message) err.textContent = message;
  const key = h("input", { type: "password", id: "apikey", autocomplete: "off", required: true });
  const form = h("form", { onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      me = await api("POST", "/ui/session", { key: key.value });
      key.value = "";
      signedIn();
      if (!location.hash || location.hash === "#/") location.hash = "#/stores"; else route();
    } catch (e) { showError(err, e); }
  } }, h("label", { for: "apikey" }, "API key", key), h("button", { type: "submit" }, "Sign in"));
  page("Sign in", h("p", {}, "Sign in with a coffer API key. The key stays on the server; this browser gets a session that ends after 15 minutes without use."), form, err);
  key.focus();
}

function signedIn() {
  document.getElementById("nav").hidden = false;
  // The audit log is for admin keys only: other keys do not see its link.
  document.getElementById("nav-audit").hidden = !me.admin;
  const scopes = me.admin ? "admin" : (me.scopes || []).map(scopeText).join("; ") || "no scopes";
  document.getElementById("who").textContent = `key ${me.key_id} (${scopes})`;
}

// can tells whether the session's key may do action on the secret named
// secret in the store (its name and id), as coffer.Scope.Allows decides.
// It only hides controls the API would refuse; the API decides.
function can(action, storeName, storeID, secret) {
  if (me.admin) return true;
  return (me.scopes || []).some((sc) => {
    if (sc.object_type && sc.object_type !== "secrets") return false;
    if (sc.store && sc.store !== "*" && sc.store !== storeName && sc.store !== storeID) return false;
    if (!(sc.actions || []).includes(action)) return false;
    if (!sc.secret || sc.secret === "*") return true;
    if (!secret) return action === "list";
    return sc.secret.endsWith("*") ? secret.startsWith(sc.secret.slice(0, -1)) : sc.secret === secret;
  });
}

function scopeText(s) {
  if (s.object_type && s.object_type !== "secrets") {
    // A Chutes scope on another object type (registry, images, ...): it
    // grants nothing on secrets, so it must not read as "read on *".
    return `${(s.actions || []).join(",") || "all"} on Chutes ${s.object_type}${s.object_id ? " " + s.object_id : ""} (no secrets)`;
  }
  return `${(s.actions || []).join(",")} on ${s.store || "*"}${s.secret ? "/" + s.secret : ""}`;
}

document.getElementById("signout").addEventListener("click", async () => {
  try { await api("DELETE", "/ui/session"); } catch { /* signed out either way */ }
  me = null;
  history.replaceState(null, "", "#/"); // fires no hashchange, so the message stays
  showSignIn("You are signed out.");
});

// ---- stores ----

async function viewStores(cursor) {
  const err = errorBox();
  const list = h("div");
  const name = h("input", { type: "text", id: "store-name", required: true, pattern: "[A-Za-z0-9_.\\-]+" });
  const comment = h("input", { type: "text", id: "store-comment" });
  const create = h("form", { "aria-label": "Create a store", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await api("POST", "/v1/stores", { name: name.value, comment: comment.value || undefined });
      say(`Store ${name.value} created.`);
      location.hash = `#/stores/${enc(name.value)}`;
    } catch (e) { showError(err, e); }
  } }, h("label", { for: "store-name" }, "New store name", name), h("label", { for: "store-comment" }, "Comment", comment),
  h("button", { type: "submit" }, "Create store"));
  page("Stores", create, err, list);
  try {
    const data = await api("GET", `/v1/stores?limit=${PAGE}${cursor ? "&cursor=" + enc(cursor) : ""}`);
    const rows = data.stores.map((s) => {
      const del = h("button", { type: "button", class: "danger", "aria-label": `Delete store ${s.name}`,
        onclick: () => confirmThen(del, `Delete store ${s.name}? It must hold no live secrets.`, "Delete store", async () => {
          await api("DELETE", `/v1/stores/${enc(s.name)}`);
          say(`Store ${s.name} deleted.`);
          viewStores(cursor);
        }) }, "Delete");
      return [h("a", { href: `#/stores/${enc(s.name)}` }, s.name), s.comment || "", fmtTime(s.created_at), del];
    });
    list.append(table(["Name", "Comment", "Created", "Actions"], rows, "No stores yet. Create one above."),
      pager(cursor, data.next_cursor, (c) => viewStores(c)));
  } catch (e) { showError(err, e); }
}

function pager(cursor, next, go) {
  const p = h("div", { class: "pager" });
  if (cursor) p.append(h("button", { type: "button", class: "secondary", onclick: () => go("") }, "First page"));
  if (next) p.append(h("button", { type: "button", class: "secondary", onclick: () => go(next) }, "Next page"));
  return p;
}

// ---- secrets of a store ----

async function viewStore(store, cursor, prefix, deleted) {
  const err = errorBox();
  const list = h("div");
  const search = h("input", { type: "search", id: "secret-search", value: prefix || "" });
  const showDeleted = h("input", { type: "checkbox", id: "show-deleted", checked: !!deleted });
  const filter = h("form", { role: "search", "aria-label": "Search secrets", onsubmit: (ev) => {
    ev.preventDefault();
    viewStore(store, "", search.value, showDeleted.checked);
  } }, h("label", { for: "secret-search" }, "Name starts with", search),
  h("label", { class: "inline", for: "show-deleted" }, showDeleted, "Show deleted"), h("button", { type: "submit" }, "Search"));
  const name = h("input", { type: "text", id: "secret-name", required: true });
  const value = h("input", { type: "password", id: "secret-value", required: true, autocomplete: "off" });
  const comment = h("input", { type: "text", id: "secret-comment" });
  const create = h("form", { "aria-label": "Create a secret", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await api("PUT", `/v1/stores/${enc(store)}/secrets/${enc(name.value)}`, { value: value.value, comment: comment.value || undefined });
      value.value = "";
      say(`Secret ${name.value} saved.`);
      location.hash = `#/stores/${enc(store)}/secrets/${enc(name.value)}`;
    } catch (e) { showError(err, e); }
  } }, h("label", { for: "secret-name" }, "New secret name", name), h("label", { for: "secret-value" }, "Value", value),
  h("label", { for: "secret-comment" }, "Comment", comment), h("button", { type: "submit" }, "Create secret"));
  page(`Store ${store}`, h("p", {}, h("a", { href: "#/stores" }, "All stores")), filter, h("h2", {}, "New secret"), create, err,
    h("h2", {}, "Secrets"), list);
  try {
    let q = `limit=${PAGE}`;
    if (cursor) q += "&cursor=" + enc(cursor);
    if (prefix) q += "&prefix=" + enc(prefix);
    if (deleted) q += "&deleted=true";
    const data = await api("GET", `/v1/stores/${enc(store)}/secrets?${q}`);
    // A deleted secret is found by its id: its name may be taken again.
    const rows = data.secrets.map((s) => [h("a", { href: `#/stores/${enc(store)}/secrets/${enc(s.status === "deleted" ? s.id : s.name)}` }, s.name),
      s.status, String(s.version), s.origin, s.comment || "", labelsText(s.labels), s.created_by || "", fmtTime(s.updated_at)]);
    list.append(table(["Name", "Status", "Version", "Created through", "Comment", "Labels", "Created by", "Updated"], rows,
      prefix ? `No secret starts with "${prefix}".` : "This store has no secrets yet."),
    pager(cursor, data.next_cursor, (c) => viewStore(store, c, prefix, deleted)));
  } catch (e) { showError(err, e); }
}

function labelsText(l) { return l ? Object.entries(l).map(([k, v]) => `${k}=${v}`).join(", ") : ""; }

// ---- one secret ----

let hideTimer = null;

async function viewSecret(store, name) {
  const err = errorBox();
  const base = `/v1/stores/${enc(store)}/secrets/${enc(name)}`;
  const meta = h("div");
  const versions = h("div");
  const out = h("output", { id: "secret-value-out", class: "secretvalue", "aria-live": "polite", hidden: true });
  let revealed = "";
  const hide = () => { revealed = ""; out.textContent = ""; out.hidden = true; reveal.hidden = !revealNote.hidden; hideBtn.hidden = true; copy.hidden = true; clearTimeout(hideTimer); };
  const reveal = h("button", { type: "button", id: "reveal", onclick: async () => {
    try {
      const v = await api("GET", `${base}/value`);
      revealed = v.encoding === "base64" ? `(base64) ${v.value}` : v.value;
      out.textContent = revealed;
      out.hidden = false; reveal.hidden = true; hideBtn.hidden = false; copy.hidden = false;
      say(`Showing version ${v.version}; it hides again in 30 seconds. This reveal is audited.`);
      clearTimeout(hideTimer);
      hideTimer = setTimeout(hide, REVEAL_MS);
    } catch (e) { showError(err, e); }
  } }, "Reveal value");
  const hideBtn = h("button", { type: "button", class: "secondary", hidden: true, onclick: hide }, "Hide value");
  const copy = copyButton(() => revealed, "Copy value");
  copy.hidden = true;
  const nv = h("input", { type: "password", id: "new-version", required: true, autocomplete: "off" });
  const newVersion = h("form", { "aria-label": "New version", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const s = await api("PUT", base, { value: nv.value });
      nv.value = "";
      say(`Version ${s.version} saved.`);
      hide();
      load();
    } catch (e) { showError(err, e); }
  } }, h("label", { for: "new-version" }, "New value", nv), h("button", { type: "submit" }, "Save new version"));
  const revealNote = h("p", { id: "reveal-denied", class: "empty", hidden: true }, "This API key may not reveal this secret's value.");
  const newVersionHead = h("h2", {}, "New version");
  page(`Secret ${name}`, h("p", {}, h("a", { href: `#/stores/${enc(store)}` }, `Back to store ${store}`)), err, meta,
    h("h2", {}, "Value"), h("div", {}, reveal, " ", hideBtn, " ", copy), revealNote, out,
    newVersionHead, newVersion, h("h2", {}, "Versions"), versions);
  let knownId = null; // a deleted secret is no longer found by name, only by id
  async function load() {
    try {
      let s;
      try { s = await api("GET", base); } catch (e) {
        if (e.status !== 404 || !knownId) throw e;
        s = await api("GET", `/v1/secrets/${enc(knownId)}`);
      }
      knownId = s.id;
      err.textContent = "";
      // Offer only what the key's scopes allow.
      const may = (action) => can(action, store, s.store_id, s.name);
      if (!may("reveal")) { reveal.hidden = true; revealNote.hidden = false; }
      newVersion.hidden = newVersionHead.hidden = !may("write");
      const act = (s.status === "deleted" ? !may("write") : !may("delete")) ? "" : s.status === "deleted"
        ? h("button", { type: "button", onclick: async () => {
          try { await api("POST", `${base}/undelete`); say(`Secret ${name} restored.`); load(); } catch (e) { showError(err, e); }
        } }, "Undelete")
        : h("button", { type: "button", class: "danger", onclick: () => confirmThen(act, `Delete secret ${name}? It can be undeleted later.`,
          "Delete secret", async () => { await api("DELETE", base); say(`Secret ${name} deleted.`); load(); }) }, "Delete secret");
      meta.replaceChildren(h("dl", {},
        h("dt", {}, "Status"), h("dd", { id: "secret-status" }, s.status),
        h("dt", {}, "Latest version"), h("dd", { id: "secret-version" }, String(s.version)),
        h("dt", {}, "Created through"), h("dd", {}, s.origin),
        h("dt", {}, "Created by"), h("dd", {}, s.created_by || ""),
        h("dt", {}, "Comment"), h("dd", {}, s.comment || ""),
        h("dt", {}, "Labels"), h("dd", {}, labelsText(s.labels)),
        h("dt", {}, "Usage scopes"), h("dd", {}, (s.scopes || []).join(", ")),
        h("dt", {}, "Created"), h("dd", {}, fmtTime(s.created_at)),
        h("dt", {}, "Updated"), h("dd", {}, fmtTime(s.updated_at)),
        h("dt", {}, "Expires"), h("dd", {}, s.expires_at ? fmtTime(s.expires_at) : "never"),
        h("dt", {}, "ID"), h("dd", {}, s.id)), act);
      let vs;
      try { vs = await api("GET", s.status === "deleted" ? `/v1/stores/${enc(store)}/secrets/${enc(s.id)}/versions` : `${base}/versions`); } catch (e) {
        versions.replaceChildren(h("p", { class: "empty" }, `Versions are not listed: ${e.message}`));
        return;
      }
      versions.replaceChildren(table(["Version", "Created by", "Created", "State", "Actions"], vs.versions.map((v) => {
        const rb = v.version === s.version || v.destroyed_at || !may("write") ? "" : h("button", { type: "button", class: "secondary",
          "aria-label": `Roll back to version ${v.version}`, onclick: async () => {
            try {
              const r = await api("POST", `${base}/rollback`, { version: v.version });
              say(`Rolled back: version ${r.version} now holds version ${v.version}'s value.`);
              hide();
              load();
            } catch (e) { showError(err, e); }
          } }, `Roll back to ${v.version}`);
        return [String(v.version), v.created_by, fmtTime(v.created_at), v.destroyed_at ? "destroyed" : (v.version === s.version ? "current" : "kept"), rb];
      }), "No versions yet."));
    } catch (e) { showError(err, e); }
  }
  load();
}

// ---- API keys ----

const ACTIONS = ["list", "read", "reveal", "write", "delete", "admin"];

async function viewKeys() {
  const err = errorBox();
  const list = h("div");
  const shown = h("div", { role: "region", "aria-label": "New key token" });
  const name = h("input", { type: "text", id: "key-name", required: true });
  const admin = h("input", { type: "checkbox", id: "key-admin" });
  const store = h("input", { type: "text", id: "key-store", placeholder: "*" });
  const secret = h("input", { type: "text", id: "key-secret", placeholder: "*" });
  const boxes = ACTIONS.map((a) => h("input", { type: "checkbox", id: `key-act-${a}`, value: a }));
  const form = h("form", { "aria-label": "Create an API key", onsubmit: async (ev) => {
    ev.preventDefault();
    const actions = boxes.filter((b) => b.checked).map((b) => b.value);
    const scopes = actions.length ? [{ store: store.value || "*", secret: secret.value || undefined, actions }] : [];
    try {
      const res = await api("POST", "/v1/keys", { name: name.value, admin: admin.checked, scopes });
      const tok = res.token;
      shown.replaceChildren(h("p", { class: "ok" }, `Key ${res.key.id} created. Copy its token now: it is shown only once.`),
        h("code", { class: "token", id: "new-token" }, tok), " ", copyButton(() => tok, "Copy token"),
        h("button", { type: "button", class: "secondary", onclick: () => shown.replaceChildren() }, "Done, hide it"));
      name.value = "";
      loadKeys();
    } catch (e) { showError(err, e); }
  } }, h("label", { for: "key-name" }, "Name", name), h("label", { class: "inline", for: "key-admin" }, admin, "Admin"),
  h("fieldset", {}, h("legend", {}, "Scope"), h("label", { for: "key-store" }, "Store", store), h("label", { for: "key-secret" }, "Secret (name or pattern)", secret),
    ACTIONS.map((a, i) => h("label", { class: "inline", for: `key-act-${a}` }, boxes[i], a))),
  h("button", { type: "submit" }, "Create key"));
  page("API keys", h("h2", {}, "New key"), form, shown, err, h("h2", {}, "Keys"), list);
  async function loadKeys() {
    try {
      const data = await api("GET", "/v1/keys");
      const keys = data.keys;
      list.replaceChildren(pagedTable(["Name", "ID", "Access", "Created", "Last used", "State", "Actions"], keys.map((k) => {
        const rv = k.revoked_at ? "" : h("button", { type: "button", class: "danger", "aria-label": `Revoke key ${k.name}`,
          onclick: () => confirmThen(rv, `Revoke key ${k.name} (${k.id})? Requests with it are refused from now on.`, "Revoke key", async () => {
            await api("DELETE", `/v1/keys/${enc(k.id)}`);
            say(`Key ${k.name} revoked.`);
            loadKeys();
          }) }, "Revoke");
        return [k.name, k.id, k.admin ? "admin" : (k.scopes || []).map(scopeText).join("; "), fmtTime(k.created_at), fmtTime(k.last_used_at),
          k.revoked_at ? `revoked ${fmtTime(k.revoked_at)}` : (k.id === me.key_id ? "active (this session)" : "active"), rv];
      }), "No keys you can see."));
    } catch (e) { showError(err, e); }
  }
  loadKeys();
}

// pagedTable shows rows PAGE at a time.
function pagedTable(headers, rows, empty) {
  const wrap = h("div");
  let at = 0;
  const show = () => {
    const p = h("div", { class: "pager" });
    if (at > 0) p.append(h("button", { type: "button", class: "secondary", onclick: () => { at -= PAGE; show(); } }, "Previous page"));
    if (at + PAGE < rows.length) p.append(h("button", { type: "button", class: "secondary", onclick: () => { at += PAGE; show(); } }, "Next page"));
    wrap.replaceChildren(table(headers, rows.slice(at, at + PAGE), empty), p);
  };
  show();
  return wrap;
}

// ---- audit log ----

const AUDIT_PAGE = 50;
// A filtered search asks the server this many times at most (each request
// searches a bounded part of the log) before it shows what it found.
const AUDIT_SEARCH_REQUESTS = 8;

// viewAudit searches the audit log on the server: the filters become query
// parameters of GET /v1/audit, newest first, AUDIT_PAGE events a page;
// "Older events" passes the page's next cursor as before.
async function viewAudit() {
  const err = errorBox();
  const verify = h("p", { id: "audit-verify" }, "Checking the audit chain…");
  const list = h("div");
  const f = {
    principal: h("input", { type: "text", id: "f-principal" }),
    object: h("input", { type: "text", id: "f-secret" }),
    action: h("input", { type: "text", id: "f-action", placeholder: "secret.reveal, or secret." }),
    outcome: h("input", { type: "text", id: "f-outcome", placeholder: "ok, forbidden…" }),
    from: h("input", { type: "datetime-local", id: "f-from" }),
    to: h("input", { type: "datetime-local", id: "f-to" }),
  };
  const form = h("form", { role: "search", "aria-label": "Filter audit events", onsubmit: (ev) => { ev.preventDefault(); load(0); } },
    h("label", { for: "f-principal" }, "Principal or key id", f.principal),
    h("label", { for: "f-secret" }, "Secret or store id, or a name", f.object),
    h("label", { for: "f-action" }, "Action (a prefix if it ends in “.”)", f.action),
    h("label", { for: "f-outcome" }, "Outcome", f.outcome),
    h("label", { for: "f-from" }, "From (local time)", f.from), h("label", { for: "f-to" }, "To, inclusive (local time)", f.to),
    h("button", { type: "submit" }, "Filter"),
    h("button", { type: "button", class: "secondary", onclick: () => { for (const i of Object.values(f)) i.value = ""; load(0); } }, "Clear filters"));
  page("Audit log", verify, form, err, list);

  // query renders the filters as parameters; it throws on a bad time.
  function query(before) {
    const q = new URLSearchParams({ order: "desc", limit: String(AUDIT_PAGE) });
    for (const [k, input] of [["principal", f.principal], ["object", f.object], ["action", f.action], ["outcome", f.outcome]]) {
      const v = input.value.trim();
      if (v) q.set(k, v);
    }
    // datetime-local values are local wall-clock times to the minute; the
    // API takes RFC 3339, sent in UTC. "To" includes its whole minute.
    const time = (input, label, extra) => {
      if (!input.value) return null;
      const d = new Date(input.value);
      if (Number.isNaN(d.getTime())) throw new Error(`${label} is not a valid date and time.`);
      return new Date(d.getTime() + extra).toISOString();
    };
    const since = time(f.from, "From", 0);
    const until = time(f.to, "To", 60000);
    if (since) q.set("since", since);
    if (until) q.set("until", until);
    if (before) q.set("before", String(before));
    return q;
  }
  const filtered = () => Object.values(f).some((i) => i.value.trim() !== "");

  // load shows the page of events before the cursor (0: the newest). The
  // server searches a bounded part of the log per request, so a filtered
  // page can come back short with a next cursor: load goes on searching
  // until the page is full, the log ends, or a few requests were made.
  async function load(before) {
    err.textContent = "";
    list.replaceChildren(h("p", { class: "empty" }, "Loading events…"));
    try {
      let events = [];
      let next = before;
      for (let tries = 0; tries < AUDIT_SEARCH_REQUESTS; tries++) {
        const q = query(next);
        q.set("limit", String(AUDIT_PAGE - events.length));
        const data = await api("GET", `/v1/audit?${q}`);
        events = events.concat(data.events || []);
        next = data.next || 0;
        if (!next || events.length >= AUDIT_PAGE) break;
      }
      const rows = events.map((e) => [String(e.seq), fmtTime(e.time), e.action, e.name || e.secret_id || e.store_id || "", e.version ? String(e.version) : "",
        e.outcome, e.principal_id || "", e.key_id || "", e.face || "", e.remote || "", e.reason || ""]);
      const pager = h("div", { class: "pager" });
      if (before) pager.append(h("button", { type: "button", class: "secondary", id: "audit-newest", onclick: () => load(0) }, "Newest events"));
      if (next) pager.append(h("button", { type: "button", class: "secondary", id: "audit-older", onclick: () => load(next) },
        events.length ? "Older events" : "Search further back"));
      const where = filtered() ? " matching the filters" : "";
      let summary;
      if (events.length) {
        summary = `Events ${events[events.length - 1].seq} to ${events[0].seq}${where}, newest first${next ? "; Older events searches further back" : ""}.`;
      } else if (next) {
        summary = `No event from ${next} on matches these filters; events before ${next} were not searched yet.`;
      } else {
        summary = filtered() ? "No event matches these filters." : "No audit events yet.";
      }
      list.replaceChildren(h("p", { id: "audit-summary", role: "status" }, summary),
        events.length ? table(["Seq", "Time", "Action", "Object", "Version", "Outcome", "Principal", "Key", "Face", "From", "Reason"], rows, "") : "",
        pager);
    } catch (e) { list.replaceChildren(); showError(err, e); }
  }

  await load(0);
  try {
    const v = await api("GET", "/v1/audit/verify");
    verify.className = v.ok ? "ok" : "error";
    verify.textContent = v.ok ? `Audit chain verified: ${v.events} events, intact.`
      : `Audit chain BROKEN at event ${v.broken_at}: ${v.problem || "tampering detected"}.`;
  } catch (e) { verify.className = "error"; verify.textContent = `Chain verification unavailable: ${e.message}`; }
}

// ---- routing ----

function route() {
  if (!me) { showSignIn(); return; }
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.getAttribute("href") === `#/${parts[0]}`) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  say("");
  if (parts[0] === "stores" && parts.length === 4 && parts[2] === "secrets") return viewSecret(parts[1], parts[3]);
  if (parts[0] === "stores" && parts.length === 2) return viewStore(parts[1]);
  if (parts[0] === "keys") return viewKeys();
  if (parts[0] === "audit" && me.admin) return viewAudit();
  return viewStores();
}

window.addEventListener("hashchange", () => { clearTimeout(hideTimer); route(); });

(async () => {
  try { me = await api("GET", "/ui/session"); signedIn(); } catch { me = null; }
  route();
})();
