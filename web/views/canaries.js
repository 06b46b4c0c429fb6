// Settings → Canary keys (SPEC §8): decoy keys that authorize nothing, planted where only an
// intruder would look. The page lists the account's canaries with how often each was tripped,
// creates new ones (the secret shown once, with how to plant it) and shows admins each trip
// from the audit log: when, from which address, with which program and request. A canary's own
// page (key-page.js) uses the parts exported here.

import * as api from '../api.js';
import {
  h, icon, field, busy, toast, alertBox, showFormError, clearFormErrors, pageHeader, statusBadge,
  badge, timeEl, relative, formatDateTime, formatNumber, loading, emptyState, noAccess, loadError,
  characters, restoreFocus,
} from '../ui.js';
import { showSecret, keyPageHash, creatorName, twoFactorFirst } from './keys.js';
import { confirmRevoke } from './key-revoke.js';

const LABEL_MAX = 100;
/** The largest page of the key list: canaries are picked out of it here (no server filter). */
const KEYS_PAGE = 100;
/** How many trips a canary's list shows; the audit log has every one. */
const TRIPS_SHOWN = 10;

const SECRET_WORDS = {
  fieldLabel: 'Canary key',
  copyName: 'Copy the canary key to the clipboard',
  warningLead: 'Copy this key now. ',
  warning: 'It will never be shown again. If you lose it before planting it, revoke this canary and create another.',
  hint: 'It looks like any other key of its mode: nothing in it gives it away.',
  done: 'I have copied the key',
};

/** "Tripped 1 time", "Tripped 3 times". */
export function trippedWords(n) {
  return `Tripped ${formatNumber(n)} ${n === 1 ? 'time' : 'times'}`;
}

const modeBadge = (key) => badge(key.type === 'test' ? 'Test' : 'Live', key.type === 'test' ? 'blue' : 'violet');

/** Whether the canary was tripped, in words: a red warning once it was. */
export function tripState(key) {
  const retired = key.status !== 'active'
    ? ' It is revoked: it is still answered as an unknown key, but new uses are no longer recorded.'
    : '';
  if (!key.tripped_count) {
    return h('p.canary-quiet', icon('check'), h('span', `Not tripped: nobody has tried this key.${retired}`));
  }
  return h('div.canary-tripped',
    icon('warning'),
    h('div',
      h('p', h('strong', trippedWords(key.tripped_count)), key.tripped_count === 1 ? ', ' : ', most recently ',
        timeEl(key.last_tripped_at, relative(key.last_tripped_at))),
      h('p.canary-advice', `Someone found this key and tried it. Find out how they reached the place where it was planted, and what else they could read there.${retired}`)));
}

/** A canary's facts for its page: what it can do (nothing), its trips, expiry and creation. */
export function canaryFacts(key, creator) {
  const expires = key.expires_at
    ? h('span', timeEl(key.expires_at, formatDateTime(key.expires_at)), key.status === 'active' ? h('span.sub', relative(key.expires_at)) : null)
    : h('span.muted', 'Never');
  return h('dl.meta.detail-meta.key-facts',
    h('div', h('dt', 'Permissions'), h('dd', h('span.muted', 'None: a canary authorizes nothing'))),
    h('div', h('dt', 'Trips'), h('dd', formatNumber(key.tripped_count || 0))),
    h('div', h('dt', 'Last trip'), h('dd', lastTrip(key))),
    h('div', h('dt', 'Expires'), h('dd', expires)),
    h('div', h('dt', 'Created'), h('dd', timeEl(key.created_at, formatDateTime(key.created_at)), h('span.sub', `by ${creator(key)}`))),
    key.metadata ? h('div', h('dt', 'Metadata'), h('dd', h('pre.metadata-block', h('code', JSON.stringify(key.metadata, null, 2))))) : null);
}

function lastTrip(key) {
  return key.last_tripped_at ? timeEl(key.last_tripped_at, relative(key.last_tripped_at)) : h('span.muted', 'Never');
}

/**
 * Where to plant a canary and what it does, for the secret's dialog and the page. With
 * `webhooksLink` (admins on the page), the Webhooks page is a link.
 */
function plantingAdvice({ headingLevel, webhooksLink }) {
  const webhooks = webhooksLink
    ? h('a', { href: '#/settings/webhooks' }, 'Webhooks')
    : 'Webhooks';
  return h('div.planting',
    h(headingLevel, 'How to plant it'),
    h('p', 'Put it where only an intruder would look, and where nothing of yours will ever use it:'),
    h('ul',
      h('li', 'a ', h('code', '.env'), ' file in a honeypot repository'),
      h('li', 'a CI variable nobody uses'),
      h('li', 'an old backup or configuration file'),
      h('li', 'a password manager entry named like a production key')),
    h('p', 'It authorizes nothing. Keywarden answers it exactly as it answers a key that does not exist, so whoever tries it cannot tell it is a trap.'),
    h('p', 'Each use is recorded in the audit log — at most once a minute for each address it comes from — and sent as a “Canary key used” webhook (', h('code', 'key.canary_used'), ') to the endpoints that want it, set up under ', webhooks, '.'));
}

