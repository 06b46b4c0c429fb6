// The parts of a key's page that say what the key is (its facts, its limits and metadata),
// and the dialog that changes those four settings (PATCH /v1/api-keys/{id}/; a cleared setting
// is sent as null, which removes it).

import * as api from '../api.js';
import {
  h, busy, toast, openModal, showFormError, clearFormErrors, timeEl, relative, formatDateTime,
  unsavedChanges, nextId,
} from '../ui.js';
import { policyFields, policySummary, policyChanges, policyErrorMessage } from './key-policy.js';

/** The name a key goes by: its label, or "Test standard key" for a standard one. */
export function keyTitle(key) {
  return key.kind === 'standard' ? `${key.type === 'test' ? 'Test' : 'Live'} standard key` : key.label;
}

/**
 * What the key is, as a description list (its status and mode are badges in the page
 * header). `page` gives `scopes(key)` and `creator(key)` as nodes or text.
 */
export function keyFacts(key, page) {
  const expires = key.expires_at
    ? h('span', timeEl(key.expires_at, formatDateTime(key.expires_at)), key.status === 'active' ? h('span.sub', relative(key.expires_at)) : null)
    : h('span.muted', 'Never');
  return h('dl.meta.detail-meta.key-facts',
    h('div', h('dt', 'Permissions'), h('dd', page.scopes(key))),
    h('div', h('dt', 'Last used'), h('dd', lastUsed(key))),
    h('div', h('dt', 'Last used from'), h('dd', key.last_used_ip ? h('code', key.last_used_ip) : h('span.muted', '—'))),
    h('div', h('dt', 'Expires'), h('dd', expires)),
    h('div', h('dt', 'Created'), h('dd', timeEl(key.created_at, formatDateTime(key.created_at)), h('span.sub', `by ${page.creator(key)}`))));
}

/**
 * When the key was last used. Its time is recorded every few seconds, its address with the
 * usage counts (every second): for a moment the address can be known before the time.
 */
function lastUsed(key) {
  if (key.last_used_at) return [timeEl(key.last_used_at, relative(key.last_used_at)), h('span.sub', formatDateTime(key.last_used_at))];
  return key.last_used_ip ? h('span', 'Moments ago') : h('span.muted', 'Never');
}

/** The key's limits and metadata in words, with the button that edits them (`onEdit`). */
export function limitsSection(key, onEdit) {
  const titleId = nextId('policy-title');
  const editable = key.status === 'active';
  const edit = editable ? h('button.btn.secondary.small', { type: 'button', dataset: { focusId: `edit-limits-${key.id}` } }, 'Edit limits and metadata') : null;
  if (edit) edit.addEventListener('click', onEdit);
  return h('section.section.card.limits-section', { 'aria-labelledby': titleId },
    h('div.section-head',
      h('div', h('h2', { id: titleId }, 'Limits and metadata'),
        editable
          ? h('p.muted', 'Where, how often and how much the key may be used, and the metadata your services get back.')
          : h('p.muted', 'This key is no longer active, so its limits can no longer be changed.')),
      edit),
    policySummary(key));
}

/**
 * The form that changes a key's four settings. `page` gives `me` (the signed-in user),
 * `twoFactorFirst(onFollow)` (the alert that says how to enable 2FA) and `changed(updated)`,
 * which shows the saved key.
 */
export function openKeyEdit(key, page) {
  const title = keyTitle(key);
  const policy = policyFields({ key, me: page.me.role === 'admin' ? page.me : null });
  const save = h('button.btn.primary', { type: 'submit' }, 'Save changes');
  const cancel = h('button.btn.secondary', { type: 'button' }, 'Cancel');
  const formId = nextId('policy-form');
  const form = h('form.form.policy-fields', { id: formId, novalidate: true, 'aria-label': `Limits and metadata of ${title}` },
    h('div.form-alert', { hidden: true }),
    policy.element);
  const modal = openModal({
    title: `Edit “${title}”`,
    description: 'Every part is optional: empty a field to remove that setting.',
    content: form,
    actions: [cancel, h('span.spacer'), save],
    size: 'wide',
    initialFocus: policy.first,
    isDirty: unsavedChanges(form),
  });
  save.setAttribute('form', formId);
  cancel.addEventListener('click', () => modal.dismiss());
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const read = policy.read();
    if (read.error) {
      showFormError(form, read.error);
      return;
    }
    const changes = policyChanges(key, read.values);
    if (!Object.keys(changes).length) {
      const slot = form.querySelector('.form-alert');
      slot.replaceChildren(h('div.alert.alert-info', { role: 'status' }, h('div', h('p', 'Nothing has changed yet. Change a setting, or press Cancel.'))));
      slot.hidden = false;
      return;
    }
    await busy(save, 'Saving…', async () => {
      let updated;
      try {
        updated = await api.patch(`/v1/api-keys/${encodeURIComponent(key.id)}/`, changes);
      } catch (error) {
        if (error.code === 'two_factor_required') {
          const slot = form.querySelector('.form-alert');
          slot.replaceChildren(page.twoFactorFirst(() => modal.close()));
          slot.hidden = false;
        } else {
          if (error.field) error.message = policyErrorMessage(error);
          showFormError(form, error);
        }
        return;
      }
      modal.close();
      toast(`Saved the limits of “${title}”`);
      await page.changed(updated);
    });
  });
}
