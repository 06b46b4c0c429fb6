// One key's page (#/keys/<id>), reached from the key list: what the key is, how it has been
// used (the chart, its addresses and products), the permissions it needs going by that use,
// "Test a request", its limits and metadata, and revoking it. A canary's page shows its trips
// instead: a canary authorizes nothing, so it has no use, permissions or limits to show.

import * as api from '../api.js';
import {
  h, icon, toast, confirmDialog, alertBox, statusBadge, badge, noAccess, restoreFocus, busy,
} from '../ui.js';
import { keyTitle, keyFacts, limitsSection, openKeyEdit } from './key-detail.js';
import { policyBadges } from './key-policy.js';
import { confirmRevoke } from './key-revoke.js';
import { explainPanel } from './explain.js';
import { leakBanner } from './leaks.js';
import { usageSection, usageParts, count } from './usage-chart.js';
import { scopeChips, creatorName, twoFactorFirst, inHandOver, expiresSoonBadge } from './keys.js';
import { canaryFacts, canaryTripsSection } from './canaries.js';

export async function renderKeyPage(view, ctx, { id }) {
  if (!ctx.canManageKeys) {
    view.append(noAccess('You need Admin or Developer access to see API keys',
      `Your role in ${ctx.me.account.name} is Member. Members cannot view or manage API keys.`));
    return;
  }
  const page = new KeyPage(view, ctx, id);
  await page.start();
}

class KeyPage {
  constructor(view, ctx, id) {
    this.view = view;
    this.ctx = ctx;
    this.id = id;
    this.path = `/v1/api-keys/${encodeURIComponent(id)}/`;
    this.products = [];
    this.names = new Map();
    this.alertSlot = h('div.page-alert');
  }

  async start() {
    const [key, products] = await Promise.all([
      api.get(this.path).catch((error) => {
        if (error.status === 404) return null;
        throw error;
      }),
      api.get('/v1/products/').then((body) => body.products).catch(() => []),
    ]);
    this.products = products;
    this.names = new Map(products.map((p) => [p.id, p.name]));
    if (!key) {
      this.notFound();
      return;
    }
    this.render(key);
  }

  notFound() {
    document.title = 'Key not found · Keywarden';
    this.view.replaceChildren(
      breadcrumb(null),
      h('h1', { id: 'page-title', tabindex: '-1' }, 'Key not found'),
      h('p.lead', 'There is no key with this address in your account. It may have been mistyped, or belong to another account.'),
      h('p.section', h('a.btn.secondary', { href: '#/settings/api' }, 'Back to API & Developers')));
  }

  render(key) {
    this.key = key;
    const title = keyTitle(key);
    document.title = `${title} · Keywarden`;
    this.alertSlot.replaceChildren();
    if (key.canary) {
      this.view.replaceChildren(
        this.header(key),
        leakBanner(key),
        this.alertSlot,
        h('section.section.card.facts-section', { 'aria-label': 'About this canary' },
          canaryFacts(key, (k) => creatorName(k, this.ctx.me.user))),
        canaryTripsSection(key, this.ctx));
      return;
    }
    this.view.replaceChildren(
      this.header(key),
      leakBanner(key),
      this.alertSlot,
      h('section.section.card.facts-section', { 'aria-label': 'About this key' }, keyFacts(key, {
        scopes: (k) => scopeChips(k, this.products),
        creator: (k) => creatorName(k, this.ctx.me.user),
      })),
      usageSection({
        title: 'Usage',
        lead: 'Requests verified with this key: allowed, and refused with the reason.',
        path: `${this.path}usage/`,
        extra: (usage, range) => usageParts(usage, this.names, range),
      }),
      this.scopesSection(key),
      explainPanel({ keyId: key.id, examplePath: examplePath(key, this.products) }),
      limitsSection(key, () => this.editLimits()));
  }

