// Settings → Audit log (admins): who did what to which key, when and from where; filters by
// action, key and time, and pages through `next_cursor`.

import * as api from '../api.js';
import { h, pageHeader, loading, badge, timeEl, formatDateTime, relative, emptyState, field, showFormError, clearFormErrors, loadError } from '../ui.js';

const ACTIONS = [
  ['key.created', 'Key created'],
  ['key.rotated', 'Key rotated'],
  ['key.revoked', 'Key revoked'],
  ['key.updated', 'Key updated'],
  ['key.leaked', 'Key leaked'],
  ['key.canary_used', 'Canary key used'],
  ['auth.sign_in', 'Signed in'],
  ['auth.sign_in_failed', 'Sign-in failed'],
  ['2fa.setup_started', '2FA setup started'],
  ['2fa.enabled', '2FA enabled'],
  ['2fa.recovery_code_used', 'Recovery code used'],
  ['2fa.recovery_codes_regenerated', 'Recovery codes replaced'],
  ['2fa.disabled', '2FA disabled'],
  ['user.created', 'Member added'],
  ['user.role_changed', 'Role changed'],
  ['user.removed', 'Member removed'],
  ['account.created', 'Account created'],
  ['account.updated', 'Policy changed'],
  ['webhook.endpoint_added', 'Webhook added'],
  ['webhook.endpoint_updated', 'Webhook changed'],
  ['webhook.endpoint_removed', 'Webhook removed'],
  ['webhook.secret_rotated', 'Webhook secret rotated'],
  ['webhook.test_sent', 'Webhook test sent'],
  ['webhook.delivery_retried', 'Webhook delivery retried'],
];
const ACTION_NAMES = Object.fromEntries(ACTIONS);
const TONES = {
  'key.revoked': 'red', 'key.leaked': 'red', 'key.canary_used': 'red', 'auth.sign_in_failed': 'red', 'user.removed': 'red', 'key.rotated': 'amber', 'key.created': 'green', '2fa.enabled': 'green', '2fa.disabled': 'amber',
  'webhook.endpoint_removed': 'red', 'webhook.secret_rotated': 'amber', 'webhook.endpoint_added': 'green',
};
const PAGE_SIZE = 25;

