// Settings → Security: turn on two-factor authentication (QR code or typed secret, then a
// code), recovery codes shown once (copy or download), new recovery codes and turning 2FA off
// (each with the password and a code), and, for admins, the account's key policy.

import * as api from '../api.js';
import {
  h, icon, field, alertBox, busy, toast, showFormError, clearFormErrors, pageHeader, loading, badge, openModal, fill, loadError,
  unsavedChanges,
} from '../ui.js';

export async function renderSecurity(view, ctx) {
  const twoFactor = h('section.section.card', { 'aria-labelledby': 'twofa-title' });
  view.append(
    pageHeader('Security', 'Protect your sign-in, and set the rules your account applies to API keys.'),
    twoFactor);
  renderTwoFactor(twoFactor, ctx);
  if (ctx.isAdmin) {
    const policy = h('section.section.card', { 'aria-labelledby': 'policy-title' }, loading('Loading the account policy…'));
    view.append(policy);
    await renderPolicy(policy, ctx);
  } else {
    const { account } = ctx.me;
    view.append(h('section.section.card', { 'aria-labelledby': 'policy-title' },
      h('h2', { id: 'policy-title' }, 'Account policy'),
      h('dl.meta.wide',
        h('div', h('dt', 'Two-factor authentication for key changes'), h('dd', account.require_2fa_for_keys ? 'Required' : 'Recommended')),
        h('div', h('dt', 'Rotation period'), h('dd', `${account.rotation_period_days} days`))),
      h('p.muted', 'Only admins can change the account policy.')));
  }
}

function renderTwoFactor(section, ctx) {
  const { user } = ctx.me;
  const heading = h('div.section-head',
    h('div', h('h2', { id: 'twofa-title' }, 'Two-factor authentication'),
      h('p.muted', 'Ask for a code from an authenticator app (such as 1Password, Google Authenticator or Aegis) at every sign-in.')),
    user.two_factor_enabled ? badge('On', 'green') : badge('Off', 'gray'));
  if (user.two_factor_enabled) {
    const renew = h('button.btn.secondary', { type: 'button', dataset: { focusId: 'new-codes' } }, icon('refresh'), 'New recovery codes');
    const off = h('button.btn.ghost-danger', { type: 'button', dataset: { focusId: 'twofa-off' } }, 'Turn off two-factor authentication');
    renew.addEventListener('click', () => askPasswordAndCode({
      title: 'New recovery codes',
      description: 'Your current recovery codes stop working, and ten new ones are shown once. Confirm it is you.',
      confirmLabel: 'Make new codes',
      tone: 'primary',
      send: (body) => api.post('/v1/auth/2fa/recovery-codes/', body),
      done: (answer) => {
        toast('New recovery codes made; the old ones no longer work');
        showRecoveryCodes(answer.recovery_codes, () => renderTwoFactor(section, ctx));
      },
    }));
    off.addEventListener('click', () => askPasswordAndCode({
      title: 'Turn off two-factor authentication?',
      description: 'Signing in will need only your password, your recovery codes stop working, and every session of yours ends, this one too. Confirm it is you.',
      warning: ctx.me.account.require_2fa_for_keys && ctx.canManageKeys
        ? 'Your account requires two-factor authentication for key changes: without it you cannot create, rotate or revoke keys.'
        : null,
      confirmLabel: 'Turn off',
      tone: 'danger',
      send: (body) => api.post('/v1/auth/2fa/disable/', body),
      // Every session of the user ended with it: sign in again, with the password alone.
      done: () => ctx.endSession('Two-factor authentication is off, and your sessions have ended. Sign in again with your password.'),
    }));
    section.replaceChildren(heading,
      h('div.status-line.ok', icon('check'), h('p', 'Two-factor authentication is on for ', h('strong', user.email), '. Keep your recovery codes somewhere safe: each signs you in once if you lose your phone.')),
      h('div.form-buttons.start', renew, off));
    return;
  }
  const start = h('button.btn.primary', { type: 'button' }, icon('shield'), 'Enable two-factor authentication');
  start.addEventListener('click', () => busy(start, 'Preparing…', async () => {
    try {
      const setup = await api.post('/v1/auth/2fa/setup/');
      renderSetup(section, heading, setup, ctx);
    } catch (error) {
      section.replaceChildren(heading, alertBox(error.message), start);
    }
  }));
  const recommended = (user.role === 'admin' || user.role === 'developer')
    ? alertBox(ctx.me.account.require_2fa_for_keys
      ? 'Your account requires two-factor authentication before you create, rotate or revoke keys.'
      : 'Recommended: admins and developers handle API keys, so protect your sign-in with a second factor.', 'warning')
    : null;
  fill(section, heading, recommended, start);
}

