// A key's own policy (allowed addresses, rate limit, usage limit, metadata): the form fields
// that set it, the checks that explain a mistake in words before anything is sent, and the
// sentences and badges that show it.

import * as api from '../api.js';
import { h, nextId, formatDateTime, relative, timeEl, badge } from '../ui.js';
import { parseAddress } from './addresses.js';

const MAX_ADDRESSES = 100;
const MAX_RATE = 1_000_000;
const MAX_USAGE = 1_000_000_000_000;
const MAX_METADATA_BYTES = 4096;

const RATE_PERIODS = [
  [1, 'second'],
  [60, 'minute'],
  [3600, 'hour'],
  [86400, 'day'],
];
const USAGE_PERIODS = [
  ['day', 'a day'],
  ['month', 'a month'],
  ['total', 'in total'],
];

const number = (n) => Number(n).toLocaleString();
const plural = (n, one, many) => `${number(n)} ${n === 1 ? one : many}`;

/** "100 requests per minute", "5 requests every 30 seconds". */
export function rateWords(rate) {
  if (!rate) return null;
  const named = RATE_PERIODS.find(([seconds]) => seconds === rate.period_seconds);
  const period = named ? `per ${named[1]}` : `every ${plural(rate.period_seconds, 'second', 'seconds')}`;
  return `${plural(rate.limit, 'request', 'requests')} ${period}`;
}

/** "10,000 requests a month". */
export function usageWords(usage) {
  if (!usage) return null;
  const named = USAGE_PERIODS.find(([period]) => period === usage.period);
  return `${plural(usage.limit, 'request', 'requests')} ${named ? named[1] : usage.period}`;
}

/** Badges for the key list: text (never colour alone) with the details as a tooltip. */
export function policyBadges(key) {
  const badges = [];
  if (key.canary) {
    const el = badge('Canary', 'amber');
    el.title = 'A decoy key: it authorizes nothing, and every use of it is recorded';
    badges.push(el);
  }
  if (key.allowed_ips && key.allowed_ips.length) {
    const el = badge('IP-restricted', 'gray');
    el.title = `Only from ${plural(key.allowed_ips.length, 'address or range', 'addresses or ranges')}`;
    badges.push(el);
  }
  const limits = [rateWords(key.rate_limit), usageWords(key.usage_limit)].filter(Boolean);
  if (limits.length) {
    const el = badge('Limited', 'gray');
    el.title = limits.join('; ');
    badges.push(el);
  }
  if (key.usage && key.usage.remaining === 0) badges.push(badge('Usage limit reached', 'amber'));
  return badges;
}

/** The four settings in words, as a description list for a key's detail. */
export function policySummary(key) {
  const none = (text) => h('span.muted', text);
  const addresses = key.allowed_ips && key.allowed_ips.length
    ? h('ul.address-list', key.allowed_ips.map((ip) => h('li', h('code', ip))))
    : none('Any address');
  let usage = none('No usage limit');
  if (key.usage_limit) {
    usage = h('div.usage-words', h('span', usageWords(key.usage_limit)), key.usage ? usageState(key.usage) : null);
  }
  const metadata = key.metadata
    ? h('pre.metadata-block', h('code', JSON.stringify(key.metadata, null, 2)))
    : none('None');
  return h('dl.policy-list',
    h('div', h('dt', 'Allowed addresses'), h('dd', addresses)),
    h('div', h('dt', 'Rate limit'), h('dd', key.rate_limit ? rateWords(key.rate_limit) : none('No rate limit'))),
    h('div', h('dt', 'Usage limit'), h('dd', usage)),
    h('div.wide', h('dt', 'Metadata'), h('dd', metadata)));
}

function usageState(usage) {
  const left = `${plural(usage.remaining, 'request', 'requests')} left`;
  const used = `${number(usage.used)} used`;
  const resets = usage.resets_at
    ? h('span', 'Resets ', timeEl(usage.resets_at, formatDateTime(usage.resets_at)), ` (${relative(usage.resets_at)})`)
    : h('span', 'Never resets');
  return h('span.sub.usage-state', `${left} · ${used} · `, resets);
}