// ---- trips -----------------------------------------------------------------------------------

/**
 * What a `key.canary_used` event says: the address and user agent are its actor's; the request
 * is the rest of its detail ("canary <hint> presented from <address> (<agent>): GET /path").
 */
export function tripOf(event, key) {
  const address = event.actor.ip || null;
  const agent = event.actor.user_agent || null;
  const prefix = `canary ${key.hint} presented from ${address}${agent !== null ? ` (${agent})` : ''}`;
  let request = null;
  let verify = false;
  if (address && event.detail.startsWith(prefix)) {
    const rest = event.detail.slice(prefix.length);
    if (rest.startsWith(': ')) request = rest.slice(2);
    else if (rest === ' to the verify endpoint') verify = true;
  }
  return { at: event.at, address, agent, request, verify, detail: event.detail };
}

function tripRow(trip) {
  let request;
  if (trip.request) request = h('code', trip.request);
  else if (trip.verify) request = h('span', 'Checked by one of your services');
  else request = h('span', trip.detail);
  return h('tr',
    h('td', { dataset: { label: 'When' } }, timeEl(trip.at, relative(trip.at)), h('span.sub', formatDateTime(trip.at))),
    h('td', { dataset: { label: 'From' } }, trip.address ? h('code', trip.address) : h('span.muted', '—')),
    h('td.detail', { dataset: { label: 'User agent' } }, trip.agent ? trip.agent : h('span.muted', 'None sent')),
    h('td.detail', { dataset: { label: 'Request' } }, request));
}

