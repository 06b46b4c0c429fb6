// The revoke confirmation, from the key list and from a key's page: before the person
// confirms, it says what the revocation would break (GET /v1/api-keys/{id}/impact/): how
// often and from where the key was used lately, and which products it reached (for a canary,
// which authorizes nothing, only what revoking it changes).

import * as api from '../api.js';
import { h, icon, confirmDialog, formatNumber, formatDateTime, relative, timeEl, loading } from '../ui.js';
import { count, addressName } from './usage-chart.js';

/**
 * Asks whether to revoke `key`; resolves to true when confirmed. `names` maps product ids to
 * their names. The dialog opens at once and the impact fills in when it arrives; if it cannot
 * be read the key can still be revoked (a leaked key must never wait for a report).
 */
export function confirmRevoke(key, names = new Map()) {
  // A canary was never used for anything: there is nothing it could break.
  if (key.canary) {
    return confirmDialog({
      title: `Revoke “${key.label}”?`,
      message: 'Revoking is immediate and cannot be undone. The canary is still answered as an unknown key, but new uses of it are no longer recorded. Revoke it when you take it out of the place where it was planted.',
      details: [h('span.muted', 'Canary '), h('code', key.hint)],
      confirmLabel: 'Revoke canary',
    });
  }
  const impact = h('div.impact', { 'aria-live': 'polite' }, loading('Checking how this key is used…'));
  api.get(`/v1/api-keys/${encodeURIComponent(key.id)}/impact/`)
    .then((answer) => impact.replaceChildren(...impactParts(answer, names)))
    .catch((error) => impact.replaceChildren(h('p.impact-unknown', icon('warning'),
      h('span', `How this key was used lately could not be read: ${error.message} You can still revoke it.`))));
  return confirmDialog({
    title: `Revoke “${key.label}”?`,
    message: 'Revoking is immediate and cannot be undone: every request that uses this key is refused from now on. The key stays listed as Revoked for the audit trail.',
    details: [h('span.muted', 'Key '), h('code', key.hint)],
    confirmLabel: 'Revoke key',
    extra: impact,
  });
}

/** "Used 1,204 times in the last 24 hours from 3 addresses; last at … from …." */
export function impactSentence(answer) {
  const day = answer.requests_last_24_hours || 0;
  const week = answer.requests_last_7_days || 0;
  const times = (n) => (n === 1 ? 'once' : `${formatNumber(n)} times`);
  const last = answer.last_used_at
    ? `last at ${formatDateTime(answer.last_used_at)}${answer.last_used_ip ? ` from ${answer.last_used_ip}` : ''}`
    : null;
  if (day > 0) {
    const from = answer.addresses_last_24_hours ? ` from ${count(answer.addresses_last_24_hours, 'address', 'addresses')}` : '';
    return `Used ${times(day)} in the last 24 hours${from}${last ? `; ${last}` : ''}.`;
  }
  if (week > 0) return `Not used in the last 24 hours, but ${times(week)} in the last 7 days${last ? `; ${last}` : ''}.`;
  return 'Not used in the last 7 days.';
}

function impactParts(answer, names) {
  const week = answer.requests_last_7_days || 0;
  const products = (answer.products || []).map((id) => (id === '*' ? 'every product' : names.get(id) || id));
  const addresses = answer.addresses || [];
  const parts = [h(`p.impact-summary${week ? '.in-use' : ''}`, icon(week ? 'warning' : 'check'), h('span', impactSentence(answer)))];
  if (products.length) {
    parts.push(h('p.impact-products', h('span.muted', 'Products it reached in the last 7 days: '),
      new Intl.ListFormat(undefined, { type: 'conjunction' }).format(products), '.'));
  }
  if (addresses.length) {
    parts.push(h('div.impact-addresses',
      h('p.muted', 'Addresses that would be refused (last 7 days):'),
      h('ul.impact-list', addresses.map((a) => h('li',
        addressName(a.address),
        h('span', ` · ${count(a.requests, 'request', 'requests')} · last seen `, timeEl(a.last_seen, relative(a.last_seen))))))));
  } else if (!week && answer.last_used_at) {
    parts.push(h('p.muted', 'Last used ', timeEl(answer.last_used_at, relative(answer.last_used_at)),
      answer.last_used_ip ? ` from ${answer.last_used_ip}` : '', '.'));
  }
  return parts;
}