/**
 * The policy part of a key form. `key` gives the current values (edit) or is absent (create).
 * With `me` (an admin's), "Add my sign-in address" fills in the address Keywarden saw when this
 * person last signed in: the console cannot see its own public address.
 * Returns { element, read(), first() (the first control) }: read() gives { error } (a field and a message) or
 * { values } with the four settings, each null when empty.
 */
export function policyFields({ key = null, me = null } = {}) {
  const current = key || {};

  // Allowed addresses.
  const addresses = h('textarea.address-input', {
    name: 'allowed_ips', rows: '4', spellcheck: 'false', autocomplete: 'off', autocapitalize: 'off',
    placeholder: '203.0.113.7\n10.0.0.0/8',
  });
  addresses.value = (current.allowed_ips || []).join('\n');
  const addressesId = nextId('allowed-ips');
  addresses.id = addressesId;
  const addStatus = h('p.hint.add-status', { role: 'status' });
  let addMine = null;
  if (me) {
    addMine = h('button.btn.secondary.small', { type: 'button' }, 'Add my sign-in address');
    addMine.addEventListener('click', () => addSignInAddress(addresses, addStatus, me, addMine));
  }
  const addressesField = h('div.field', { dataset: { field: 'allowed_ips' } },
    h('label', { for: addressesId }, 'Allowed addresses', h('span.optional', ' (optional)')),
    addresses,
    addMine ? h('div.field-tools', addMine, addStatus) : null,
    h('p.hint', { id: `${addressesId}-hint` },
      'One IP address or range per line, e.g. 203.0.113.7 or 10.0.0.0/8 (IPv6 works too). Requests from anywhere else are refused. Leave empty to allow every address.'),
    h('p.field-error', { id: `${addressesId}-error`, hidden: true }));
  addresses.setAttribute('aria-describedby', `${addressesId}-hint ${addressesId}-error`);

  // Rate limit: a number and a period.
  const rateId = nextId('rate-limit');
  const rateLimit = h('input', { type: 'number', name: 'rate_limit', id: rateId, min: '1', max: String(MAX_RATE), step: '1', inputmode: 'numeric', placeholder: 'e.g. 100' });
  const ratePeriod = h('select', { name: 'rate_period', id: `${rateId}-period`, 'aria-label': 'Rate limit period' },
    RATE_PERIODS.map(([seconds, word]) => h('option', { value: String(seconds) }, `per ${word}`)));
  if (current.rate_limit) {
    rateLimit.value = String(current.rate_limit.limit);
    const seconds = current.rate_limit.period_seconds;
    if (!RATE_PERIODS.some(([s]) => s === seconds)) {
      // Set through the API to a period the menu does not offer: keep it as it is.
      ratePeriod.append(h('option', { value: String(seconds) }, `every ${plural(seconds, 'second', 'seconds')}`));
    }
    ratePeriod.value = String(seconds);
  } else {
    ratePeriod.value = '60';
  }
  const rateField = limitGroup({
    id: rateId, field: 'rate_limit', legend: 'Rate limit', input: rateLimit, period: ratePeriod,
    hint: 'The most requests this key may make in any second, minute, hour or day; more are refused until the window moves on. Leave empty for no rate limit.',
  });

  // Usage limit: a number and day, month or total.
  const usageId = nextId('usage-limit');
  const usageLimit = h('input', { type: 'number', name: 'usage_limit', id: usageId, min: '1', max: String(MAX_USAGE), step: '1', inputmode: 'numeric', placeholder: 'e.g. 10000' });
  const usagePeriod = h('select', { name: 'usage_period', id: `${usageId}-period`, 'aria-label': 'Usage limit period' },
    USAGE_PERIODS.map(([value, words]) => h('option', { value }, words)));
  usagePeriod.value = current.usage_limit ? current.usage_limit.period : 'month';
  if (current.usage_limit) usageLimit.value = String(current.usage_limit.limit);
  const usageField = limitGroup({
    id: usageId, field: 'usage_limit', legend: 'Usage limit', input: usageLimit, period: usagePeriod,
    hint: 'A quota: the most requests in a calendar day or month (counted in UTC), or over the key’s whole life. Leave empty for no quota.',
  });

  // Metadata: a JSON object.
  const metadataId = nextId('metadata');
  const metadata = h('textarea.json-input', {
    name: 'metadata', id: metadataId, rows: '5', spellcheck: 'false', autocomplete: 'off', autocapitalize: 'off',
    placeholder: '{ "customer": "acme-42", "plan": "pro" }',
  });
  if (current.metadata) metadata.value = JSON.stringify(current.metadata, null, 2);
  const counter = h('p.counter', { id: `${metadataId}-count` });
  const count = () => {
    const bytes = metadataBytes(metadata.value);
    counter.textContent = `${number(bytes)} / ${number(MAX_METADATA_BYTES)} bytes`;
    counter.classList.toggle('over', bytes > MAX_METADATA_BYTES);
  };
  metadata.addEventListener('input', count);
  count();
  const metadataField = h('div.field', { dataset: { field: 'metadata' } },
    h('label', { for: metadataId }, 'Metadata', h('span.optional', ' (optional)')),
    metadata,
    h('div.field-notes',
      h('p.hint', { id: `${metadataId}-hint` }, 'Your own notes for this key as a JSON object, e.g. a customer id. Your services get it back with each verified request. Leave empty for none.'),
      counter),
    h('p.field-error', { id: `${metadataId}-error`, hidden: true }));
  metadata.setAttribute('aria-describedby', `${metadataId}-hint ${metadataId}-count ${metadataId}-error`);

  const element = [addressesField, rateField, usageField, metadataField];

  function read() {
    const allowed = readAddresses(addresses.value);
    if (allowed.error) return { error: { field: 'allowed_ips', message: allowed.error } };
    const rate = readLimit(rateLimit, MAX_RATE, 'A rate limit');
    if (rate.error) return { error: { field: 'rate_limit', message: rate.error } };
    const usage = readLimit(usageLimit, MAX_USAGE, 'A usage limit');
    if (usage.error) return { error: { field: 'usage_limit', message: usage.error } };
    const meta = readMetadata(metadata.value);
    if (meta.error) return { error: { field: 'metadata', message: meta.error } };
    return {
      values: {
        allowed_ips: allowed.value,
        rate_limit: rate.value === null ? null : { limit: rate.value, period_seconds: Number(ratePeriod.value) },
        usage_limit: usage.value === null ? null : { limit: usage.value, period: usagePeriod.value },
        metadata: meta.value,
      },
    };
  }

  return { element, read, first: () => addresses };
}