/** Reads and shows the canary's newest trips (admins only: they come from the audit log). */
export async function showTrips(region, key) {
  if (!region.firstChild) region.replaceChildren(loading('Loading trips…'));
  let page;
  try {
    page = await api.get(`/v1/audit-events/${api.query({ action: 'key.canary_used', key: key.id, limit: TRIPS_SHOWN })}`);
  } catch (error) {
    region.replaceChildren(loadError(error, () => showTrips(region, key)));
    return;
  }
  if (!page.results.length) {
    region.replaceChildren(h('p.muted', key.tripped_count
      ? 'No trip of this canary is in the audit log.'
      : 'No trips yet. When someone tries this key, each attempt shows here.'));
    return;
  }
  const more = page.next_cursor
    ? `The ${TRIPS_SHOWN} most recent trips. The audit log has every one, as “Canary key used”.`
    : 'Every trip is also in the audit log, as “Canary key used”.';
  region.replaceChildren(
    h('div.table-wrap', h('table.data-table.trips-table',
      h('caption.sr-only', `Trips of ${key.label}, newest first`),
      h('thead', h('tr', ['When', 'From', 'User agent', 'Request'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', page.results.map((event) => tripRow(tripOf(event, key)))))),
    h('p.hint', more, ' ', h('a', { href: '#/settings/audit' }, 'Open the audit log')));
}

/** What developers see where admins see the trips. */
function adminsOnly() {
  return h('p.hint.canary-admins', icon('lock'), h('span', 'Admins see where each trip came from — the address, the program and the request — here and in the audit log.'));
}

/** A canary's page: its trips (admins) or the counts and a note (developers). */
export function canaryTripsSection(key, ctx) {
  const titleId = `trips-title-${key.id}`;
  const body = h('div.canary-trips-body');
  if (ctx.isAdmin) showTrips(body, key);
  else body.append(adminsOnly());
  return h('section.section.card', { 'aria-labelledby': titleId },
    h('div.section-head', h('div',
      h('h2', { id: titleId }, 'Trips'),
      h('p.muted', 'Each time someone presented this canary: at most one a minute for each address.'))),
    tripState(key),
    body);
}

// ---- the page --------------------------------------------------------------------------------

export async function renderCanaries(view, ctx) {
  if (!ctx.canManageKeys) {
    view.append(noAccess('You need Admin or Developer access to manage canary keys',
      `Your role in ${ctx.me.account.name} is Member. Ask an admin or a developer of your account about canary keys.`));
    return;
  }
  const page = new CanariesPage(view, ctx);
  await page.start();
}

class CanariesPage {
  constructor(view, ctx) {
    this.view = view;
    this.ctx = ctx;
    this.sequence = 0;
    this.openTrips = new Set();
    this.alertSlot = h('div.page-alert');
    this.summary = h('p.muted');
    this.listSlot = h('div.canary-slot', loading('Loading canaries…'));
  }

  async start() {
    // The canaries first (a tripped one is what matters most), then a new one and where to
    // plant it, side by side.
    this.view.append(
      pageHeader('Canary keys', 'Decoy keys that unlock nothing. Plant one where only an intruder would look: the moment someone tries it, you know, and from where.'),
      this.alertSlot,
      h('section.section', { 'aria-labelledby': 'canaries-title' },
        h('div.section-head', h('div', h('h2', { id: 'canaries-title' }, 'Your canaries'), this.summary)),
        this.listSlot),
      h('div.section.canary-new',
        this.createForm(),
        h('section.card.planting-help', { 'aria-label': 'How canaries work' },
          plantingAdvice({ headingLevel: 'h2', webhooksLink: this.ctx.isAdmin }))));
    await this.load();
  }

  // ---- the list ----------------------------------------------------------------------------

  /** Every canary of the account: the key list's canaries, page after page to the end. */
  async load() {
    const sequence = ++this.sequence;
    this.listSlot.setAttribute('aria-busy', 'true');
    const canaries = [];
    try {
      let cursor = null;
      do {
        const page = await api.get(`/v1/api-keys/${api.query({ kind: 'restricted', canary: 'true', limit: KEYS_PAGE, cursor })}`);
        canaries.push(...page.results);
        // A cursor that does not move would never end.
        cursor = page.next_cursor && page.next_cursor !== cursor ? page.next_cursor : null;
      } while (cursor);
    } catch (error) {
      if (sequence === this.sequence) this.listSlot.replaceChildren(loadError(error, () => this.load()));
      return;
    } finally {
      if (sequence === this.sequence) this.listSlot.removeAttribute('aria-busy');
    }
    if (sequence !== this.sequence) return;
    this.render(canaries);
  }

  render(canaries) {
    const tripped = canaries.filter((key) => key.tripped_count > 0).length;
    const count = `${formatNumber(canaries.length)} ${canaries.length === 1 ? 'canary' : 'canaries'}`;
    this.summary.textContent = canaries.length
      ? `${count}, ${tripped ? `${formatNumber(tripped)} tripped` : 'none tripped'}.`
      : 'Canaries you create are listed here with every time they were tripped.';
    if (!canaries.length) {
      this.listSlot.replaceChildren(emptyState('No canaries yet', 'Create one below, then plant it where only an intruder would look.'));
      return;
    }
    // Tripped canaries first, the latest trip on top; the rest newest first, as listed.
    const order = (key) => (key.last_tripped_at ? -new Date(key.last_tripped_at).getTime() : 0);
    const sorted = [...canaries].sort((a, b) => order(a) - order(b));
    const cards = sorted.map((key) => this.card(key));
    this.listSlot.replaceChildren(h('ul.canary-list', cards.map((card) => h('li', card.root))));
    for (const card of cards) {
      if (this.openTrips.has(card.key.id)) this.toggleTrips(card, true);
    }
  }

  card(key) {
    const titleId = `canary-${key.id}-title`;
    const card = { key, toggle: null, region: null, root: null };
    const actions = [];
    if (this.ctx.isAdmin) {
      const tripsId = `canary-${key.id}-trips`;
      card.toggle = h('button.btn.ghost.small', {
        type: 'button', 'aria-expanded': 'false', 'aria-controls': tripsId, 'aria-describedby': titleId,
        dataset: { focusId: `trips-${key.id}` },
      }, icon('list'), 'Recent trips');
      card.toggle.addEventListener('click', () => this.toggleTrips(card, card.toggle.getAttribute('aria-expanded') !== 'true'));
      card.region = h('section.canary-trips', { id: tripsId, hidden: true, 'aria-label': `Recent trips of ${key.label}` });
      actions.push(card.toggle);
    }
    actions.push(h('span.spacer'),
      h('a.btn.ghost.small', { href: keyPageHash(key), 'aria-label': `Details of ${key.label}` }, 'Details'));
    if (key.status === 'active') {
      actions.push(h('button.btn.ghost-danger.small', {
        type: 'button', 'aria-label': `Revoke ${key.label}`, dataset: { focusId: `revoke-${key.id}` },
        onclick: () => this.revoke(key),
      }, 'Revoke'));
    }
    card.root = h(`article.canary-card${key.tripped_count ? '.tripped' : ''}`, { 'aria-labelledby': titleId, dataset: { keyId: key.id } },
      h('div.canary-head',
        h('div.canary-title',
          h('h3', { id: titleId }, key.label),
          h('div.key-sub', h('code', key.hint), modeBadge(key))),
        h('span.canary-state', h('span.sr-only', 'Status: '), statusBadge(key.status))),
      tripState(key),
      h('dl.meta.wide',
        h('div', h('dt', 'Trips'), h('dd', formatNumber(key.tripped_count || 0))),
        h('div', h('dt', 'Last trip'), h('dd', lastTrip(key))),
        h('div', h('dt', 'Created'), h('dd', timeEl(key.created_at), h('span.sub', `by ${creatorName(key, this.ctx.me.user)}`)))),
      this.ctx.isAdmin ? null : adminsOnly(),
      h('div.canary-actions', actions),
      card.region);
    return card;
  }

  toggleTrips(card, open) {
    if (!card.toggle) return;
    card.toggle.setAttribute('aria-expanded', String(open));
    card.region.hidden = !open;
    if (open) {
      this.openTrips.add(card.key.id);
      showTrips(card.region, card.key);
    } else {
      this.openTrips.delete(card.key.id);
    }
  }

  // ---- actions -------------------------------------------------------------------------------

  showError(error) {
    this.alertSlot.replaceChildren(error.code === 'two_factor_required' ? twoFactorFirst() : alertBox(error.message));
    this.alertSlot.scrollIntoView({ block: 'nearest' });
  }

  async revoke(key) {
    this.alertSlot.replaceChildren();
    if (!(await confirmRevoke(key))) return;
    const button = document.activeElement;
    try {
      await api.del(`/v1/api-keys/${encodeURIComponent(key.id)}/`);
    } catch (error) {
      this.showError(error);
      return;
    }
    toast(`“${key.label}” revoked`);
    await this.load();
    if (!document.contains(button)) restoreFocus(button);
  }

  createForm() {
    const label = h('input', { type: 'text', name: 'label', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. Payments-Prod-Backup-2023' });
    const modeTest = h('input', { type: 'radio', name: 'canary-mode', value: 'test', id: 'canary-mode-test' });
    const modeLive = h('input', { type: 'radio', name: 'canary-mode', value: 'live', id: 'canary-mode-live', checked: true });
    const submit = h('button.btn.primary', { type: 'submit' }, icon('plus'), 'Create canary');
    const form = h('form.form.card.canary-form', { novalidate: true, 'aria-labelledby': 'create-canary-title' },
      h('h2', { id: 'create-canary-title' }, 'Create a canary'),
      h('div.form-alert', { hidden: true }),
      field({
        label: 'Label', input: label, name: 'label', max: LABEL_MAX,
        hint: 'Only you see it. Name it after where you will plant it, so a trip tells you which place was reached.',
      }),
      h('fieldset.field', { dataset: { field: 'type' } },
        h('legend', 'Mode'),
        h('div.segmented',
          h('label.segment', { for: modeTest.id }, modeTest, h('span', 'Test')),
          h('label.segment', { for: modeLive.id }, modeLive, h('span', 'Live'))),
        h('p.hint', 'A live key looks more worth trying to an intruder.'),
        h('p.field-error', { hidden: true })),
      h('div.form-actions', submit));

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearFormErrors(form);
      this.alertSlot.replaceChildren();
      const text = label.value.trim();
      if (!text) {
        showFormError(form, { field: 'label', message: 'Give the canary a label, e.g. the place where you will plant it.' });
        return;
      }
      const length = characters(text);
      if (length > LABEL_MAX) {
        showFormError(form, { field: 'label', message: `The label has ${length} characters: shorten it to ${LABEL_MAX} or fewer.` });
        return;
      }
      const { user, account } = this.ctx.me;
      if (account.require_2fa_for_keys && !user.two_factor_enabled) {
        this.showError({ code: 'two_factor_required' });
        return;
      }
      const issued = await busy(submit, 'Creating…', async () => {
        try {
          return await api.post('/v1/api-keys/', { label: text, type: modeLive.checked ? 'live' : 'test', canary: true });
        } catch (error) {
          if (error.code === 'two_factor_required') this.showError(error);
          else showFormError(form, error, { type: 'type' });
          return null;
        }
      });
      if (!issued) return;
      const secret = issued.key;
      issued.key = null;
      label.value = '';
      label.dispatchEvent(new Event('input'));
      // The dialog gives focus back here when it closes: ready for the next canary.
      label.focus();
      showSecret({
        title: 'Your new canary key',
        secret,
        summary: `“${issued.label}” is ready. Copy it now, then plant it.`,
        mode: issued.type,
        words: SECRET_WORDS,
        extra: plantingAdvice({ headingLevel: 'h3', webhooksLink: false }),
      });
      toast(`Canary “${issued.label}” created`);
      await this.load();
    });
    return form;
  }
}
