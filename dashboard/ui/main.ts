/**
 * The web UI of codis-fe and of every dashboard: a sidebar of products and pages, a header with
 * the refresh interval and the admin secret, and the page of the route (`#/<product>/<page>`).
 *
 * @module
 */

import { render } from "preact";
import { useState } from "preact/hooks";
import "uplot/dist/uPlot.min.css";
import { Dialog, Toasts } from "./components.ts";
import { html } from "./html.ts";
import { GroupsPage } from "./pages/groups.ts";
import { OverviewPage } from "./pages/overview.ts";
import { ProxiesPage } from "./pages/proxies.ts";
import { SentinelsPage } from "./pages/sentinels.ts";
import { SlotsPage } from "./pages/slots.ts";
import {
  go,
  lastPoll,
  overview,
  PAGES,
  pollError,
  products,
  productsError,
  refreshSeconds,
  route,
  secret,
  setRefresh,
  setSecret,
  start,
} from "./state.ts";

const TITLES = { overview: "Overview", proxies: "Proxies", slots: "Slots", groups: "Groups", sentinels: "Sentinels" };

function Sidebar() {
  const r = route.value;
  const list = products.value ?? [];
  return html`<nav class="sidebar">
    <div class="brand">Codis</div>
    <div class="nav-title">Products</div>
    <ul class="products" data-testid="products">
      ${
    list.map((p) =>
      html`<li><a href=${`#/${encodeURIComponent(p)}/${r.page}`} class=${p === r.product ? "active" : ""}>${p}</a></li>`
    )
  }
    </ul>
    ${
    list.length === 0 && products.value !== null
      ? html`<p class="muted small">No product has a live dashboard.</p>`
      : null
  }
    <div class="nav-title">Pages</div>
    <ul class="pages">
      ${
    PAGES.map((p) =>
      html`<li><a href=${`#/${encodeURIComponent(r.product ?? "")}/${p}`} class=${p === r.page ? "active" : ""}
        data-page=${p}>${TITLES[p]}</a></li>`
    )
  }
    </ul>
  </nav>`;
}

function SecretButton() {
  const [open, setOpen] = useState(false);
  const [value, setValue] = useState("");
  if (!open) {
    return html`
      <button class=${`btn small ${secret.value ? "plain" : "warn"}`} data-testid="secret-button"
        title="the cluster's admin_auth, needed for changes" onClick=${() => {
          setValue(secret.value);
          setOpen(true);
        }}>${secret.value ? "Admin secret ✓" : "Admin secret…"}</button>
    `;
  }
  return html`
    <form class="secret-form" onSubmit=${(e: Event) => {
      e.preventDefault();
      setSecret(value.trim());
      setOpen(false);
    }}>
      <input type="password" placeholder="admin_auth" aria-label="admin secret" autocomplete="off" value=${value}
        onInput=${(e: Event) => setValue((e.target as HTMLInputElement).value)} />
      <button class="btn small primary" type="submit">Use</button>
      <button class="btn small plain" type="button" onClick=${() => setOpen(false)}>Cancel</button>
    </form>
  `;
}

function Header() {
  const r = route.value;
  const err = pollError.value;
  const when = lastPoll.value;
  return html`
    <header class="topbar">
      <h1>${r.product ?? "Codis"} <span class="muted">/ ${TITLES[r.page]}</span></h1>
      <div class="topbar-right">
        <span class=${`poll ${err ? "bad" : "ok"}`} data-testid="poll-status" title=${err ?? ""}>
            ${err
              ? `dashboard unreachable: ${err}`
              : when
              ? `updated ${new Date(when).toLocaleTimeString()}`
              : "loading…"}
          </span>
        <label class="refresh">refresh
            <input type="range" min="1" max="60" value=${refreshSeconds.value} aria-label="refresh interval"
              onInput=${(e: Event) => setRefresh(Number((e.target as HTMLInputElement).value))} />
            <span data-testid="refresh-seconds">${refreshSeconds.value} s</span>
          </label>
        <${SecretButton} />
      </div>
    </header>
  `;
}

function Content() {
  const r = route.value;
  if (productsError.value) {
    return html`<div class="empty"><strong>Cannot list the products</strong><p>${productsError.value}</p></div>`;
  }
  if (r.product === null) {
    return products.value === null ? html`<p class="muted">loading…</p>` : html`
      <div class="empty">
        <strong>No product to show</strong>
        <p>codis-fe lists the products whose dashboard is running. Start one with
            <code>deno task dashboard --config=dashboard.toml</code>.</p>
      </div>
    `;
  }
  const o = overview.value;
  if (o === null) {
    return pollError.value
      ? html`<div class="empty"><strong>The dashboard of ${r.product} does not answer</strong><p>${pollError.value}</p></div>`
      : html`<p class="muted">loading…</p>`;
  }
  switch (r.page) {
    case "proxies":
      return html`<${ProxiesPage} o=${o} />`;
    case "slots":
      return html`<${SlotsPage} o=${o} />`;
    case "groups":
      return html`<${GroupsPage} o=${o} />`;
    case "sentinels":
      return html`<${SentinelsPage} o=${o} />`;
    default:
      return html`<${OverviewPage} o=${o} />`;
  }
}

function App() {
  return html`
    <div class="app">
      <${Sidebar} />
      <main class="main">
        <${Header} />
        <${Content} />
      </main>
      <${Dialog} />
      <${Toasts} />
    </div>
  `;
}

render(html`<${App} />`, document.getElementById("app")!);
void start().then(() => {
  if (!location.hash && route.value.product) go("overview");
});
