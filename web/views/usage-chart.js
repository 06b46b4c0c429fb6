// Usage (SPEC §10) as the console shows it, for one key or the whole account: the period
// switch, the stacked chart of allowed and refused requests (inline SVG built here with DOM
// calls, no library), its text alternatives (a summary sentence and a table of the numbers),
// and the tables of client addresses and products.

import * as api from '../api.js';
import { h, nextId, formatNumber, timeEl, relative, emptyState, loading, loadError, fill } from '../ui.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const SVG = 'http://www.w3.org/2000/svg';

/** The periods a person can pick: hourly bars for a day, daily bars for a week or a month. */
export const RANGES = [
  { id: '24h', label: '24 hours', words: 'the last 24 hours', granularity: 'hour' },
  { id: '7d', label: '7 days', words: 'the last 7 days', granularity: 'day', days: 7 },
  { id: '30d', label: '30 days', words: 'the last 30 days', granularity: 'day', days: 30 },
];

/** How the refusal codes read in a sentence. */
const REFUSALS = {
  key_revoked: 'key revoked',
  key_rotated: 'key rotated',
  key_expired: 'key expired',
  insufficient_scope: 'missing permission',
  ip_not_allowed: 'address not allowed',
  key_rate_limited: 'over the rate limit',
  usage_limit_exceeded: 'over the usage limit',
};

export const refusalWords = (code) => REFUSALS[code] || code.replaceAll('_', ' ');

/** "1 request", "1,204 requests". */
export const count = (n, one, many) => `${formatNumber(n)} ${n === 1 ? one : many}`;

/** The sum of a `denied` object ({"insufficient_scope": 1, …}). */
export function refusedOf(denied) {
  return Object.values(denied || {}).reduce((sum, n) => sum + n, 0);
}

/**
 * The query of a period. Hourly: the API's default (the 24 hours up to the end of this hour).
 * Daily: whole UTC days, today included, so the last bar is today's.
 */
export function rangeQuery(range, now = new Date()) {
  if (range.granularity === 'hour') return { granularity: 'hour' };
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return { granularity: 'day', from: rfc3339(today - (range.days - 1) * DAY) };
}

const rfc3339 = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

// Hours are shown in the person's time zone; days are UTC days, as the API counts them, so a
// day is labelled with its UTC date (in the evening west of Greenwich it is still "today").
const HOUR_LABEL = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const HOUR_FULL = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
const DAY_LABEL = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
const DAY_FULL = new Intl.DateTimeFormat(undefined, { weekday: 'short', month: 'short', day: 'numeric', timeZone: 'UTC' });
const COMPACT = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });

/** The bucket's name in full: "Dec 5, 08:00 – 09:00" or "Sat, Dec 5". */
function bucketName(start, granularity) {
  const at = new Date(start);
  if (granularity === 'day') return DAY_FULL.format(at);
  return `${HOUR_FULL.format(at)} – ${HOUR_LABEL.format(new Date(at.getTime() + HOUR))}`;
}

/**
 * A group of radio buttons drawn as a segmented switch. `options` are [value, label];
 * `onChange(value)` runs when another is picked.
 */
export function segmentedChoice({ legend, options, value, onChange, className = '' }) {
  const name = nextId('choice');
  const inputs = options.map(([v, label]) => {
    const input = h('input', { type: 'radio', name, value: v, id: `${name}-${v}`, checked: v === value });
    input.addEventListener('change', () => { if (input.checked) onChange(v); });
    return h('label.segment', { for: input.id }, input, h('span', label));
  });
  return h(`fieldset.choice${className ? `.${className}` : ''}`,
    h('legend.choice-legend', legend),
    h('div.segmented', inputs));
}

/**
 * A usage section: its heading, the period switch, and for each period the chart and whatever
 * `extra(usage, range)` adds (the addresses and products), loaded from `path` (the key's or
 * the account's usage). `onLoaded(usage, range)` sees every answer.
 */
