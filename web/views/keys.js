// Settings → API & Developers: the standard test and live keys, the restricted keys (filter,
// search, pages), "+ Generate New Key", rotate and revoke, and the modal that shows a new
// secret exactly once.

import * as api from '../api.js';
import {
  h, icon, field, nextId, alertBox, busy, toast, openModal, confirmDialog, showFormError,
  clearFormErrors, statusBadge, badge, timeEl, relative, formatDateTime, pageHeader,
  loading, emptyState, noAccess, restoreFocus, loadError, unsavedChanges, characters,
} from '../ui.js';
import { confirmRevoke } from './key-revoke.js';
import { policyFields, policyBadges, policyErrorMessage } from './key-policy.js';
import { leakBanner } from './leaks.js';

const HANDOVER_CHOICES = [
  ['0', 'No hand-over: the old key stops working at once'],
  ['3600', 'Keep the old key working for 1 hour'],
  ['86400', 'Keep the old key working for 24 hours'],
  ['604800', 'Keep the old key working for 7 days'],
];
const HANDOVER_WORDS = { 3600: '1 hour', 86400: '24 hours', 604800: '7 days' };
const PAGE_SIZE = 10;
const LABEL_MAX = 100;

// The columns the server sorts by (`order` of GET /v1/api-keys/), each with the direction a
// first click picks: names A to Z, the newest, the soonest expiry, the most recent use.
const SORTS = {
  label: { column: 'Label', first: 'ascending', words: ['A to Z', 'Z to A'] },
  created_at: { column: 'Created', first: 'descending', words: ['oldest first', 'newest first'] },
  expires_at: { column: 'Expires', first: 'ascending', words: ['soonest first, never last', 'latest first, never last'] },
  last_used_at: { column: 'Last used', first: 'descending', words: ['least recent first, never last', 'most recent first, never last'] },
};
const DEFAULT_ORDER = '-created_at';
// The chosen order is kept for the tab (sessionStorage): it survives a reload and coming back
// to the page; a new tab starts newest first.
const ORDER_SLOT = 'keywarden.keys.order';

function savedOrder() {
  let stored = null;
  try {
    stored = sessionStorage.getItem(ORDER_SLOT);
  } catch {
    // Storage refused (a privacy mode): newest first.
  }
  return stored && SORTS[stored.replace(/^-/, '')] ? stored : DEFAULT_ORDER;
}

function saveOrder(order) {
  try {
    if (order === DEFAULT_ORDER) sessionStorage.removeItem(ORDER_SLOT);
    else sessionStorage.setItem(ORDER_SLOT, order);
  } catch {
    // Not kept: it still applies to this page.
  }
}

/** `{ field, descending }` of an order's name (`-label` → label, descending). */
function parseOrder(order) {
  return { field: order.replace(/^-/, ''), descending: order.startsWith('-') };
}

export async function renderKeys(view, ctx) {
  if (!ctx.canManageKeys) {
    view.append(noAccess('You need Admin or Developer access to manage API keys',
      `Your role in ${ctx.me.account.name} is Member. Members can sign in but cannot view, create, rotate or revoke API keys. Ask an admin of your account to give you the Developer role if you need keys.`));
    return;
  }
  const page = new KeysPage(view, ctx);
  await page.start();
}

class KeysPage {
  constructor(view, ctx) {
    this.view = view;
    this.ctx = ctx;
    this.products = [];
    this.filters = { kind: 'restricted', status: '', type: '', search: '' };
    this.order = savedOrder();
    // The column whose sort button was pressed, to focus again once the table is redrawn.
    this.focusSort = null;
    this.cursors = [null];
    this.pageIndex = 0;
    this.sequence = 0;
    this.alertSlot = h('div.page-alert');
    this.standardSlot = h('div.standard-keys', loading('Loading the standard keys…'));
    this.tableSlot = h('div.table-slot', loading('Loading keys…'));
    this.pager = h('nav.pager', { 'aria-label': 'Pages of keys' });
  }

  async start() {
    const generate = h('button.btn.primary', { type: 'button', dataset: { focusId: 'generate' } }, icon('plus'), 'Generate New Key');
    generate.addEventListener('click', () => this.openCreateForm());
    this.view.append(
      pageHeader('API & Developers', 'Create, scope, rotate and revoke the API keys your integrations use. A secret is shown once, when it is created.', generate),
      this.alertSlot,
      h('section.section', { 'aria-labelledby': 'standard-title' },
        h('div.section-head', h('div', h('h2', { id: 'standard-title' }, 'Standard keys'),
          h('p.muted', 'One test and one live key with access to every product. Rotate them regularly.'))),
        this.standardSlot),
      h('section.section', { 'aria-labelledby': 'restricted-title' },
        h('div.section-head', h('div', h('h2', { id: 'restricted-title' }, 'API keys'),
          h('p.muted', 'Restricted keys reach only the products and permissions you grant them.'))),
        this.toolbar(),
        this.tableSlot,
        this.pager),
      this.usageHelp());
    this.products = await api.get('/v1/products/').then((body) => body.products).catch(() => []);
    await Promise.all([this.loadStandard(), this.loadTable()]);
  }