function renderSetup(section, heading, setup, ctx) {
  const qr = h('img.qr', {
    src: `data:image/svg+xml;base64,${base64(setup.qr_svg)}`,
    alt: 'QR code to scan with your authenticator app',
    width: '200', height: '200',
  });
  const secretText = setup.secret.replace(/(.{4})/g, '$1 ').trim();
  const code = h('input.code-input', {
    type: 'text', name: 'otp', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: '6', required: true,
  });
  const confirm = h('button.btn.primary', { type: 'submit' }, 'Confirm and turn on');
  const cancel = h('button.btn.secondary', { type: 'button' }, 'Cancel');
  cancel.addEventListener('click', () => renderTwoFactor(section, ctx));
  const form = h('form.form.inline-form', { novalidate: true },
    h('div.form-alert', { hidden: true }),
    field({ label: 'Code from your app', input: code, name: 'otp', hint: 'Enter the 6-digit code the app shows now.' }),
    h('div.form-buttons', cancel, confirm));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const value = code.value.replace(/\s+/g, '');
    if (!/^[0-9]{6}$/.test(value)) {
      showFormError(form, { field: 'otp', message: 'Enter the 6 digits your authenticator app shows.' });
      return;
    }
    await busy(confirm, 'Confirming…', async () => {
      try {
        const result = await api.post('/v1/auth/2fa/confirm/', { otp: value });
        await ctx.reloadMe();
        showRecoveryCodes(result.recovery_codes, () => renderTwoFactor(section, ctx));
        toast('Two-factor authentication is on');
      } catch (error) {
        showFormError(form, error.code === 'otp_invalid'
          ? { field: 'otp', message: 'That code is not right. Check the time on your phone and enter the code the app shows now.' }
          : error);
      }
    });
  });
  section.replaceChildren(heading,
    h('ol.steps',
      h('li', h('h3', 'Scan the QR code'), h('p.muted', 'Open your authenticator app and scan this code.'), h('div.qr-frame', qr)),
      h('li', h('h3', 'Or type the secret'), h('p.muted', 'If you cannot scan, add an account by hand with this key (time-based, 6 digits, 30 seconds).'),
        h('div.field', h('label', { for: 'totp-secret' }, 'Secret key'),
          h('input.secret-input.mono', { id: 'totp-secret', type: 'text', readOnly: true, value: secretText, spellcheck: 'false' }))),
      h('li', h('h3', 'Enter a code'), form)));
  const secretInput = section.querySelector('#totp-secret');
  secretInput.addEventListener('focus', () => secretInput.select());
  code.focus();
}

/**
 * A dialog that asks for the password and a code (from the app, or a recovery code) before a
 * change to two-factor authentication; `send(body)` makes it, `done(answer)` follows.
 */
function askPasswordAndCode({ title, description, warning, confirmLabel, tone, send, done }) {
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const code = h('input.code-input', { type: 'text', name: 'otp', autocomplete: 'one-time-code', spellcheck: 'false', required: true });
  const submit = h(`button.btn.${tone}`, { type: 'submit', form: 'twofa-change-form' }, confirmLabel);
  const cancel = h('button.btn.secondary', { type: 'button' }, 'Cancel');
  const form = h('form.form', { id: 'twofa-change-form', novalidate: true },
    h('div.form-alert', { hidden: true }),
    warning ? alertBox(warning, 'warning') : null,
    field({ label: 'Password', input: password, name: 'password' }),
    field({ label: 'Code', input: code, name: 'otp', hint: 'The 6-digit code your authenticator app shows now, or one of your recovery codes.' }));
  const modal = openModal({ title, description, content: form, actions: [cancel, submit], initialFocus: () => password, isDirty: unsavedChanges(form) });
  cancel.addEventListener('click', () => modal.dismiss());
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    if (!password.value) {
      showFormError(form, { field: 'password', message: 'Enter your password.' });
      return;
    }
    const otp = code.value.replace(/\s+/g, '');
    if (!otp) {
      showFormError(form, { field: 'otp', message: 'Enter the code your authenticator app shows, or a recovery code.' });
      return;
    }
    await busy(submit, 'Checking…', async () => {
      try {
        const answer = await send({ password: password.value, otp });
        password.value = '';
        modal.close();
        await done(answer);
      } catch (error) {
        if (error.code === 'password_invalid') {
          showFormError(form, { field: 'password', message: 'That password is not right.' });
        } else if (error.code === 'otp_invalid') {
          showFormError(form, { field: 'otp', message: 'That code is not right, or was already used. Enter the code the app shows now.' });
        } else {
          showFormError(form, error);
        }
      }
    });
  });
}

