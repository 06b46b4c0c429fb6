// The console's shell: session start-up, hash routing, the sidebar and the 2FA banner.

import { themePicker } from './theme.js';
import * as api from './api.js';
import { h, icon, loading, noAccess, loadError } from './ui.js';
import { renderSignIn } from './views/signin.js';
import { renderKeys } from './views/keys.js';
import { renderSecurity } from './views/security.js';
import { renderMembers } from './views/members.js';
import { renderAudit } from './views/audit.js';
import { renderWebhooks } from './views/webhooks.js';
import { renderKeyPage } from './views/key-page.js';
import { renderUsage } from './views/usage.js';
import { renderLeaks } from './views/leaks.js';
import { renderCanaries } from './views/canaries.js';

// `top` pages are listed above the Settings group; `keys` pages are for admins and developers
// (hidden from members, who get a page that says so).
const ROUTES = {
  '#/usage': { title: 'Usage', icon: 'chart', render: renderUsage, top: true, keys: true },
  '#/settings/api': { title: 'API & Developers', icon: 'key', render: renderKeys },
  '#/settings/leaks': { title: 'Report a leak', icon: 'warning', render: renderLeaks, keys: true },
  '#/settings/canaries': { title: 'Canary keys', icon: 'bell', render: renderCanaries, keys: true },
  '#/settings/security': { title: 'Security', icon: 'shield', render: renderSecurity },
  '#/settings/members': { title: 'Members', icon: 'users', render: renderMembers, admin: true },
  '#/settings/webhooks': { title: 'Webhooks', icon: 'bolt', render: renderWebhooks, admin: true },
  '#/settings/audit': { title: 'Audit log', icon: 'list', render: renderAudit, admin: true },
};
// Pages with a part of their own in the address; `nav` is the sidebar entry they belong to.
const PATTERNS = [
  { pattern: /^#\/keys\/([^/?#]+)$/, title: 'API key', nav: '#/settings/api', render: (view, ctx, [id]) => renderKeyPage(view, ctx, { id: decodeURIComponent(id) }) },
];
const HOME = '#/settings/api';
const ROLE_NAMES = { admin: 'Admin', developer: 'Developer', member: 'Member' };

const app = document.getElementById('app');
const state = { me: null, notice: null, rendered: null, navigated: false, after: null };

api.setSignedOutHandler((why) => {
  if (state.me) {
    state.me = null;
    state.notice = why === 'elsewhere'
      ? 'You signed out in another tab. Sign in again to continue.'
      : 'Your session has ended. Sign in again to continue.';
    go('#/signin');
  }
});

/** The page at `hash`: { spec, nav, params }, or null for an unknown address. */
function resolve(hash) {
  if (ROUTES[hash]) return { spec: ROUTES[hash], nav: hash, params: [] };
  for (const spec of PATTERNS) {
    const match = spec.pattern.exec(hash);
    if (match) return { spec, nav: spec.nav, params: match.slice(1) };
  }
  return null;
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function loadMe() {
  state.me = await api.get('/v1/auth/me/');
  return state.me;
}

function context() {
  return {
    get me() { return state.me; },
    get canManageKeys() {
      return Boolean(state.me) && (state.me.user.role === 'admin' || state.me.user.role === 'developer');
    },
    get isAdmin() { return Boolean(state.me) && state.me.user.role === 'admin'; },
    reloadMe: async () => {
      await loadMe();
      renderBanner();
      renderUserCard();
    },
    /** Ends the session on purpose (every tab's) and shows the sign-in page with `notice`. */
    endSession: (notice) => {
      api.signOut();
      state.me = null;
      state.notice = notice;
      go('#/signin');
    },
    go,
  };
}

async function route() {
  const hash = location.hash || '';
  if (!hash.startsWith('#/')) {
    if (!state.rendered) go(api.hasSession() ? HOME : '#/signin');
    return;
  }
  if (hash === '#/signin') {
    if (api.hasSession()) go(state.after || HOME);
    else showSignIn();
    return;
  }
  if (!api.hasSession()) {
    if (resolve(hash)) state.after = hash;
    go('#/signin');
    return;
  }
  if (!state.me) {
    app.replaceChildren(h('div.boot', loading('Signing you in…')));
    try {
      await loadMe();
    } catch (error) {
      if (!api.hasSession()) {
        go('#/signin');
        return;
      }
      app.replaceChildren(h('div.boot', loadError(error, route)));
      return;
    }
  }
  const page = resolve(hash) ? hash : HOME;
  if (page !== hash) history.replaceState(null, '', page);
  state.after = null;
  showPage(page);
}

function showSignIn() {
  state.rendered = 'signin';
  state.me = null;
  document.title = 'Sign in · Keywarden';
  const notice = state.notice;
  state.notice = null;
  app.replaceChildren(renderSignIn({
    notice,
    onSignedIn: () => {
      state.me = null;
      go(state.after || HOME);
    },
  }));
}

let shell = null;

function buildShell() {
  const topMenu = h('ul.nav-list.nav-top');
  const settingsMenu = h('ul.nav-list', { id: 'settings-menu' });
  // The guide says "click Settings, then API & Developers": Settings leads there, and its
  // pages stay listed below it (it is the only group, so there is nothing to fold away).
  const groupButton = h('button.nav-group', { type: 'button' }, icon('settings'), h('span', 'Settings'));
  groupButton.addEventListener('click', () => go(HOME));
  const userCard = h('div.user-card');
  const sidebar = h('aside.sidebar', { id: 'sidebar', 'aria-label': 'Navigation' },
    h('div.brand', h('span.brand-mark', icon('key')), h('span.brand-name', 'Keywarden')),
    h('p.account-name', { id: 'account-name' }),
    h('nav', { 'aria-label': 'Main' }, topMenu, groupButton, settingsMenu),
    themePicker(),
    userCard);
  const menuButton = h('button.icon-button.menu-button', {
    type: 'button', 'aria-expanded': 'false', 'aria-controls': 'sidebar', 'aria-label': 'Open navigation',
  }, icon('menu'));
  const scrim = h('div.scrim', { hidden: true });
  const closeMenu = () => {
    sidebar.classList.remove('open');
    scrim.hidden = true;
    menuButton.setAttribute('aria-expanded', 'false');
    menuButton.setAttribute('aria-label', 'Open navigation');
  };
  menuButton.addEventListener('click', () => {
    const open = !sidebar.classList.contains('open');
    if (!open) {
      closeMenu();
      return;
    }
    sidebar.classList.add('open');
    scrim.hidden = false;
    menuButton.setAttribute('aria-expanded', 'true');
    menuButton.setAttribute('aria-label', 'Close navigation');
    const first = sidebar.querySelector('a, button');
    if (first) first.focus();
  });
  scrim.addEventListener('click', closeMenu);
  sidebar.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && sidebar.classList.contains('open')) {
      closeMenu();
      menuButton.focus();
    }
  });
  const topbar = h('header.topbar', menuButton,
    h('div.brand.compact', h('span.brand-mark', icon('key')), h('span.brand-name', 'Keywarden')));
  const banner = h('div.banner-slot');
  const content = h('div.content');
  const main = h('main.main', { id: 'main', tabindex: '-1' }, banner, content);
  const root = h('div.layout', sidebar, scrim, h('div.main-col', topbar, main));
  shell = { root, topMenu, settingsMenu, userCard, banner, content, closeMenu, main };
}

