// Sign-in: email and password; then, for users with 2FA, a second step for the 6-digit code
// from the authenticator app or a one-time recovery code.

import * as api from '../api.js';
import { h, icon, field, alertBox, busy, showFormError, clearFormErrors, fill } from '../ui.js';
import { themePicker } from '../theme.js';

export function renderSignIn({ notice, onSignedIn }) {
  const card = h('div.auth-card');
  const page = h('main.auth-page', { id: 'main', tabindex: '-1' },
    h('div.auth-brand', h('span.brand-mark.large', icon('key')), h('span.brand-name', 'Keywarden')),
    card,
    h('div.auth-footer', h('p', 'API keys for your platform, self-hosted.'), themePicker()));
  showCredentials(card, { notice, onSignedIn });
  return page;
}

function showCredentials(card, { notice, onSignedIn, email: knownEmail }) {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, spellcheck: 'false', value: knownEmail || '' });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button.btn.primary.block', { type: 'submit' }, 'Sign in');
  const form = h('form.form', { novalidate: true },
    h('div.form-alert', { hidden: true }),
    field({ label: 'Email', input: email, name: 'email' }),
    field({ label: 'Password', input: password, name: 'password' }),
    submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    if (!email.value.trim()) {
      showFormError(form, { field: 'email', message: 'Enter your email address.' });
      return;
    }
    if (!password.value) {
      showFormError(form, { field: 'password', message: 'Enter your password.' });
      return;
    }
    await busy(submit, 'Signing in…', async () => {
      try {
        await api.signIn(email.value.trim(), password.value);
        onSignedIn();
      } catch (error) {
        if (error.code === 'otp_required') {
          showSecondFactor(card, { email: email.value.trim(), password: password.value, onSignedIn });
        } else {
          showFormError(form, error.code === 'invalid_credentials'
            ? { message: 'The email or password is not right. Check them and try again.' }
            : error);
          password.select();
        }
      }
    });
  });
  fill(card,
    h('h1', { id: 'page-title', tabindex: '-1' }, 'Sign in to the console'),
    h('p.muted', 'Manage the API keys of your account.'),
    notice ? alertBox(notice, 'info') : null,
    form);
  (knownEmail ? password : email).focus();
}

function showSecondFactor(card, { email, password, onSignedIn }) {
  let recovery = false;
  const code = h('input.code-input', {
    type: 'text', name: 'otp', inputmode: 'numeric', autocomplete: 'one-time-code',
    pattern: '[0-9]{6}', maxlength: '6', required: true, spellcheck: 'false',
  });
  const codeField = field({ label: 'Authentication code', input: code, name: 'otp', hint: 'The 6-digit code from your authenticator app.' });
  const submit = h('button.btn.primary.block', { type: 'submit' }, 'Verify and sign in');
  const toggle = h('button.link-button', { type: 'button' }, 'Use a recovery code instead');
  const back = h('button.link-button', { type: 'button' }, 'Back');
  const form = h('form.form', { novalidate: true }, h('div.form-alert', { hidden: true }), codeField, submit);

  toggle.addEventListener('click', () => {
    recovery = !recovery;
    clearFormErrors(form);
    code.value = '';
    const label = codeField.querySelector('label');
    const hint = codeField.querySelector('.hint');
    if (recovery) {
      label.textContent = 'Recovery code';
      hint.textContent = 'One of the recovery codes you saved when you turned on 2FA. Each works once.';
      code.setAttribute('inputmode', 'text');
      code.setAttribute('autocomplete', 'off');
      code.removeAttribute('pattern');
      code.setAttribute('maxlength', '20');
      code.classList.remove('code-input');
      toggle.textContent = 'Use an authentication code instead';
    } else {
      label.textContent = 'Authentication code';
      hint.textContent = 'The 6-digit code from your authenticator app.';
      code.setAttribute('inputmode', 'numeric');
      code.setAttribute('autocomplete', 'one-time-code');
      code.setAttribute('pattern', '[0-9]{6}');
      code.setAttribute('maxlength', '6');
      code.classList.add('code-input');
      toggle.textContent = 'Use a recovery code instead';
    }
    code.focus();
  });
  back.addEventListener('click', () => showCredentials(card, { onSignedIn, email }));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const value = code.value.replace(/\s+/g, '');
    if (!recovery && !/^[0-9]{6}$/.test(value)) {
      showFormError(form, { field: 'otp', message: 'Enter the 6 digits shown in your authenticator app.' });
      return;
    }
    if (recovery && value.replace(/[^0-9A-Za-z]/g, '').length !== 12) {
      showFormError(form, { field: 'otp', message: 'A recovery code has 12 letters and digits, e.g. abcd-efgh-ijkl.' });
      return;
    }
    await busy(submit, 'Verifying…', async () => {
      try {
        await api.signIn(email, password, value);
        password = null;
        onSignedIn();
      } catch (error) {
        if (error.code === 'otp_invalid') {
          showFormError(form, { field: 'otp', message: recovery
            ? 'That recovery code is not valid or was used already.'
            : 'That code is wrong, expired or already used. Wait for the next code and try again.' });
        } else {
          showFormError(form, error);
        }
        code.select();
      }
    });
  });

  card.replaceChildren(
    h('div.auth-step', icon('shield')),
    h('h1', { id: 'page-title', tabindex: '-1' }, 'Two-factor authentication'),
    h('p.muted', `Signing in as ${email}. Enter the code from your authenticator app.`),
    form,
    h('div.auth-links', toggle, back));
  code.focus();
}