function showRecoveryCodes(codes, onDone) {
  const list = h('ol.recovery-codes', { 'aria-label': 'Recovery codes' }, codes.map((c) => h('li', h('code', c))));
  const copy = h('button.btn.secondary', { type: 'button' }, icon('copy'), 'Copy all');
  const status = h('p.copy-status', { role: 'status' });
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(codes.join('\n'));
      status.textContent = 'Copied to the clipboard.';
    } catch {
      const range = document.createRange();
      range.selectNodeContents(list);
      const selection = getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      status.textContent = document.execCommand('copy') ? 'Copied to the clipboard.' : 'Selected: press Ctrl+C to copy.';
    }
  });
  // A text file the person keeps: made in the page, never sent anywhere.
  const download = h('a.btn.secondary', { download: 'keywarden-recovery-codes.txt' }, 'Download');
  const file = URL.createObjectURL(new Blob([
    `Keywarden recovery codes\nEach signs you in once if you lose your authenticator app.\n\n${codes.join('\n')}\n`,
  ], { type: 'text/plain' }));
  download.href = file;
  const done = h('button.btn.primary', { type: 'button' }, 'I have saved my recovery codes');
  const modal = openModal({
    title: 'Save your recovery codes',
    description: 'Each code signs you in once if you lose access to your authenticator app. They are shown only now.',
    content: [alertBox('Store them in your password manager. Keywarden will never show these codes again.', 'warning'), list, h('div.copy-row', copy, download, status)],
    // Shown once: neither Escape nor a stray click beside the dialog may lose them.
    dismissible: false,
    actions: [done],
    onClose: () => {
      list.replaceChildren();
      codes.length = 0;
      URL.revokeObjectURL(file);
      download.removeAttribute('href');
      onDone();
    },
    initialFocus: () => copy,
  });
  done.addEventListener('click', () => modal.close());
}