  /** Reads the key again and redraws the page, keeping focus on `focusId`'s successor. */
  async reload(focusId) {
    let key;
    try {
      key = await api.get(this.path);
    } catch (error) {
      this.showError(error);
      return;
    }
    this.render(key);
    const target = focusId ? this.view.querySelector(`[data-focus-id="${CSS.escape(focusId)}"]`) : null;
    restoreFocus(target);
  }

  header(key) {
    const actions = [];
    const revocable = key.kind === 'restricted' && !inHandOver(key) && ['active', 'expired', 'rotated'].includes(key.status);
    if (revocable) {
      const revoke = h('button.btn.secondary.danger-outline', { type: 'button', dataset: { focusId: `revoke-${key.id}` } }, key.canary ? 'Revoke canary' : 'Revoke key');
      revoke.addEventListener('click', () => this.revoke());
      actions.push(revoke);
    }
    return h('header.page-header.key-header',
      h('div.key-header-main',
        breadcrumb(key),
        h('h1', { id: 'page-title', tabindex: '-1' }, keyTitle(key)),
        h('div.key-header-sub',
          h('code.key-header-hint', key.hint),
          h('div.badges',
            statusBadge(key.status),
            badge(key.type === 'test' ? 'Test' : 'Live', key.type === 'test' ? 'blue' : 'violet'),
            // A canary says so with its own badge (among the policy badges).
            key.canary ? null : badge(key.kind === 'standard' ? 'Standard' : 'Restricted', 'gray'),
            key.rotation_due && key.status === 'active' ? badge('Rotation due', 'amber') : null,
            inHandOver(key) ? badge('Hand-over', 'blue') : null,
            expiresSoonBadge(key),
            policyBadges(key)))),
      actions.length ? h('div.page-actions', actions) : null);
  }

  showError(error) {
    if (error.code === 'two_factor_required') this.alertSlot.replaceChildren(twoFactorFirst());
    else this.alertSlot.replaceChildren(alertBox(error.message));
    this.alertSlot.scrollIntoView({ block: 'nearest' });
  }

  /** The account requires 2FA for key changes and this person has none: says so first. */
  blockedByPolicy() {
    const { user, account } = this.ctx.me;
    if (!account.require_2fa_for_keys || user.two_factor_enabled) return false;
    this.showError({ code: 'two_factor_required' });
    const link = this.alertSlot.querySelector('a');
    if (link) link.focus();
    return true;
  }

  editLimits() {
    this.alertSlot.replaceChildren();
    if (this.blockedByPolicy()) return;
    openKeyEdit(this.key, {
      me: this.ctx.me.user,
      twoFactorFirst,
      changed: () => this.reload(`edit-limits-${this.key.id}`),
    });
  }

  async revoke() {
    const key = this.key;
    this.alertSlot.replaceChildren();
    if (this.blockedByPolicy()) return;
    if (!(await confirmRevoke(key, this.names))) return;
    try {
      await api.del(this.path);
    } catch (error) {
      this.showError(error);
      return;
    }
    toast(`“${key.label}” revoked`);
    await this.reload();
  }

  // ---- the permissions the key needs --------------------------------------------------

  scopesSection(key) {
    const titleId = `narrow-title-${key.id}`;
    const body = h('div.narrow-body');
    const section = h('section.section.card.narrow-section', { 'aria-labelledby': titleId },
      h('div.section-head', h('div',
        h('h2', { id: titleId }, 'Permissions it needs'),
        h('p.muted', 'Going by the requests it made in the last 30 days.'))),
      body);
    if (key.kind === 'standard') {
      body.append(h('p', 'A standard key reaches every product; its permissions cannot be narrowed. Give each integration a restricted key with only what it needs.'));
      return section;
    }
    const load = async () => {
      body.replaceChildren(h('p.muted', 'Reading the last 30 days of use…'));
      let suggestion;
      try {
        suggestion = await api.get(`${this.path}suggested-scopes/`);
      } catch (error) {
        body.replaceChildren(alertBox(error.message, 'error', h('div.alert-actions',
          h('button.btn.secondary.small', { type: 'button', onclick: load }, icon('refresh'), 'Retry'))));
        return;
      }
      body.replaceChildren(...this.suggestion(key, suggestion));
    };
    load();
    return section;
  }