  // ---- standard keys -------------------------------------------------------------------

  async loadStandard() {
    let keys;
    try {
      keys = await api.get('/v1/auth/api-keys/');
    } catch (error) {
      const text = error.status === 404
        ? 'No standard keys have been set up for this account yet. Ask the team that runs Keywarden for you to initialise them.'
        : error.message;
      this.standardSlot.replaceChildren(error.status === 404 ? alertBox(text, 'warning') : loadError(error, () => this.loadStandard()));
      return;
    }
    this.standardSlot.replaceChildren(
      this.standardCard('test', keys.test),
      this.standardCard('live', keys.live));
  }

  standardCard(mode, key) {
    const title = mode === 'test' ? 'Test key' : 'Live key';
    if (!key) {
      // The account has standard keys (or the list would have answered 404): this one was
      // revoked, and rotating it issues its replacement.
      // The same focus id as the rotate button: once the new key is stored, focus lands there.
      const replace = h('button.btn.primary.small', { type: 'button', dataset: { focusId: `rotate-${mode}` } }, icon('plus'), `Issue a new ${mode} key`);
      replace.addEventListener('click', () => this.replaceStandard(mode, title));
      return h(`article.key-card.key-card-${mode}`, { 'aria-label': title },
        h('div.key-card-head', h('h3', title),
          h('div.badges', badge(mode === 'test' ? 'Test' : 'Live', mode === 'test' ? 'blue' : 'violet'))),
        h('p.muted', `No working ${mode} key: the last one was revoked. Issue a new one for the integrations that used it.`),
        h('div.key-card-actions', replace));
    }
    const rotate = h('button.btn.secondary.small', { type: 'button', dataset: { focusId: `rotate-${mode}` } }, icon('refresh'), `Rotate ${mode} key`);
    rotate.addEventListener('click', () => this.rotate({
      what: `the ${mode} key`,
      hint: key.hint,
      path: '/v1/auth/api-keys/',
      method: 'PATCH',
      body: { type: mode },
      label: title,
    }));
    const details = h('a.btn.ghost.small', { href: keyPageHash(key), 'aria-label': `Details of the ${mode} key` }, 'Details');
    return h(`article.key-card.key-card-${mode}`, { 'aria-label': title },
      h('div.key-card-head',
        h('h3', title),
        h('div.badges', badge(mode === 'test' ? 'Test' : 'Live', mode === 'test' ? 'blue' : 'violet'),
          key.rotation_due ? h('span.badge.badge-amber', { title: `Older than the account's rotation period of ${this.ctx.me.account.rotation_period_days} days` }, 'Rotation due') : null,
          policyBadges(key))),
      h('p.key-hint', h('span.sr-only', `${title}: `), h('code', key.hint)),
      leakBanner(key),
      h('dl.meta',
        h('div', h('dt', 'Created'), h('dd', timeEl(key.created_at))),
        h('div', h('dt', 'Last used'), h('dd', key.last_used_at ? timeEl(key.last_used_at, relative(key.last_used_at)) : h('span.muted', 'Never')))),
      h('div.key-card-actions', details, rotate));
  }

  // ---- restricted keys table ---------------------------------------------------------