function limitGroup({ id, field, legend, input, period, hint }) {
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  input.setAttribute('aria-describedby', `${hintId} ${errorId}`);
  period.setAttribute('aria-describedby', hintId);
  return h('fieldset.field', { dataset: { field } },
    h('legend', legend, h('span.optional', ' (optional)')),
    h('div.limit-row',
      h('label.sr-only', { for: id }, `${legend}: number of requests`),
      input,
      h('span.limit-unit', { 'aria-hidden': 'true' }, 'requests'),
      period),
    h('p.hint', { id: hintId }, hint),
    h('p.field-error', { id: errorId, hidden: true }));
}

/** The size the API counts: the object as compact JSON, in UTF-8 bytes. */
function metadataBytes(text) {
  let compact = text.trim();
  try {
    if (compact) compact = JSON.stringify(JSON.parse(compact));
  } catch {
    // Not JSON (yet): count what is typed.
  }
  return new TextEncoder().encode(compact).length;
}

function readAddresses(text) {
  const entries = text.split(/[\n,;]+/).map((line) => line.trim()).filter(Boolean);
  // Spaces inside one line split it too, so "10.0.0.1 10.0.0.2" is two entries.
  const words = entries.flatMap((line) => line.split(/\s+/));
  if (!words.length) return { value: null };
  if (words.length > MAX_ADDRESSES) {
    return { error: `That is ${number(words.length)} addresses; a key can have at most ${MAX_ADDRESSES}. Combine neighbouring addresses into a range such as 10.0.0.0/24.` };
  }
  const value = [];
  for (const word of words) {
    const parsed = parseAddress(word);
    if (parsed.error === 'not-an-address') {
      return { error: `“${shorten(word)}” is not an IP address or range. Write one per line, like 203.0.113.7, 2001:db8::1 or 10.0.0.0/8.` };
    }
    if (parsed.error === 'not-range-start') {
      return { error: `“${word}” does not start its range. Did you mean ${parsed.suggestion}? A range is written with its first address.` };
    }
    if (!value.includes(parsed.text)) value.push(parsed.text);
  }
  return { value };
}