export async function renderAudit(view) {
  const action = h('select', { name: 'action' }, h('option', { value: '' }, 'All actions'), ACTIONS.map(([id, name]) => h('option', { value: id }, name)));
  const key = h('input', { type: 'text', name: 'key', placeholder: 'Key id', autocomplete: 'off', spellcheck: 'false' });
  const since = h('input', { type: 'date', name: 'since' });
  const until = h('input', { type: 'date', name: 'until' });
  const apply = h('button.btn.secondary', { type: 'submit' }, 'Apply filters');
  const reset = h('button.btn.ghost', { type: 'reset' }, 'Reset');
  const filters = h('form.form.filters', { novalidate: true, 'aria-label': 'Filter events' },
    h('div.form-alert', { hidden: true }),
    h('div.filter-grid',
      field({ label: 'Action', input: action, name: 'action' }),
      field({ label: 'Key id', input: key, name: 'key' }),
      field({ label: 'From', input: since, name: 'since' }),
      field({ label: 'Until', input: until, name: 'until' }),
      h('div.filter-buttons', reset, apply)));
  const results = h('div.audit-results', loading('Loading events…'));
  const pager = h('nav.pager', { 'aria-label': 'Pages of events' });
  view.append(
    pageHeader('Audit log', 'Every change to keys, members and policy, and every sign-in: who, what, when and from where. Secrets never appear here.'),
    h('section.section.card', filters),
    h('section.section', { 'aria-label': 'Events' }, results, pager));

  let cursors = [null];
  let index = 0;
  let sequence = 0;

  const params = () => ({
    action: action.value,
    key: key.value.trim(),
    since: since.value ? new Date(`${since.value}T00:00:00`).toISOString() : '',
    until: until.value ? new Date(`${until.value}T23:59:59.999`).toISOString() : '',
  });

  const load = async () => {
    const mine = ++sequence;
    results.setAttribute('aria-busy', 'true');
    let page;
    try {
      page = await api.get(`/v1/audit-events/${api.query({ ...params(), limit: PAGE_SIZE, cursor: cursors[index] })}`);
    } catch (error) {
      if (mine !== sequence) return;
      results.removeAttribute('aria-busy');
      if (error.field) showFormError(filters, error);
      else results.replaceChildren(loadError(error, load));
      return;
    }
    if (mine !== sequence) return;
    await labelKeys(page.results);
    if (mine !== sequence) return;
    results.removeAttribute('aria-busy');
    cursors[index + 1] = page.next_cursor;
    render(page.results);
    renderPager(page.next_cursor);
  };

  // Events name keys by id; show their labels (looked up once per key).
  const labels = new Map();
  const labelKeys = async (events) => {
    const missing = [...new Set(events.map((e) => e.key_id).filter((id) => id && !labels.has(id)))];
    await Promise.all(missing.map(async (id) => {
      try {
        const key = await api.get(`/v1/api-keys/${encodeURIComponent(id)}/`);
        labels.set(id, key.kind === 'standard' ? `${key.type === 'live' ? 'Live' : 'Test'} standard key` : key.label);
      } catch {
        labels.set(id, null);
      }
    }));
  };

  const render = (events) => {
    if (!events.length) {
      results.replaceChildren(emptyState('No events match', 'Change the filters to see more.'));
      return;
    }
    results.replaceChildren(h('div.table-wrap', h('table.data-table.audit-table',
      h('caption.sr-only', 'Audit events, newest first'),
      h('thead', h('tr', ['When', 'Action', 'Who', 'Key', 'Details'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', events.map((e) => h('tr',
        h('td', { dataset: { label: 'When' } }, timeEl(e.at, formatDateTime(e.at)), h('span.sub', relative(e.at))),
        h('td', { dataset: { label: 'Action' } }, badge(ACTION_NAMES[e.action] || e.action, TONES[e.action] || 'gray'), h('span.sub.mono', e.action)),
        h('td', { dataset: { label: 'Who' } }, h('span', e.actor.label), e.actor.ip ? h('span.sub.mono', e.actor.ip) : null),
        h('td', { dataset: { label: 'Key' } }, e.key_id
          ? h('span.key-ref', labels.get(e.key_id) ? h('span.key-ref-label', labels.get(e.key_id)) : null,
            h('button.link-button.mono.small-text', {
              type: 'button', title: `Show only the events of key ${e.key_id}`,
              'aria-label': `Show only the events of ${labels.get(e.key_id) || 'key'} …${e.key_id.slice(-8)}`,
              onclick: () => { key.value = e.key_id; filters.requestSubmit(); },
            }, `…${e.key_id.slice(-8)}`))
          : h('span.muted', '—')),
        h('td.detail', { dataset: { label: 'Details' } }, e.detail)))))));
  };

  const renderPager = (next) => {
    if (index === 0 && !next) {
      pager.replaceChildren();
      return;
    }
    const previous = h('button.btn.secondary.small', { type: 'button', disabled: index === 0, onclick: () => { index -= 1; load(); } }, '← Newer');
    const older = h('button.btn.secondary.small', { type: 'button', disabled: !next, onclick: () => { index += 1; load(); } }, 'Older →');
    pager.replaceChildren(previous, h('span.pager-label', `Page ${index + 1}`), older);
  };

  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    clearFormErrors(filters);
    cursors = [null];
    index = 0;
    load();
  });
  filters.addEventListener('reset', () => {
    setTimeout(() => {
      clearFormErrors(filters);
      cursors = [null];
      index = 0;
      load();
    }, 0);
  });
  action.addEventListener('change', () => filters.requestSubmit());
  await load();
}