  toolbar() {
    const search = h('input.search-input', { type: 'search', id: 'key-search', placeholder: 'Search by label or key hint', autocomplete: 'off', spellcheck: 'false' });
    let timer = null;
    search.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.setFilter('search', search.value.trim()), 300);
    });
    search.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        clearTimeout(timer);
        this.setFilter('search', search.value.trim());
      }
    });
    const select = (id, label, name, options, value) => {
      const el = h('select', { id, name }, options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
      el.addEventListener('change', () => this.setFilter(name, el.value));
      return h('div.toolbar-field', h('label', { for: id }, label), el);
    };
    return h('div.toolbar', { role: 'search', 'aria-label': 'Filter keys' },
      h('div.toolbar-field.grow', h('label', { for: 'key-search' }, 'Search'),
        h('div.search-box', icon('search'), search)),
      select('filter-status', 'Status', 'status', [['', 'All statuses'], ['active', 'Active'], ['expired', 'Expired'], ['revoked', 'Revoked'], ['rotated', 'Rotated']], ''),
      select('filter-kind', 'Type', 'kind', [['restricted', 'Restricted'], ['standard', 'Standard'], ['', 'All types']], 'restricted'),
      select('filter-mode', 'Mode', 'type', [['', 'Test and live'], ['test', 'Test'], ['live', 'Live']], ''));
  }

  setFilter(name, value) {
    if (this.filters[name] === value) return;
    this.filters[name] = value;
    this.cursors = [null];
    this.pageIndex = 0;
    this.loadTable();
  }

  async loadTable() {
    const sequence = ++this.sequence;
    const cursor = this.cursors[this.pageIndex];
    this.tableSlot.setAttribute('aria-busy', 'true');
    let page;
    try {
      const order = this.order === DEFAULT_ORDER ? null : this.order;
      page = await api.get(`/v1/api-keys/${api.query({ ...this.filters, order, limit: PAGE_SIZE, cursor })}`);
    } catch (error) {
      if (sequence === this.sequence) {
        this.focusSort = null;
        this.tableSlot.replaceChildren(loadError(error, () => this.loadTable()));
      }
      return;
    } finally {
      if (sequence === this.sequence) this.tableSlot.removeAttribute('aria-busy');
    }
    if (sequence !== this.sequence) return;
    this.cursors[this.pageIndex + 1] = page.next_cursor;
    this.renderTable(page.results);
    this.renderPager(page);
  }

  renderTable(keys) {
    if (!keys.length) {
      const filtered = this.filters.status || this.filters.search || this.filters.type || this.filters.kind !== 'restricted';
      const action = filtered ? null : h('button.btn.primary', { type: 'button', onclick: () => this.openCreateForm() }, icon('plus'), 'Generate New Key');
      this.tableSlot.replaceChildren(emptyState(
        filtered ? 'No keys match these filters' : 'No restricted keys yet',
        filtered ? 'Change the filters or the search to see more keys.' : 'Generate a key for each integration, with only the permissions it needs.',
        action));
      return;
    }
    const head = [['Label', 'label'], ['Status'], ['Permissions'], ['Expires', 'expires_at'], ['Last used', 'last_used_at'], ['Created', 'created_at'], ['Actions']];
    const { field, descending } = parseOrder(this.order);
    const table = h('table.data-table.keys-table',
      h('caption.sr-only', `API keys, sorted by ${SORTS[field].column.toLowerCase()}, ${SORTS[field].words[descending ? 1 : 0]}`),
      h('thead', h('tr', head.map(([text, sort]) => (sort ? this.sortHeader(text, sort)
        : h('th', { scope: 'col' }, text === 'Actions' ? h('span.sr-only', text) : text))))),
      h('tbody', keys.map((key) => this.row(key))));
    // Focus on a sort button (pressed for this load, or still there from an earlier one when
    // a filter redraws the table) moves to its successor in the new table.
    const focused = this.tableSlot.contains(document.activeElement) ? document.activeElement.dataset.sort : null;
    const refocus = this.focusSort || focused;
    this.focusSort = null;
    this.tableSlot.replaceChildren(h('div.table-wrap', table));
    if (refocus) {
      const button = table.querySelector(`[data-sort="${refocus}"]`);
      if (button) button.focus();
    }
  }

  /**
   * A column header that sorts the keys on the server: a button (Enter and Space work), an
   * arrow, and `aria-sort` on the sorted column. Sorting starts again from the first page.
   */
  sortHeader(text, field) {
    const current = parseOrder(this.order);
    const sorted = current.field === field;
    const arrow = h('span.sort-arrow', { 'aria-hidden': 'true' }, sorted ? (current.descending ? '↓' : '↑') : '');
    const button = h('button.sort-button', { type: 'button', dataset: { sort: field } }, text, arrow);
    button.addEventListener('click', () => {
      const descending = sorted ? !current.descending : SORTS[field].first === 'descending';
      this.setOrder(`${descending ? '-' : ''}${field}`);
    });
    return h('th', {
      scope: 'col',
      'aria-sort': sorted ? (current.descending ? 'descending' : 'ascending') : null,
      dataset: { sortable: '' },
    }, button);
  }

  setOrder(order) {
    if (this.order === order) return;
    this.order = order;
    saveOrder(order);
    this.focusSort = parseOrder(order).field;
    this.cursors = [null];
    this.pageIndex = 0;
    this.loadTable();
  }

  row(key) {
    const actions = [h('a.btn.ghost.small', { href: keyPageHash(key), 'aria-label': `Details of ${key.label}` }, 'Details')];
    const handingOver = inHandOver(key);
    if (key.kind === 'restricted' && !handingOver && (key.status === 'active' || key.status === 'expired' || key.status === 'rotated')) {
      // A canary is never rotated (the server refuses it).
      if (key.status === 'active' && !key.canary) {
        actions.push(h('button.btn.ghost.small', {
          type: 'button', 'aria-label': `Rotate ${key.label}`, dataset: { focusId: `rotate-${key.id}` },
          onclick: () => this.rotate({ what: `“${key.label}”`, hint: key.hint, path: `/v1/api-keys/${encodeURIComponent(key.id)}/rotate/`, method: 'POST', body: {}, label: key.label }),
        }, 'Rotate'));
      }
      actions.push(h('button.btn.ghost-danger.small', {
        type: 'button', 'aria-label': `Revoke ${key.label}`, dataset: { focusId: `revoke-${key.id}` }, onclick: () => this.revoke(key),
      }, 'Revoke'));
    }
    if (handingOver) {
      actions.push(h('button.btn.ghost-danger.small', {
        type: 'button', 'aria-label': `End the hand-over of ${key.label}`, dataset: { focusId: `end-${key.id}` }, onclick: () => this.endHandOver(key),
      }, 'End hand-over now'));
    }
    let expires;
    if (handingOver) {
      // A rotated key in its hand-over still works: say until when, not its expiry.
      expires = h('span.handover', h('span.sub-strong', 'Works until'), timeEl(key.grace_until, formatDateTime(key.grace_until)), h('span.sub', relative(key.grace_until)));
    } else if (key.expires_at) {
      expires = h('span', timeEl(key.expires_at), key.status === 'active' ? h('span.sub', relative(key.expires_at)) : null);
    } else {
      expires = h('span.muted', 'Never');
    }
    return h('tr', { dataset: { keyId: key.id } },
      h('td', { dataset: { label: 'Label' } },
        h('div.key-name', h('span.key-label', key.label),
          h('span.key-sub', h('code', key.hint), badge(key.type === 'test' ? 'Test' : 'Live', key.type === 'test' ? 'blue' : 'violet'), policyBadges(key))),
        leakBanner(key)),
      h('td', { dataset: { label: 'Status' } }, statusBadge(key.status),
        key.rotation_due && key.status === 'active' ? badge('Rotation due', 'amber') : null,
        expiresSoonBadge(key),
        handingOver ? badge('Hand-over', 'blue') : null),
      h('td', { dataset: { label: 'Permissions' } }, this.scopeChips(key)),
      h('td', { dataset: { label: 'Expires' } }, expires),
      h('td', { dataset: { label: 'Last used' } }, key.last_used_at ? timeEl(key.last_used_at, relative(key.last_used_at)) : h('span.muted', 'Never')),
      h('td', { dataset: { label: 'Created' } }, timeEl(key.created_at), h('span.sub', 'by ', h('span.creator', this.creator(key)))),
      h('td.actions', { dataset: { label: 'Actions' } }, h('div.row-actions', actions)));
  }

  creator(key) {
    return creatorName(key, this.ctx.me.user);
  }

  scopeChips(key) {
    return scopeChips(key, this.products);
  }

  renderPager(page) {
    const previous = h('button.btn.secondary.small', { type: 'button', disabled: this.pageIndex === 0 }, '← Previous');
    const next = h('button.btn.secondary.small', { type: 'button', disabled: !page.next_cursor }, 'Next →');
    previous.addEventListener('click', () => {
      this.pageIndex -= 1;
      this.loadTable();
    });
    next.addEventListener('click', () => {
      this.pageIndex += 1;
      this.loadTable();
    });
    if (this.pageIndex === 0 && !page.next_cursor) {
      this.pager.replaceChildren();
      return;
    }
    this.pager.replaceChildren(previous, h('span.pager-label', `Page ${this.pageIndex + 1}`), next);
  }

  refreshAll() {
    this.cursors = [null];
    this.pageIndex = 0;
    return Promise.all([this.loadStandard(), this.loadTable()]);
  }

  // ---- actions -------------------------------------------------------------------------

  showActionError(error) {
    if (error.code === 'two_factor_required') {
      this.alertSlot.replaceChildren(twoFactorFirst());
    } else {
      this.alertSlot.replaceChildren(alertBox(error.message));
    }
    this.alertSlot.scrollIntoView({ block: 'nearest' });
  }

  /**
   * True when the account's policy will refuse this user's key change: says so at once, before
   * a form is filled in or a change confirmed, with the way to enable 2FA.
   */
  blockedByPolicy() {
    const { user, account } = this.ctx.me;
    if (!account.require_2fa_for_keys || user.two_factor_enabled) return false;
    this.showActionError({ code: 'two_factor_required' });
    const link = this.alertSlot.querySelector('a');
    if (link) link.focus();
    return true;
  }

  rotate({ what, hint, path, method, body, label }) {
    this.alertSlot.replaceChildren();
    if (this.blockedByPolicy()) return;
    const handover = h('select', { id: nextId('handover'), name: 'expire_previous_in' },
      HANDOVER_CHOICES.map(([value, text]) => h('option', { value }, text)));
    const consequence = h('p.consequence');
    const describe = () => {
      const seconds = Number(handover.value);
      consequence.replaceChildren(icon('warning'), h('span', seconds
        ? `The old key keeps working for ${HANDOVER_WORDS[seconds]}, then stops. Update every integration before then.`
        : 'The old key stops working at once. Every integration that still uses it is refused until it has the new key.'));
      consequence.classList.toggle('danger', !seconds);
    };
    handover.addEventListener('change', describe);
    describe();
    const cancel = h('button.btn.secondary', { type: 'button' }, 'Cancel');
    const confirm = h('button.btn.danger', { type: 'button' }, 'Rotate key');
    const formAlert = h('div.form-alert', { hidden: true });
    const content = h('div.form', formAlert,
      h('div.confirm-details', h('span.muted', 'Current key '), h('code', hint)),
      consequence,
      field({ label: 'Hand-over period', input: handover, name: 'expire_previous_in', hint: 'Optional: let the old key work a little longer for a planned switch (at most 7 days).' }));
    const modal = openModal({
      title: `Rotate ${what}?`,
      description: 'Rotation issues a new secret and retires the current one.',
      content,
      actions: [cancel, confirm],
      initialFocus: () => cancel,
    });
    cancel.addEventListener('click', () => modal.close());
    confirm.addEventListener('click', () => busy(confirm, 'Rotating…', async () => {
      const request = { ...body };
      if (Number(handover.value)) request.expire_previous_in = Number(handover.value);
      const stops = (issued) => (Number(handover.value) ? `The old key stops working ${formatDateTime(issued.previous.stops_at)}.` : 'The old key no longer works.');
      await this.issueSecret({ modal, content, label, done: 'rotated', request: () => api.request(method, path, request), summary: (issued) => `${stops(issued)} Give the new key to your integrations now.` });
    }));
  }

  /**
   * Sends a request that answers a new secret (a rotation or a replacement) from a confirming
   * modal: then the secret is shown once and the page reloaded; a 2FA block closes the modal
   * for the page's notice, any other error stays in the modal.
   */
  async issueSecret({ modal, content, label, done, request, summary }) {
    try {
      const issued = await request();
      modal.close();
      const secret = issued.key;
      issued.key = null;
      showSecret({ title: `${label}: new secret`, secret, summary: summary(issued), mode: issued.type });
      toast(`${label} ${done}`);
      this.refreshAll();
    } catch (error) {
      if (error.code === 'two_factor_required') {
        modal.close();
        this.showActionError(error);
      } else {
        showFormError(content, error);
      }
    }
  }

  /** A revoked standard key's replacement: confirmed, then its secret shown once. */
  replaceStandard(mode, label) {
    this.alertSlot.replaceChildren();
    if (this.blockedByPolicy()) return;
    const cancel = h('button.btn.secondary', { type: 'button' }, 'Cancel');
    const confirm = h('button.btn.primary', { type: 'button' }, `Issue ${mode} key`);
    const content = h('div.form', h('div.form-alert', { hidden: true }),
      h('p', `The new ${mode} key keeps the revoked key's name and IP allowlist, and works at once. The revoked key stays revoked.`));
    const modal = openModal({
      title: `Issue a new ${mode} key?`,
      description: 'Its secret is shown once, when it is issued.',
      content,
      actions: [cancel, confirm],
      initialFocus: () => confirm,
    });
    cancel.addEventListener('click', () => modal.close());
    confirm.addEventListener('click', () => busy(confirm, 'Issuing…', () => this.issueSecret({
      modal, content, label, done: 'issued',
      request: () => api.request('PATCH', '/v1/auth/api-keys/', { type: mode }),
      summary: () => 'Give the new key to your integrations now.',
    })));
  }

  async revoke(key) {
    this.alertSlot.replaceChildren();
    if (this.blockedByPolicy()) return;
    const yes = await confirmRevoke(key, new Map(this.products.map((p) => [p.id, p.name])));
    if (!yes) return;
    const button = document.activeElement;
    try {
      await api.del(`/v1/api-keys/${encodeURIComponent(key.id)}/`);
      toast(`“${key.label}” revoked`);
      await this.loadTable();
      if (!document.contains(button)) restoreFocus(button);
    } catch (error) {
      this.showActionError(error);
    }
  }

  async endHandOver(key) {
    this.alertSlot.replaceChildren();
    if (this.blockedByPolicy()) return;
    const yes = await confirmDialog({
      title: `End the hand-over of “${key.label}”?`,
      message: `This rotated key works until ${formatDateTime(key.grace_until)} so that integrations can switch to its successor. Ending the hand-over revokes it now: every request that still uses it is refused from then on.`,
      details: [h('span.muted', 'Old key '), h('code', key.hint)],
      confirmLabel: 'End hand-over now',
    });
    if (!yes) return;
    const button = document.activeElement;
    try {
      await api.del(`/v1/api-keys/${encodeURIComponent(key.id)}/`);
      toast(`The old “${key.label}” key no longer works`);
      await this.loadTable();
      if (!document.contains(button)) restoreFocus(button);
    } catch (error) {
      this.showActionError(error);
    }
  }

  openCreateForm() {
    this.alertSlot.replaceChildren();
    if (this.blockedByPolicy()) return;
    const admin = this.ctx.me.user.role === 'admin' ? this.ctx.me.user : null;
    const form = new KeyForm(this.products, admin, async (issued) => {
      const secret = issued.key;
      issued.key = null;
      showSecret({ title: 'Your new API key', secret, summary: `“${issued.label}” is ready. Copy the secret now.`, mode: issued.type });
      toast(`“${issued.label}” created`);
      this.cursors = [null];
      this.pageIndex = 0;
      await this.loadTable();
    });
    form.open();
  }

  usageHelp() {
    return h('section.section.usage', { 'aria-labelledby': 'usage-title' },
      h('h2', { id: 'usage-title' }, 'Using a key'),
      h('p.muted', 'Send the key in the Authorization header of each request. Keep it in a secret store or an environment variable (.env), never in source code.'),
      // The page's own origin, rather than a placeholder host: where this deployment answers
      // (a platform that fronts its API elsewhere says so in its own docs).
      h('pre.code-block', h('code', `curl ${location.origin}/v1/customers/ \\\n  -H "Authorization: Bearer $API_KEY"`)),
      h('ul.tips',
        h('li', h('strong', '401 Unauthorized: '), 'the key is missing, mistyped, revoked or expired. Check its status here.'),
        h('li', h('strong', '403 Forbidden: '), 'the key works but lacks the permission. Generate a key with the right scope.'),
        h('li', h('strong', 'Leaked a key? '), 'Revoke it at once, then generate a new one and update your integrations.')));
  }
}