async function renderPolicy(section, ctx) {
  let account;
  try {
    account = await api.get('/v1/account/');
  } catch (error) {
    section.replaceChildren(h('h2', { id: 'policy-title' }, 'Account policy'), loadError(error, () => renderPolicy(section, ctx)));
    return;
  }
  const require2fa = h('input.switch', { type: 'checkbox', role: 'switch', id: 'require-2fa', checked: account.require_2fa_for_keys });
  const period = h('input', { type: 'number', id: 'rotation-period', name: 'rotation_period_days', min: '1', max: '3650', step: '1', required: true, value: String(account.rotation_period_days) });
  const lifetime = h('input', {
    type: 'number', id: 'max-key-lifetime', name: 'max_key_lifetime_days', min: '1', max: '3650', step: '1', placeholder: 'No maximum',
    value: account.max_key_lifetime_days === null ? '' : String(account.max_key_lifetime_days),
  });
  const requireExpiry = h('input.switch', { type: 'checkbox', role: 'switch', id: 'require-expiry-live', name: 'require_expiry_for_live', checked: account.require_expiry_for_live });
  const requireAllowlist = h('input.switch', { type: 'checkbox', role: 'switch', id: 'require-allowlist-live', name: 'require_ip_allowlist_for_live', checked: account.require_ip_allowlist_for_live });
  const leakAction = h('select', { id: 'leak-action', name: 'leak_action' },
    h('option', { value: 'revoke', selected: account.leak_action === 'revoke' }, 'Revoke the key at once'),
    h('option', { value: 'notify', selected: account.leak_action === 'notify' }, 'Only notify (the key keeps working)'));
  const save = h('button.btn.primary', { type: 'submit' }, 'Save policy');
  const violations = h('div.policy-violations', { 'aria-live': 'polite' });
  const form = h('form.form.policy-form', { novalidate: true },
    h('div.form-alert', { hidden: true }),
    switchField(require2fa, 'require_2fa_for_keys', 'Require two-factor authentication for key changes',
      'Users without 2FA cannot create, rotate or revoke keys.'),
    field({ label: 'Rotation period (days)', input: period, name: 'rotation_period_days', hint: 'Keys older than this are marked “Rotation due”. 90 days is a common choice.' }),
    h('h3.policy-subtitle', 'Key policy'),
    h('p.muted', 'Rules every new, changed or rotated key must meet, in the console and the operator CLI alike. Tightening them does not change existing keys: those that break the new rules are listed below.'),
    field({
      label: 'Maximum key lifetime (days)', input: lifetime, name: 'max_key_lifetime_days', optional: true,
      hint: 'Restricted keys must expire within this many days of being created, changed or rotated. Leave empty for no maximum. Standard keys never expire and are not affected.',
    }),
    switchField(requireExpiry, 'require_expiry_for_live', 'Require an expiry date on live keys',
      'Restricted live keys must have an expiry date. Test keys are not affected.'),
    switchField(requireAllowlist, 'require_ip_allowlist_for_live', 'Require an IP allowlist on live keys',
      'Live keys, standard and restricted, must list the addresses they may be used from. An account’s standard keys start without one: give them one on the API & Developers page.'),
    field({
      label: 'When a key is reported leaked', input: leakAction, name: 'leak_action',
      hint: 'For example by GitHub secret scanning. Revoking stops the key at once; notifying only records the leak and tells you.',
    }),
    h('div.form-buttons', save));
  const showViolations = () => renderViolations(violations);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const days = Number(period.value);
    if (!Number.isInteger(days) || days < 1 || days > 3650) {
      showFormError(form, { field: 'rotation_period_days', message: 'Enter a whole number of days from 1 to 3650.' });
      return;
    }
    const maxText = lifetime.value.trim();
    const maxDays = maxText === '' ? null : Number(maxText);
    if (maxDays !== null && (!Number.isInteger(maxDays) || maxDays < 1 || maxDays > 3650)) {
      showFormError(form, { field: 'max_key_lifetime_days', message: 'Enter a whole number of days from 1 to 3650, or leave it empty for no maximum.' });
      return;
    }
    await busy(save, 'Saving…', async () => {
      try {
        await api.patch('/v1/account/', {
          require_2fa_for_keys: require2fa.checked,
          rotation_period_days: days,
          max_key_lifetime_days: maxDays,
          require_expiry_for_live: requireExpiry.checked,
          require_ip_allowlist_for_live: requireAllowlist.checked,
          leak_action: leakAction.value,
        });
        await ctx.reloadMe();
        toast('Account policy saved');
      } catch (error) {
        showFormError(form, error);
        return;
      }
      await showViolations();
    });
  });
  section.replaceChildren(
    h('div.section-head', h('div', h('h2', { id: 'policy-title' }, 'Account policy'),
      h('p.muted', `Rules for every user of ${account.name}. Only admins can change them.`))),
    form,
    violations);
  await showViolations();
}

/** A switch with its title and hint, in the shape `showFormError` finds by `name`. */
function switchField(input, name, title, hint) {
  return h('div.field.switch-field', { dataset: { field: name } },
    h('label.switch-wrap', { for: input.id }, input, h('span.switch-track', { 'aria-hidden': 'true' }),
      h('span.switch-text', h('span.switch-title', title), h('span.hint', hint))),
    h('p.field-error', { hidden: true }));
}

/** The account's keys that break its key policy, each with the rule and what to change. */
async function renderViolations(container) {
  let rows;
  try {
    rows = await api.get('/v1/account/policy-violations/');
  } catch (error) {
    container.replaceChildren(loadError(error, () => renderViolations(container)));
    return;
  }
  const title = h('h3.policy-subtitle', { id: 'violations-title' }, 'Keys that break the key policy');
  if (rows.length === 0) {
    container.replaceChildren(title, h('p.muted.policy-clean', 'Every working key meets the key policy.'));
    return;
  }
  const keys = new Set(rows.map((r) => r.key_id)).size;
  const fields = { expires_at: 'Expiry', allowed_ips: 'IP allowlist' };
  container.replaceChildren(
    title,
    h('p.muted', `${keys === 1 ? '1 key keeps' : `${keys} keys keep`} working but cannot be rotated until changed to meet the policy.`),
    h('ul.violation-list', { 'aria-labelledby': 'violations-title' },
      ...rows.map((row) => h('li.violation', { dataset: { keyId: row.key_id, field: row.field } },
        h('div.violation-key',
          h('strong', row.label),
          h('code', row.hint),
          badge(row.type === 'live' ? 'Live' : 'Test', row.type === 'live' ? 'violet' : 'blue'),
          badge(row.kind === 'standard' ? 'Standard' : 'Restricted', 'gray')),
        h('p.violation-reason', h('span.violation-field', `${fields[row.field] || row.field}: `), row.reason)))),
    h('a.btn.secondary.small', { href: '#/settings/api' }, icon('key'), 'Open API keys'));
}

function base64(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}