export function usageSection({ title, lead, path, extra, onLoaded }) {
  const titleId = nextId('usage-title');
  let range = RANGES[0];
  let sequence = 0;
  const body = h('div.usage-body', loading('Loading usage…'));
  const refresh = h('button.btn.ghost.small', { type: 'button' }, 'Refresh');
  const load = async () => {
    const mine = ++sequence;
    body.setAttribute('aria-busy', 'true');
    let usage;
    try {
      usage = await api.get(`${path}${api.query(rangeQuery(range))}`);
    } catch (error) {
      if (mine === sequence) {
        body.removeAttribute('aria-busy');
        body.replaceChildren(loadError(error, load));
      }
      return;
    }
    if (mine !== sequence) return;
    body.removeAttribute('aria-busy');
    fill(body, usageChart(usage, range), extra ? extra(usage, range) : null);
    if (onLoaded) onLoaded(usage, range);
  };
  refresh.addEventListener('click', load);
  const choice = segmentedChoice({
    legend: 'Period',
    options: RANGES.map((r) => [r.id, r.label]),
    value: range.id,
    onChange: (id) => {
      range = RANGES.find((r) => r.id === id);
      load();
    },
  });
  const section = h('section.section.card.usage-section', { 'aria-labelledby': titleId },
    h('div.section-head.usage-head',
      h('div', h('h2', { id: titleId }, title), lead ? h('p.muted', lead) : null),
      h('div.usage-tools', choice, refresh)),
    body);
  load();
  return section;
}

/** The chart of one answer of the usage API, with its summary, legend and table. */
export function usageChart(usage, range) {
  const series = usage.series || [];
  const totals = usage.totals || { requests: 0, allowed: 0, denied: {} };
  const refused = refusedOf(totals.denied);
  if (!totals.requests) {
    return h('div.usage-empty', emptyState(`No requests in ${range.words}`,
      'Requests verified with a key show here within a few seconds: allowed ones and refused ones.'));
  }
  const summaryId = nextId('usage-summary');
  const reasons = Object.entries(totals.denied || {}).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  const summary = h('p.usage-summary', { id: summaryId },
    `${count(totals.requests, 'request', 'requests')} in ${range.words}: `,
    h('strong.allowed-count', `${formatNumber(totals.allowed)} allowed`), ', ',
    h('strong.refused-count', `${formatNumber(refused)} refused`),
    reasons.length ? ` (${reasons.map(([code, n]) => `${formatNumber(n)} ${refusalWords(code)}`).join(', ')})` : '',
    '.');
  const plot = h('div.chart-plot');
  const draw = (width) => plot.replaceChildren(chartSvg(series, range.granularity, width, summaryId));
  draw(720);
  // Drawn at the width it has (text stays legible on a phone); again when that changes.
  let drawnAt = 720;
  const observer = new ResizeObserver(() => {
    const width = Math.round(plot.clientWidth);
    if (!plot.isConnected) {
      observer.disconnect();
      return;
    }
    if (width > 0 && width !== drawnAt) {
      drawnAt = width;
      draw(width);
    }
  });
  observer.observe(plot);

  const tableId = nextId('usage-table');
  const toggle = h('button.link-button', { type: 'button', 'aria-expanded': 'false', 'aria-controls': tableId }, 'Show the numbers');
  const table = numbersTable(series, range, tableId);
  toggle.addEventListener('click', () => {
    table.hidden = !table.hidden;
    toggle.setAttribute('aria-expanded', String(!table.hidden));
    toggle.textContent = table.hidden ? 'Show the numbers' : 'Hide the numbers';
  });
  return h('figure.usage-chart',
    summary,
    plot,
    h('figcaption.chart-foot',
      h('ul.chart-legend', { 'aria-label': 'Legend' },
        h('li', h('span.swatch.swatch-allowed', { 'aria-hidden': 'true' }), 'Allowed'),
        h('li', h('span.swatch.swatch-refused', { 'aria-hidden': 'true' }), 'Refused')),
      h('span.chart-note', range.granularity === 'day' ? 'One bar a day (UTC days).' : 'One bar an hour, in your time zone.'),
      toggle),
    table);
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs || {})) el.setAttribute(name, String(value));
  for (const child of children) {
    if (child === null || child === undefined) continue;
    el.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return el;
}