/** The "+ Generate New Key" form, in a dialog. */
class KeyForm {
  constructor(products, admin, onCreated) {
    this.products = products;
    this.admin = admin;
    this.onCreated = onCreated;
  }

  open() {
    const label = h('input', { type: 'text', name: 'label', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. Zapier-Integration-Payroll' });
    const modeName = nextId('mode');
    const modeTest = h('input', { type: 'radio', name: modeName, value: 'test', checked: true, id: `${modeName}-test` });
    const modeLive = h('input', { type: 'radio', name: modeName, value: 'live', id: `${modeName}-live` });
    const expiryName = nextId('expiry');
    const never = h('input', { type: 'radio', name: expiryName, value: 'never', checked: true, id: `${expiryName}-never` });
    const onDate = h('input', { type: 'radio', name: expiryName, value: 'date', id: `${expiryName}-date` });
    const date = h('input', { type: 'date', name: 'expires_at', id: `${expiryName}-when`, min: isoDay(1), disabled: true, 'aria-describedby': `${expiryName}-hint ${expiryName}-error` });
    const syncExpiry = () => {
      date.disabled = !onDate.checked;
      if (onDate.checked && !date.value) date.value = isoDay(30);
    };
    never.addEventListener('change', syncExpiry);
    onDate.addEventListener('change', () => {
      syncExpiry();
      date.focus();
    });

    const switches = this.products.map((product) => {
      const read = h('input.switch', { type: 'checkbox', role: 'switch', value: `${product.id}:read`, 'aria-label': `Read access to ${product.name}` });
      const write = h('input.switch', { type: 'checkbox', role: 'switch', value: `${product.id}:write`, 'aria-label': `Write access to ${product.name}` });
      write.addEventListener('change', () => { if (write.checked) read.checked = true; });
      read.addEventListener('change', () => { if (!read.checked) write.checked = false; });
      return { product, read, write };
    });
    const scopeTable = h('table.scope-table',
      h('thead', h('tr', h('th', { scope: 'col' }, 'Product'), h('th', { scope: 'col' }, 'Read'), h('th', { scope: 'col' }, 'Write'))),
      h('tbody', switches.map(({ product, read, write }) => h('tr',
        h('th', { scope: 'row' }, h('span.product-name', product.name), h('span.product-id', product.id)),
        h('td', h('label.switch-wrap', read, h('span.switch-track', { 'aria-hidden': 'true' }))),
        h('td', h('label.switch-wrap', write, h('span.switch-track', { 'aria-hidden': 'true' })))))));

    // Where, how often and how much the key may be used, and the customer's metadata: all
    // optional, so folded away until wanted (and opened when one of them needs a correction).
    const policy = policyFields({ me: this.admin });
    // A button and a hidden part rather than <details>: a closed <details> keeps its fields'
    // transitions from ever finishing.
    const moreId = nextId('limits');
    const moreBody = h('div.form-more-body', { id: moreId, hidden: true }, policy.element);
    const moreToggle = h('button.form-more-toggle', { type: 'button', 'aria-expanded': 'false', 'aria-controls': moreId, 'aria-describedby': `${moreId}-hint` },
      h('span.summary-title', 'Limits and metadata'), h('span.optional', ' (optional)'),
      h('span.summary-hint', { id: `${moreId}-hint`, 'aria-hidden': 'true' }, 'Allowed addresses, rate limit, usage limit, metadata'));
    const limits = h('div.form-more', moreToggle, moreBody);
    const openLimits = (open) => {
      moreBody.hidden = !open;
      moreToggle.setAttribute('aria-expanded', String(open));
    };
    moreToggle.addEventListener('click', () => openLimits(moreBody.hidden));
    const showError = (error) => {
      if (POLICY_FIELDS.includes(error.field)) openLimits(true);
      showFormError(form, error, { expires_at: 'expires_at', type: 'type' });
    };

    const submit = h('button.btn.primary', { type: 'submit' }, 'Create Key');
    const cancel = h('button.btn.secondary', { type: 'button' }, 'Cancel');
    const formId = nextId('key-form');
    const form = h('form.form.key-form', { id: formId, novalidate: true },
      h('div.form-alert', { hidden: true }),
      field({
        label: 'Label', input: label, name: 'label', max: LABEL_MAX,
        hint: 'Tip: name the key after its purpose and the service that uses it, e.g. Zapier-Integration-Payroll or Internal-App-Health.',
      }),
      h('fieldset.field', { dataset: { field: 'type' } },
        h('legend', 'Mode'),
        h('div.segmented',
          h('label.segment', { for: modeTest.id }, modeTest, h('span', 'Test')),
          h('label.segment', { for: modeLive.id }, modeLive, h('span', 'Live'))),
        h('p.hint', 'Test keys never touch live data.'),
        h('p.field-error', { hidden: true })),
      h('fieldset.field', { dataset: { field: 'expires_at' } },
        h('legend', 'Expiration'),
        h('div.radio-row',
          h('label.radio', { for: never.id }, never, h('span', 'Never Expire')),
          h('label.radio', { for: onDate.id }, onDate, h('span', 'On a date'))),
        h('div.date-row', h('label', { for: date.id }, 'Expiry date'), date),
        h('p.hint', { id: `${expiryName}-hint` }, 'For a temporary project, pick the last day the key may be used; it stops working at the end of that day.'),
        h('p.field-error', { id: `${expiryName}-error`, hidden: true })),
      h('fieldset.field', { dataset: { field: 'scopes' } },
        h('legend', 'Permissions'),
        h('p.hint', 'Grant only what this integration needs. Write includes Read.'),
        this.products.length ? scopeTable : alertBox('The product catalog could not be loaded. Reload the page.'),
        h('p.field-error', { hidden: true })),
      limits);

    const modal = openModal({
      title: 'Generate a new API key',
      content: form,
      actions: [cancel, h('span.spacer'), submit],
      size: 'wide',
      initialFocus: () => label,
      isDirty: unsavedChanges(form),
    });
    submit.setAttribute('form', formId);
    cancel.addEventListener('click', () => modal.dismiss());
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearFormErrors(form);
      const scopes = [];
      for (const { read, write } of switches) {
        if (write.checked) scopes.push(write.value);
        else if (read.checked) scopes.push(read.value);
      }
      if (!label.value.trim()) {
        showFormError(form, { field: 'label', message: 'Give the key a label, e.g. Zapier-Integration-Payroll.' });
        return;
      }
      const length = characters(label.value.trim());
      if (length > LABEL_MAX) {
        showFormError(form, { field: 'label', message: `The label has ${length} characters: shorten it to ${LABEL_MAX} or fewer.` });
        return;
      }
      if (onDate.checked && !date.value) {
        showFormError(form, { field: 'expires_at', message: 'Pick a date, or choose Never Expire.' });
        return;
      }
      if (onDate.checked && date.value < isoDay(1)) {
        showFormError(form, { field: 'expires_at', message: 'Pick a date from tomorrow on: a key cannot expire in the past.' });
        return;
      }
      if (!scopes.length) {
        showFormError(form, { field: 'scopes', message: 'Turn on at least one permission: a key without any cannot do anything.' });
        const first = switches[0];
        if (first) first.read.focus();
        return;
      }
      const read = policy.read();
      if (read.error) {
        showError(read.error);
        return;
      }
      const request = {
        label: label.value.trim(),
        type: modeLive.checked ? 'live' : 'test',
        scopes,
      };
      // Only the settings given: absent means none.
      for (const [name, value] of Object.entries(read.values)) {
        if (value !== null) request[name] = value;
      }
      if (onDate.checked) request.expires_at = new Date(`${date.value}T23:59:59`).toISOString();
      await busy(submit, 'Creating…', async () => {
        try {
          const issued = await api.post('/v1/api-keys/', request);
          modal.close();
          await this.onCreated(issued);
        } catch (error) {
          if (error.field === 'expires_at') error.message = 'Pick a date from tomorrow on, or choose Never Expire.';
          if (POLICY_FIELDS.includes(error.field)) error.message = policyErrorMessage(error);
          if (error.code === 'two_factor_required') {
            // The policy was turned on while the form was open.
            const slot = form.querySelector('.form-alert');
            slot.replaceChildren(twoFactorFirst(() => modal.close()));
            slot.hidden = false;
          } else {
            showError(error);
          }
        }
      });
    });
  }
}