/** The sidebar; `active` is the current page, or (`exact` false) the entry of a page below it. */
function renderNav(active, exact) {
  const ctx = context();
  const item = ([hash, r]) => h('li', h('a.nav-link', {
    href: hash, 'aria-current': hash === active ? (exact ? 'page' : 'true') : null,
    onclick: () => shell.closeMenu(),
  }, icon(r.icon), h('span', r.title)));
  const shown = Object.entries(ROUTES)
    .filter(([, r]) => (!r.admin || ctx.isAdmin) && (!r.keys || ctx.canManageKeys));
  shell.topMenu.replaceChildren(...shown.filter(([, r]) => r.top).map(item));
  shell.settingsMenu.replaceChildren(...shown.filter(([, r]) => !r.top).map(item));
  const name = document.getElementById('account-name');
  if (name) name.textContent = state.me.account.name;
}

function renderUserCard() {
  if (!shell || !state.me) return;
  const { user } = state.me;
  const signOut = h('button.btn.ghost.small.sign-out', { type: 'button' }, icon('logout'), 'Sign out');
  signOut.addEventListener('click', () => {
    api.signOut();
    state.me = null;
    state.notice = null;
    go('#/signin');
  });
  shell.userCard.replaceChildren(
    h('div.avatar', { 'aria-hidden': 'true' }, user.email.charAt(0).toUpperCase()),
    h('div.user-meta', h('p.user-email', { title: user.email }, user.email), h('p.user-role', ROLE_NAMES[user.role] || user.role)),
    signOut);
}

function renderBanner() {
  if (!shell || !state.me) return;
  const { user, account } = state.me;
  const needs = (user.role === 'admin' || user.role === 'developer') && !user.two_factor_enabled;
  if (!needs || location.hash === '#/settings/security') {
    shell.banner.replaceChildren();
    return;
  }
  const text = account.require_2fa_for_keys
    ? 'Your account requires two-factor authentication to create, rotate or revoke keys. Enable it to continue managing keys.'
    : 'Protect your account: two-factor authentication is recommended for admins and developers before managing API keys.';
  shell.banner.replaceChildren(h('div.banner', { role: 'note' },
    icon('shield'), h('p', text), h('a.btn.small.primary', { href: '#/settings/security' }, 'Enable 2FA')));
}

async function showPage(hash) {
  const { spec, nav, params } = resolve(hash);
  if (!shell || state.rendered === 'signin' || !app.contains(shell.root)) {
    buildShell();
    app.replaceChildren(shell.root);
  }
  state.rendered = hash;
  document.title = `${spec.title} · Keywarden`;
  renderNav(nav, nav === hash);
  renderUserCard();
  renderBanner();
  shell.closeMenu();
  const ctx = context();
  const view = h('div.view');
  shell.content.replaceChildren(view);
  if (spec.admin && !ctx.isAdmin) {
    view.append(noAccess('You need Admin access to see this page',
      `Only admins of ${state.me.account.name} can manage members and webhooks and read the audit log. Ask an admin if you need access.`));
  } else {
    try {
      await spec.render(view, ctx, params);
    } catch (error) {
      if (state.rendered === hash) view.replaceChildren(loadError(error, () => showPage(hash)));
    }
  }
  if (state.navigated) {
    const title = document.getElementById('page-title');
    if (title) title.focus({ preventScroll: false });
  }
  state.navigated = true;
}

document.addEventListener('click', (event) => {
  const link = event.target.closest && event.target.closest('a.skip-link');
  if (link) {
    event.preventDefault();
    const main = document.getElementById('main') || app;
    main.setAttribute('tabindex', '-1');
    main.focus();
  }
});

window.addEventListener('hashchange', route);
// A new tab of a signed-in console takes the session of the others instead of asking again.
api.adoptSession().finally(route);