/** A round upper bound for the axis and its step: 7 → 8 by 2, 1,204 → 1,500 by 500. */
function axisScale(max) {
  const rough = Math.max(max, 1) / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) || 10 * power;
  const whole = Math.max(1, Math.round(step));
  return { step: whole, top: Math.max(whole, Math.ceil(max / whole) * whole) };
}

/** Which bars carry a time label, so that labels stay ~64 px apart. */
function labelEvery(n, band, granularity) {
  const needed = Math.ceil(64 / band);
  const steps = granularity === 'hour' ? [1, 2, 3, 4, 6, 12, 24] : [1, 2, 5, 7, 10, 15, 30];
  return steps.find((s) => s >= needed) || steps[steps.length - 1] || n;
}

/**
 * The bars: one per bucket, allowed at the bottom and refused stacked on top, with a y axis of
 * request counts and time labels below. Each bar's <title> says its numbers on hover; the
 * whole picture is described by the summary sentence (`labelledBy`) and the table.
 */
function chartSvg(series, granularity, width, labelledBy) {
  const height = 220;
  const margin = { top: 12, right: 8, bottom: 28, left: 48 };
  const plotWidth = Math.max(width - margin.left - margin.right, 40);
  const plotHeight = height - margin.top - margin.bottom;
  const totals = series.map((b) => ({ allowed: b.allowed, refused: refusedOf(b.denied) }));
  const max = totals.reduce((m, t) => Math.max(m, t.allowed + t.refused), 0);
  const { step, top } = axisScale(max);
  const y = (value) => margin.top + plotHeight - (value / top) * plotHeight;
  const band = plotWidth / Math.max(series.length, 1);
  const barWidth = Math.max(Math.min(band * 0.72, 48), 2);

  const root = svg('svg', {
    class: 'chart-svg', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': labelledBy, focusable: 'false',
  });
  const grid = svg('g', { class: 'chart-grid' });
  const axis = svg('g', { class: 'chart-axis' });
  for (let value = 0; value <= top; value += step) {
    const at = Math.round(y(value)) + 0.5;
    grid.append(svg('line', { x1: margin.left, x2: margin.left + plotWidth, y1: at, y2: at }));
    axis.append(svg('text', { x: margin.left - 8, y: at, 'text-anchor': 'end', 'dominant-baseline': 'middle' }, COMPACT.format(value)));
  }
  const every = labelEvery(series.length, band, granularity);
  const bars = svg('g', { class: 'chart-bars' });
  series.forEach((bucket, i) => {
    const { allowed, refused } = totals[i];
    const x = margin.left + i * band + (band - barWidth) / 2;
    const group = svg('g', { class: 'chart-bar', 'data-start': bucket.start, 'data-allowed': allowed, 'data-refused': refused },
      svg('title', null, `${bucketName(bucket.start, granularity)}: ${formatNumber(allowed)} allowed, ${formatNumber(refused)} refused`));
    // An invisible full-height target, so a thin or empty bar still shows its numbers on hover.
    group.append(svg('rect', { class: 'bar-hit', x: margin.left + i * band, y: margin.top, width: band, height: plotHeight }));
    if (allowed) {
      group.append(svg('rect', { class: 'bar-allowed', x, y: y(allowed), width: barWidth, height: y(0) - y(allowed) }));
    }
    if (refused) {
      group.append(svg('rect', { class: 'bar-refused', x, y: y(allowed + refused), width: barWidth, height: y(allowed) - y(allowed + refused) }));
    }
    bars.append(group);
    const at = new Date(bucket.start);
    const labelled = granularity === 'hour' ? at.getHours() % every === 0 : (series.length - 1 - i) % every === 0;
    if (labelled) {
      axis.append(svg('text', { x: margin.left + i * band + band / 2, y: height - 8, 'text-anchor': 'middle' },
        granularity === 'hour' ? HOUR_LABEL.format(at) : DAY_LABEL.format(at)));
    }
  });
  const baseline = Math.round(y(0)) + 0.5;
  root.append(grid, bars, svg('line', { class: 'chart-baseline', x1: margin.left, x2: margin.left + plotWidth, y1: baseline, y2: baseline }), axis);
  return root;
}