/** Where a key's page is. */
export const keyPageHash = (key) => `#/keys/${encodeURIComponent(key.id)}`;

/** Who created a key, as `me` (the signed-in user) reads it. */
export function creatorName(key, me) {
  if (!key.created_by) return 'Operator (CLI)';
  if (key.created_by === me.id) return 'You';
  return key.created_by_email || 'A former member';
}

/** A key's permissions as chips, one per product; `products` is the catalog. */
export function scopeChips(key, products) {
  if (key.kind === 'standard') return h('span.chip.chip-all', 'All products');
  const granted = new Set(key.scopes);
  const names = new Map(products.map((p) => [p.id, p.name]));
  const ids = [...new Set(key.scopes.map((s) => s.split(':')[0]))];
  if (!ids.length) return h('span.muted', 'None');
  return h('ul.chips', ids.map((id) => {
    const write = granted.has(`${id}:write`);
    return h(`li.chip${write ? '.chip-write' : ''}`, `${names.get(id) || id} · ${write ? 'Read & Write' : 'Read'}`);
  }));
}

/** The account requires 2FA for key changes and this user has none: what to do, in words. */
export function twoFactorFirst(onFollow) {
  return alertBox('Your account requires two-factor authentication to create, rotate or revoke keys. Turn it on under Security first; it takes a minute.', 'error',
    h('a.btn.small.primary', { href: '#/settings/security', onclick: onFollow || null }, 'Enable two-factor authentication'));
}

