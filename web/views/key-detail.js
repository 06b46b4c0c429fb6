// One key's detail, in a dialog: what it is, where and how often it may be used, its metadata
// and, when it has a usage limit, how much is left. "Edit limits" changes those four settings
// (PATCH /v1/api-keys/{id}/; a cleared setting is sent as null, which removes it).

import * as api from '../api.js';
import {
  h, busy, toast, openModal, showFormError, clearFormErrors, statusBadge, badge, timeEl, relative,
  formatDateTime, unsavedChanges, nextId,
} from '../ui.js';
import { policyFields, policySummary, policyChanges, policyErrorMessage } from './key-policy.js';
import { leakBanner } from './leaks.js';

/**
 * Opens the detail of `key`. `page` gives what the key list knows: `scopes(key)` and
 * `creator(key)` as nodes or text, `me` (the signed-in user), `blocked()` (true when the account's
 * 2FA policy stops this person from changing keys; it says so), `twoFactorFirst(onFollow)`
 * (the alert that says how) and `changed()` (reloads the lists after an edit).
 */
export function openKeyDetail(key, page) {
  const title = key.kind === 'standard' ? `${key.type === 'test' ? 'Test' : 'Live'} standard key` : key.label;
  const close = h('button.btn.secondary', { type: 'button' }, 'Done');
  const editable = key.status === 'active';
  const edit = editable ? h('button.btn.primary', { type: 'button' }, 'Edit limits and metadata') : null;
  const expires = key.expires_at
    ? h('span', timeEl(key.expires_at, formatDateTime(key.expires_at)), key.status === 'active' ? h('span.sub', relative(key.expires_at)) : null)
    : h('span.muted', 'Never');
  const policyTitle = nextId('policy-title');
  const content = [
    leakBanner(key),
    h('section.detail-section', { 'aria-label': 'About this key' },
      h('dl.meta.detail-meta',
        h('div', h('dt', 'Key'), h('dd', h('code', key.hint))),
        h('div', h('dt', 'Status'), h('dd.badges', statusBadge(key.status), badge(key.type === 'test' ? 'Test' : 'Live', key.type === 'test' ? 'blue' : 'violet'))),
        h('div', h('dt', 'Permissions'), h('dd', page.scopes(key))),
        h('div', h('dt', 'Expires'), h('dd', expires)),
        h('div', h('dt', 'Last used'), h('dd', key.last_used_at ? timeEl(key.last_used_at, relative(key.last_used_at)) : h('span.muted', 'Never'))),
        h('div', h('dt', 'Created'), h('dd', timeEl(key.created_at, formatDateTime(key.created_at)), h('span.sub', `by ${page.creator(key)}`))))),
    h('section.detail-section', { 'aria-labelledby': policyTitle },
      h('h3', { id: policyTitle }, 'Limits and metadata'),
      editable ? null : h('p.hint', 'This key is no longer active, so its limits can no longer be changed.'),
      policySummary(key)),
  ];
  const modal = openModal({
    title,
    description: key.kind === 'standard' ? 'Reaches every product. Its limits and metadata can be changed; its permissions cannot.' : null,
    content,
    actions: edit ? [close, edit] : [close],
    size: 'wide',
    initialFocus: () => close,
  });
  close.addEventListener('click', () => modal.close());
  if (edit) {
    edit.addEventListener('click', () => {
      modal.close();
      if (page.blocked()) return;
      openKeyEdit(key, page, title);
    });
  }
}

/** The form that changes a key's four settings; on success the detail opens again, updated. */
function openKeyEdit(key, page, title) {
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
      page.changed();
      openKeyDetail(updated, page);
    });
  });
}