/** The chart's numbers as a table, for anyone who would rather read them. */
function numbersTable(series, range, id) {
  const unit = range.granularity === 'day' ? 'Day (UTC)' : 'Hour';
  return h('div.table-wrap.usage-numbers', { id, hidden: true },
    h('table.data-table.usage-table',
      h('caption.sr-only', `Requests per ${range.granularity}, ${range.words}`),
      h('thead', h('tr', [unit, 'Allowed', 'Refused', 'Total'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', series.map((bucket) => {
        const refused = refusedOf(bucket.denied);
        return h('tr',
          h('th', { scope: 'row', dataset: { label: unit } }, h('time', { datetime: bucket.start }, bucketName(bucket.start, range.granularity))),
          h('td.number', { dataset: { label: 'Allowed' } }, formatNumber(bucket.allowed)),
          h('td.number', { dataset: { label: 'Refused' } }, formatNumber(refused)),
          h('td.number', { dataset: { label: 'Total' } }, formatNumber(bucket.allowed + refused)));
      }))));
}

/**
 * A client address as the API names it: `other` stands for the addresses a flood of them
 * made the counters stop telling apart.
 */
export function addressName(address) {
  return address === 'other' ? h('span.muted', 'Other addresses') : h('code', address);
}

/** A product as the API names it: `*` counts paths that need every product. */
function productName(id, names) {
  if (id === '*') return [h('span.product-name', 'Every product'), ' ', h('span.muted.small-text', '(paths of no one product)')];
  return [h('span.product-name', names.get(id) || id), ' ', h('code.product-code', id)];
}

/** The client addresses of an answer: address, requests, refused, last seen. */
export function addressesTable(addresses, range) {
  const titleId = nextId('addresses-title');
  const list = addresses || [];
  return h('section.usage-part', { 'aria-labelledby': titleId },
    h('h3', { id: titleId }, 'Addresses'),
    list.length
      ? h('div.table-wrap', h('table.data-table.addresses-table',
        h('caption.sr-only', `Client addresses in ${range.words}, most requests first`),
        h('thead', h('tr', ['Address', 'Requests', 'Refused', 'Last seen'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', list.map((a) => h('tr',
          h('td', { dataset: { label: 'Address' } }, addressName(a.address)),
          h('td.number', { dataset: { label: 'Requests' } }, formatNumber(a.requests)),
          h('td.number', { dataset: { label: 'Refused' } }, formatNumber(a.refused || 0)),
          h('td', { dataset: { label: 'Last seen' } }, timeEl(a.last_seen, relative(a.last_seen))))))))
      : h('p.muted', `No client addresses in ${range.words}.`));
}

/** Requests per product and access of an answer. `names` maps product ids to names. */
export function productsTable(products, names, range) {
  const titleId = nextId('products-title');
  const rows = Object.entries(products || {})
    .map(([id, access]) => ({ id, read: access.read || 0, write: access.write || 0 }))
    .sort((a, b) => (b.read + b.write) - (a.read + a.write));
  return h('section.usage-part', { 'aria-labelledby': titleId },
    h('h3', { id: titleId }, 'Products'),
    rows.length
      ? h('div.table-wrap', h('table.data-table.products-table',
        h('caption.sr-only', `Requests per product in ${range.words}`),
        h('thead', h('tr', ['Product', 'Reads', 'Writes'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', rows.map((p) => h('tr',
          h('td', { dataset: { label: 'Product' } }, productName(p.id, names)),
          h('td.number', { dataset: { label: 'Reads' } }, formatNumber(p.read)),
          h('td.number', { dataset: { label: 'Writes' } }, formatNumber(p.write)))))))
      : h('p.muted', `No product was reached in ${range.words}.`));
}

/** Addresses and products side by side, under a chart. */
export function usageParts(usage, names, range) {
  return h('div.usage-parts', addressesTable(usage.addresses, range), productsTable(usage.products, names, range));
}
