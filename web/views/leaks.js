// Leaked keys (SPEC §8): the red banner a leaked key carries in the key list and its detail,
// and Settings → Report a leak, where admins and developers paste a text (a log, a chat
// message) and every key of their account in it is handled as leaked.

import * as api from '../api.js';
import { h, icon, field, busy, showFormError, clearFormErrors, pageHeader, statusBadge, timeEl, formatDateTime, noAccess, alertBox } from '../ui.js';

/** The most text one report takes (the server's limit too). */
const MAX_TEXT_BYTES = 1024 * 1024;

/** An address worth a link: http(s) only, so a report can never make a `javascript:` link. */
function webAddress(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null;
  } catch {
    return null;
  }
}

/** What became of a leaked key, in words. */
function leakTitle(key) {
  if (key.canary) return 'Found — a canary, left in place';
  if (key.status !== 'revoked') return 'Leaked — reported, not revoked';
  // Revoked by the report itself (the account's leak action), or by someone later.
  return key.revoked_at === key.leaked_at ? 'Leaked — revoked automatically' : 'Leaked — revoked';
}

/**
 * The red banner of a key reported leaked, or null: what happened, when, and where the key was
 * found (a link that opens without handing this page to the other site).
 */
export function leakBanner(key) {
  if (!key.leaked_at) return null;
  const href = key.leak_url ? webAddress(key.leak_url) : null;
  let where;
  if (href) {
    where = h('span', 'Found at ', h('a.leak-url', { href, target: '_blank', rel: 'noopener noreferrer' }, key.leak_url));
  } else if (key.leak_url) {
    where = h('span', 'Found at ', h('code', key.leak_url));
  } else {
    where = h('span', 'Found in a pasted text or a report without an address.');
  }
  let advice = key.status === 'revoked'
    ? 'It no longer works. Give its users a new key, and remove the old one from where it was found.'
    : 'It still works: rotate or revoke it now, then remove it from where it was found.';
  // A canary is meant to be found: a report leaves it active, recording every use.
  if (key.canary) advice = 'A canary is meant to be found: it authorizes nothing and still records every use.';
  return h('div.leak-banner', { role: 'note', 'aria-label': leakTitle(key) },
    icon('warning'),
    h('div',
      h('p.leak-title', h('strong', leakTitle(key)), ' ', h('span.leak-when', timeEl(key.leaked_at, formatDateTime(key.leaked_at)))),
      h('p', where),
      h('p.leak-advice', advice)));
}

/** Settings → Report a leak. */
export async function renderLeaks(view, ctx) {
  if (!ctx.canManageKeys) {
    view.append(noAccess('You need Admin or Developer access to report leaked keys',
      `Your role in ${ctx.me.account.name} is Member. If you found a key in a log or a message, tell an admin or a developer of your account.`));
    return;
  }
  const textId = 'leak-text';
  const text = h('textarea', { id: textId, name: 'text', rows: 12, spellcheck: 'false', autocomplete: 'off', placeholder: 'Paste a log, a chat message or a file here…' });
  const submit = h('button.btn.danger', { type: 'submit' }, icon('shield'), 'Find and handle leaked keys');
  const form = h('form.form.section.card', { novalidate: true, 'aria-label': 'Report a leak' },
    h('div.form-alert', { hidden: true }),
    field({
      label: 'Text that may hold keys',
      input: text,
      name: 'text',
      hint: 'Every key of your account in it is handled as leaked: revoked at once, unless the account policy says only to report leaks. Keys of other accounts are only counted. The text is not stored.',
    }),
    h('div.form-actions', submit));
  const results = h('section.section.leak-results', { 'aria-live': 'polite', 'aria-label': 'Keys found' });
  view.append(
    pageHeader('Report a leak', 'Found a key in a log, a ticket or a chat? Paste the text: Keywarden finds the keys of your account in it and revokes them before anyone else can use them.'),
    form,
    results);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const value = text.value;
    if (!value.trim()) {
      showFormError(form, { field: 'text', message: 'Paste the text that may hold keys.' });
      text.focus();
      return;
    }
    if (new TextEncoder().encode(value).length > MAX_TEXT_BYTES) {
      showFormError(form, { field: 'text', message: 'The text is longer than 1 MiB. Paste it in parts.' });
      text.focus();
      return;
    }
    await busy(submit, 'Searching…', async () => {
      let found;
      try {
        found = await api.post('/v1/leaks/', { text: value });
      } catch (error) {
        showFormError(form, error);
        return;
      }
      // The secrets are handled; they need not stay on the screen.
      text.value = '';
      showResults(results, found);
    });
  });
}

function showResults(results, found) {
  const others = found.other_accounts
    ? h('p', `${count(found.other_accounts, 'key')} of other accounts ${found.other_accounts === 1 ? 'was' : 'were'} found and left alone; their owners are not told by this report.`)
    : null;
  const unknown = found.not_found
    ? h('p', `${count(found.not_found, 'text')} looked like ${found.not_found === 1 ? 'a key' : 'keys'} but ${found.not_found === 1 ? 'is' : 'are'} no key of this Keywarden.`)
    : null;
  if (!found.leaked.length) {
    results.replaceChildren(
      h('h2', 'No key of your account in this text'),
      alertBox('Nothing was changed.', 'info', others, unknown));
    return;
  }
  const rows = found.leaked.map((key) => h('tr', { dataset: { keyId: key.id } },
    h('td', { dataset: { label: 'Key' } }, h('div.key-name', h('span.key-label', key.label), h('span.key-sub', h('code', key.hint)))),
    h('td', { dataset: { label: 'Status' } }, statusBadge(key.status)),
    h('td', { dataset: { label: 'What happened' } }, key.revoked ? 'Revoked: it no longer works.' : 'Reported, not revoked: rotate or revoke it now.')));
  results.replaceChildren(
    h('h2', `${count(found.leaked.length, 'key')} of your account found`),
    h('div.table-wrap', h('table.data-table.leak-table',
      h('caption.sr-only', 'Keys of your account found in the text'),
      h('thead', h('tr', ['Key', 'Status', 'What happened'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', rows))),
    others, unknown,
    h('p.muted', 'Each one is in the audit log as “Key leaked”, and a key.leaked webhook went to the endpoints that want it.'));
}

function count(n, noun) {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
