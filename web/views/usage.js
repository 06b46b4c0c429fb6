// Usage (admins and developers): the account's requests over 24 hours, 7 days or 30 days,
// allowed and refused, and its keys ranked by traffic or by refusals, each leading to its page.

import { h, noAccess, pageHeaderIn, badge, statusBadge, formatNumber, nextId, emptyState } from '../ui.js';
import * as api from '../api.js';
import { usageSection, usageParts, segmentedChoice, count, rangeQuery } from './usage-chart.js';
import { keyPageHash } from './keys.js';

const RANKINGS = [
  ['requests', 'Most requests'],
  ['refused', 'Most refusals'],
];

export async function renderUsage(view, ctx) {
  if (!ctx.canManageKeys) {
    view.append(noAccess('You need Admin or Developer access to see usage',
      `Your role in ${ctx.me.account.name} is Member. Usage tells which keys are used and from where, so only admins and developers see it.`));
    return;
  }
  const products = await api.get('/v1/products/').then((body) => body.products).catch(() => []);
  const names = new Map(products.map((p) => [p.id, p.name]));
  view.append(
    pageHeaderIn('Account', 'Usage', `Every request verified with the keys of ${ctx.me.account.name}: allowed, and refused with the reason.`),
    usageSection({
      title: 'Requests',
      path: '/v1/usage/',
      extra: (usage, range) => [keyRanking(usage.keys || [], range), usageParts(usage, names, range)],
    }));
}

/** The keys with traffic in the period, by requests or by refusals, with a switch. */
function keyRanking(keys, range) {
  const titleId = nextId('ranking-title');
  const slot = h('div.ranking-slot');
  // By refusals, the server ranks every key of the account (the report itself holds the top
  // 100 by requests, which may leave out a key that is mostly refused).
  const show = async (by) => {
    let ranked = keys;
    if (by === 'refused') {
      try {
        ranked = (await api.get(`/v1/usage/${api.query({ ...rangeQuery(range), order: 'refused' })}`)).keys || [];
      } catch {
        ranked = keys;
      }
    }
    slot.replaceChildren(rankingTable(ranked, by, range));
  };
  const section = h('section.usage-part.key-ranking', { 'aria-labelledby': titleId },
    h('div.ranking-head',
      h('h3', { id: titleId }, 'Keys'),
      segmentedChoice({ legend: 'Rank keys by', options: RANKINGS, value: 'requests', onChange: show })),
    slot);
  show('requests');
  return section;
}

function rankingTable(keys, by, range) {
  const rows = by === 'refused'
    ? keys.filter((k) => k.refused > 0).sort((a, b) => b.refused - a.refused || b.requests - a.requests)
    : keys;
  if (!rows.length) {
    return emptyState(by === 'refused' ? `No refusals in ${range.words}` : `No key was used in ${range.words}`,
      by === 'refused' ? 'Every request with a known key was allowed.' : null);
  }
  const caption = by === 'refused' ? `Keys by refused requests, ${range.words}` : `Keys by requests, ${range.words}`;
  return h('div.table-wrap', h('table.data-table.ranking-table', { dataset: { ranking: by } },
    h('caption.sr-only', caption),
    h('thead', h('tr', ['Key', 'Requests', 'Allowed', 'Refused', 'Refused share'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', rows.map((key) => h('tr', { dataset: { keyId: key.id } },
      h('td', { dataset: { label: 'Key' } }, h('div.key-name',
        h('a.key-label', { href: keyPageHash(key) }, key.label),
        h('span.key-sub', h('code', key.hint),
          modeBadge(key.mode || key.type),
          key.status !== 'active' ? statusBadge(key.status) : null))),
      h('td.number', { dataset: { label: 'Requests' } }, formatNumber(key.requests)),
      h('td.number', { dataset: { label: 'Allowed' } }, formatNumber(key.allowed)),
      h('td.number', { dataset: { label: 'Refused' } }, formatNumber(key.refused)),
      h('td.number', { dataset: { label: 'Refused share' }, title: count(key.refused, 'refusal', 'refusals') }, share(key.refused, key.requests)))))));
}

const modeBadge = (mode) => badge(mode === 'live' ? 'Live' : 'Test', mode === 'live' ? 'violet' : 'blue');

const PERCENT = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1 });
const share = (part, whole) => (whole ? PERCENT.format(part / whole) : '—');
