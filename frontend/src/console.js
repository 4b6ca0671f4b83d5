// The smlocal console's only script: htmx (live regions, forms), idiomorph (swaps that keep focus and
// scroll position), the per-instance token on every request, the theme switch and a few keys.
// Every page works without it (plain links and forms); it only adds live updates and comfort.
import htmx from "htmx.org";
import { Idiomorph } from "idiomorph/htmx"; // registers hx-ext="morph"

const root = document.documentElement;
root.classList.add("js");

// --- htmx: no eval, no injected <style> (the Content-Security-Policy allows neither) ------------------
htmx.config.allowEval = false;
htmx.config.allowScriptTags = false;
htmx.config.includeIndicatorStyles = false;
htmx.config.selfRequestsOnly = true;
htmx.config.historyCacheSize = 0;
htmx.config.defaultSettleDelay = 0;
// show refusals and errors (403, 404, 409) where the answer was going, not nothing
htmx.config.responseHandling = [
  { code: "204", swap: false },
  { code: "286", swap: true },
  { code: "[23]..", swap: true },
  { code: "[45]..", swap: true, error: false },
];
window.htmx = htmx;

// live regions are morphed, not replaced: focus, scroll and what the reader opened (a <details>: the
// Stop confirmation, a chart's datapoints) survive each refresh, and a field being typed in keeps its text
Idiomorph.defaults.ignoreActiveValue = true;
Idiomorph.defaults.callbacks.beforeAttributeUpdated = (name, node) => !(name === "open" && node.tagName === "DETAILS");

// --- the token: sent with every htmx request; the server checks it on every state-changing one ---------
function token() {
  const meta = document.querySelector('meta[name="smlocal-token"]');
  return meta ? meta.content : "";
}
document.addEventListener("htmx:configRequest", (event) => {
  event.detail.headers["X-Smlocal-Token"] = token();
});

// --- theme: follows the system until the user picks one (kept in localStorage) -----------------------
const THEME_KEY = "smlocal-theme";
function storedTheme() {
  try { return localStorage.getItem(THEME_KEY); } catch { return null; }
}
function effectiveTheme() {
  const chosen = root.dataset.theme;
  if (chosen === "light" || chosen === "dark") return chosen;
  return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}
function applyTheme(theme) {
  if (theme === "light" || theme === "dark") root.dataset.theme = theme;
  for (const button of document.querySelectorAll("[data-theme-toggle]")) {
    const dark = effectiveTheme() === "dark";
    button.setAttribute("aria-pressed", dark ? "true" : "false");
    button.textContent = dark ? "Light theme" : "Dark theme";
  }
}
applyTheme(storedTheme());
document.addEventListener("DOMContentLoaded", () => applyTheme(storedTheme()));
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-theme-toggle]");
  if (!button) return;
  const next = effectiveTheme() === "dark" ? "light" : "dark";
  try { localStorage.setItem(THEME_KEY, next); } catch { /* private mode: this page only */ }
  applyTheme(next);
});

// --- logs: stay at the bottom while new lines arrive, unless the reader scrolled up ------------------
const following = new WeakMap();
document.addEventListener("htmx:beforeSwap", (event) => {
  const log = event.detail.target.closest && event.detail.target.closest("[data-log]");
  if (log) following.set(log, log.scrollTop + log.clientHeight >= log.scrollHeight - 24);
});
document.addEventListener("htmx:afterSettle", (event) => {
  const log = event.detail.target.closest && event.detail.target.closest("[data-log]");
  if (log && following.get(log) !== false) log.scrollTop = log.scrollHeight;
});
document.addEventListener("DOMContentLoaded", () => {
  for (const log of document.querySelectorAll("[data-log]")) log.scrollTop = log.scrollHeight;
});

// --- keys: "/" focuses the page's filter; "g" then a letter goes to a page (shown in the nav) ---------
let pendingG = 0;
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const typing = event.target.closest && event.target.closest("input, textarea, select, [contenteditable]");
  if (typing) {
    if (event.key === "Escape") event.target.blur();
    return;
  }
  if (event.key === "/") {
    const filter = document.querySelector("[data-filter]");
    if (filter) { event.preventDefault(); filter.focus(); filter.select && filter.select(); }
    return;
  }
  if (event.key === "g") { pendingG = Date.now(); return; }
  if (pendingG && Date.now() - pendingG < 1500) {
    pendingG = 0;
    const link = document.querySelector(`[data-key="${CSS.escape(event.key)}"]`);
    if (link) { event.preventDefault(); link.click(); }
  }
});