function readLimit(input, max, what) {
  if (input.validity.badInput) return { error: `${what} is a whole number of requests, e.g. 100.` };
  const text = input.value.trim();
  if (!text) return { value: null };
  const n = Number(text);
  if (!Number.isInteger(n)) return { error: `${what} is a whole number of requests, e.g. 100.` };
  if (n < 1 || n > max) return { error: `${what} can be from 1 to ${number(max)} requests. Leave it empty for no limit.` };
  return { value: n };
}

function readMetadata(text) {
  const trimmed = text.trim();
  if (!trimmed) return { value: null };
  let value;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return { error: 'This is not valid JSON. Write an object in braces, e.g. { "customer": "acme-42" }, with keys and text in double quotes.' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { error: 'Metadata must be a JSON object in braces, e.g. { "customer": "acme-42" }, not a list or a single value.' };
  }
  const bytes = new TextEncoder().encode(JSON.stringify(value)).length;
  if (bytes > MAX_METADATA_BYTES) {
    return { error: `This metadata takes ${number(bytes)} bytes; at most ${number(MAX_METADATA_BYTES)} fit. Keep ids here and the rest in your own database.` };
  }
  return { value };
}

const shorten = (text) => (text.length > 60 ? `${text.slice(0, 60)}…` : text);

/**
 * The browser cannot know the address it reaches Keywarden from; the server recorded it when
 * this person last signed in (the audit log, which admins may read).
 */
async function addSignInAddress(textarea, status, me, button) {
  status.textContent = '';
  button.disabled = true;
  let events;
  try {
    events = await api.get(`/v1/audit-events/${api.query({ actor: me.id, action: 'auth.sign_in', limit: 1 })}`);
  } catch (error) {
    status.textContent = `Your sign-in address could not be read: ${error.message}`;
    return;
  } finally {
    button.disabled = false;
  }
  const ip = events.results.length ? events.results[0].actor.ip : null;
  if (!ip) {
    status.textContent = 'Keywarden has not recorded an address for your sign-in. Type the address instead.';
    return;
  }
  const parsed = parseAddress(ip);
  const text = parsed.text || ip;
  const lines = textarea.value.split('\n').map((line) => line.trim()).filter(Boolean);
  if (lines.includes(text)) {
    status.textContent = `${text} is already in the list.`;
    return;
  }
  lines.push(text);
  textarea.value = lines.join('\n');
  textarea.dispatchEvent(new Event('input', { bubbles: true }));
  status.textContent = `Added ${text}, the address Keywarden saw when you last signed in. If you are behind a VPN or proxy, check it is the one your requests come from.`;
}

/**
 * An API refusal of one of the four settings, in words (its own details are for programs). A
 * refusal by the account's key policy says what the policy wants and is kept as it is.
 */
export function policyErrorMessage(error) {
  if (error.code !== 'invalid') return error.message;
  switch (error.field) {
    case 'allowed_ips': return 'One of these addresses is not accepted. Write one IP address or range per line, like 203.0.113.7 or 10.0.0.0/8.';
    case 'rate_limit': return `A rate limit can be from 1 to ${number(MAX_RATE)} requests per second, minute, hour or day.`;
    case 'usage_limit': return `A usage limit can be from 1 to ${number(MAX_USAGE)} requests a day, a month or in total.`;
    case 'metadata': return `Metadata must be a JSON object of at most ${number(MAX_METADATA_BYTES)} bytes.`;
    default: return error.message;
  }
}

/** The fields of `values` that differ from `key`'s, for a PATCH (null removes a setting). */
export function policyChanges(key, values) {
  const changes = {};
  for (const name of ['allowed_ips', 'rate_limit', 'usage_limit', 'metadata']) {
    const before = key[name] === undefined ? null : key[name];
    if (JSON.stringify(before) !== JSON.stringify(values[name])) changes[name] = values[name];
  }
  return changes;
}