  suggestion(key, s) {
    const held = s.held || [];
    const used = s.used || [];
    const suggested = s.suggested || [];
    if (!s.requests) {
      return [h('p', 'This key made no successful request in the last 30 days, so there is no use to go by. If nothing needs it any more, revoke it.')];
    }
    if (!s.can_narrow) {
      return [h('p.narrow-fine', icon('check'), h('span', `It holds `, scopeList(strongest(held)), ` and used `, scopeList(used),
        ` (${count(s.requests, 'request', 'requests')}): nothing to take away.`))];
    }
    const dropped = held.filter((scope) => !suggested.includes(scope));
    const narrow = h('button.btn.primary', { type: 'button', dataset: { focusId: `narrow-${key.id}` } }, `Narrow to ${suggested.join(', ')}`);
    narrow.addEventListener('click', () => this.narrow(key, suggested, dropped, narrow));
    return [
      h('p.narrow-finding', icon('shield'), h('span', 'This key holds ', scopeList(strongest(held)), ' but only used ', scopeList(used),
        ` in the last 30 days (${count(s.requests, 'request', 'requests')}).`)),
      h('p.muted', 'Narrowing keeps everything it did working. A request that needs ', scopeList(dropped, 'disjunction'), ' is refused with 403 from then on.'),
      key.status === 'active'
        ? h('div.form-buttons.start', narrow)
        : h('p.hint', 'The key is no longer active, so its permissions can no longer be changed.'),
    ];
  }

  async narrow(key, suggested, dropped, button) {
    this.alertSlot.replaceChildren();
    if (this.blockedByPolicy()) return;
    const yes = await confirmDialog({
      title: `Narrow “${key.label}” to ${suggested.join(', ')}?`,
      message: `The key keeps ${suggested.join(', ')} and loses ${dropped.join(', ')}. Requests that need what it loses are refused with 403 from now on.`,
      confirmLabel: 'Narrow permissions',
      tone: 'primary',
    });
    if (!yes) return;
    await busy(button, 'Narrowing…', async () => {
      try {
        await api.patch(this.path, { scopes: suggested });
      } catch (error) {
        this.showError(error);
        return;
      }
      toast(`“${key.label}” now holds ${suggested.join(', ')}`);
      await this.reload();
    });
  }
}

/** The way back: to the canaries for a canary, else to the key list. */
function breadcrumb(key) {
  const [href, text] = key && key.canary ? ['#/settings/canaries', 'Canary keys'] : ['#/settings/api', 'API & Developers'];
  return h('nav.breadcrumb', { 'aria-label': 'Breadcrumb' },
    h('a', { href }, text),
    h('span.breadcrumb-sep', { 'aria-hidden': 'true' }, '/'));
}

/** Scopes without the reads that a write of the same product implies (write includes read). */
function strongest(scopes) {
  return scopes.filter((scope) => !(scope.endsWith(':read') && scopes.includes(`${scope.slice(0, -5)}:write`)));
}

/** Scopes as code, joined the way the person's language joins a list ("a, b and c", "a or b"). */
function scopeList(scopes, type = 'conjunction') {
  if (!scopes.length) return h('span', 'nothing');
  const parts = new Intl.ListFormat(undefined, { type }).formatToParts(scopes.map((_, i) => `\u0000${i}`));
  return h('span.scope-list', parts.map((part) => (part.type === 'element'
    ? h('code', scopes[Number(part.value.slice(1))])
    : part.value)));
}

/** A path the key could call, to start "Test a request" with: its first product's. */
function examplePath(key, products) {
  const product = key.kind === 'restricted' && key.scopes.length
    ? key.scopes[0].split(':')[0]
    : (products[0] && products[0].id);
  return product ? `/v1/${product}/` : '/';
}