const POLICY_FIELDS = ['allowed_ips', 'rate_limit', 'usage_limit', 'metadata'];

const EXPIRES_SOON_MS = 7 * 24 * 3600 * 1000;

/** An active key that stops working within 7 days. */
function expiresSoon(key) {
  if (key.status !== 'active' || !key.expires_at) return false;
  const left = new Date(key.expires_at).getTime() - Date.now();
  return left > 0 && left <= EXPIRES_SOON_MS;
}

/** The "Expires soon" badge, with the time it stops working, for a key that does; else nothing. */
export function expiresSoonBadge(key) {
  return expiresSoon(key)
    ? h('span.badge.badge-amber', { title: `Stops working ${formatDateTime(key.expires_at)}` }, 'Expires soon')
    : null;
}

/** A rotated key whose hand-over period has not ended: it still works. */
export function inHandOver(key) {
  return key.status === 'rotated' && Boolean(key.grace_until) && new Date(key.grace_until).getTime() > Date.now();
}

function isoDay(daysAhead) {
  const d = new Date();
  d.setDate(d.getDate() + daysAhead);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/**
 * The modal that shows a secret once. The secret lives only in this function's variable and
 * the read-only input; both are cleared, and the dialog removed from the page, when it closes.
 * `words` names what the secret is, for secrets other than API keys; `extra` (a node) follows
 * the hint, e.g. what to do with the secret next.
 */
export function showSecret({ title, secret, summary, mode, words = {}, extra = null }) {
  const {
    fieldLabel = 'API Secret Key',
    copyName = 'Copy the key to the clipboard',
    warning = 'For security reasons it will never be shown again. If you lose it, generate a new key and update your integrations.',
    warningLead = 'Copy this key now. ',
    hint = 'Paste it straight into your password manager, secret vault or the .env file of the integration.',
    done: doneLabel = 'I have stored the key',
  } = words;
  const inputId = nextId('secret');
  const input = h('input.secret-input', {
    id: inputId, type: 'text', readOnly: true, value: secret, spellcheck: 'false', autocomplete: 'off',
    'aria-describedby': `${inputId}-warning`,
  });
  secret = null;
  input.addEventListener('focus', () => input.select());
  const copyLabel = h('span', 'Copy');
  const copy = h('button.btn.secondary.copy-button', { type: 'button', 'aria-label': copyName }, icon('copy'), copyLabel);
  const status = h('p.copy-status', { role: 'status' });
  copy.addEventListener('click', async () => {
    const ok = await copyText(input);
    status.textContent = ok ? 'Copied to the clipboard.' : 'Selected: press Ctrl+C (⌘C on a Mac) to copy.';
    if (ok) {
      copyLabel.textContent = 'Copied';
      copy.classList.add('copied');
      setTimeout(() => {
        copyLabel.textContent = 'Copy';
        copy.classList.remove('copied');
      }, 2000);
    }
  });
  const done = h('button.btn.primary', { type: 'button' }, doneLabel);
  const modal = openModal({
    title,
    description: summary,
    content: [
      h('div.alert.alert-warning', { id: `${inputId}-warning` }, icon('warning'),
        h('div', h('p', h('strong', warningLead), warning))),
      h('div.field',
        h('label', { for: inputId }, fieldLabel, mode ? h('span.optional', mode === 'live' ? ' (live mode)' : ' (test mode)') : null),
        h('div.secret-row', input, copy),
        status),
      h('p.hint', hint),
      extra,
    ],
    actions: [done],
    size: 'wide',
    // Shown once: a stray click beside the dialog or Escape must not lose it for good.
    dismissible: false,
    initialFocus: () => copy,
    onClose: () => {
      input.value = '';
      input.defaultValue = '';
      input.removeAttribute('value');
      status.textContent = '';
    },
  });
  done.addEventListener('click', () => modal.close());
}

async function copyText(input) {
  const text = input.value;
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Fall through to selecting the text.
    }
  }
  input.focus();
  input.select();
  input.setSelectionRange(0, text.length);
  try {
    return document.execCommand('copy');
  } catch {
    return false;
  }
}
