// Settings → Members (admins): the users of the account, adding one, changing a role, removing.

import * as api from '../api.js';
import {
  h, icon, field, alertBox, busy, toast, showFormError, clearFormErrors, pageHeader, loading,
  badge, confirmDialog, timeEl, openModal, loadError, unsavedChanges, sortableHead,
} from '../ui.js';

const ROLES = [
  ['admin', 'Admin', 'Manages keys, members and the account policy.'],
  ['developer', 'Developer', 'Manages API keys.'],
  ['member', 'Member', 'Signs in; cannot see or manage keys.'],
];
const ROLE_NAMES = Object.fromEntries(ROLES.map(([id, name]) => [id, name]));

export async function renderMembers(view, ctx) {
  const add = h('button.btn.primary', { type: 'button' }, icon('plus'), 'Add member');
  const alertSlot = h('div.page-alert');
  const list = h('section.section', { 'aria-labelledby': 'members-title' }, loading('Loading members…'));
  view.append(
    pageHeader('Members', `The people who can sign in to ${ctx.me.account.name}, and what each may do.`, add),
    alertSlot,
    list,
    h('section.section.roles-help', { 'aria-labelledby': 'roles-title' },
      h('h2', { id: 'roles-title' }, 'Roles'),
      h('dl.role-list', ROLES.map(([, name, text]) => h('div', h('dt', name), h('dd', text))))));

  const load = async () => {
    let users;
    try {
      users = (await api.get('/v1/users/')).results;
    } catch (error) {
      list.replaceChildren(loadError(error, load));
      return;
    }
    const body = h('tbody', users.map((user) => row(user)));
    const head = sortableHead([
      { label: 'Email', sortBy: (u) => u.email },
      { label: 'Role', sortBy: (u) => ROLES.findIndex(([id]) => id === u.role) },
      { label: '2FA', sortBy: (u) => (u.two_factor_enabled ? 0 : 1) },
      { label: 'Added', sortBy: (u) => new Date(u.created_at).getTime() },
      { label: 'Actions', hidden: true },
    ], users, (sorted) => body.replaceChildren(...sorted.map((user) => row(user))));
    list.replaceChildren(
      h('h2.sr-only', { id: 'members-title' }, 'Members'),
      h('div.table-wrap', h('table.data-table.members-table', head, body)));
  };

  const row = (user) => {
    const self = user.id === ctx.me.user.id;
    const selectId = `role-${user.id}`;
    const role = h('select.role-select', { id: selectId, disabled: self, 'aria-label': `Role of ${user.email}` },
      ROLES.map(([id, name]) => h('option', { value: id, selected: id === user.role }, name)));
    role.addEventListener('change', async () => {
      alertSlot.replaceChildren();
      const previous = user.role;
      const next = role.value;
      // A role is access: the change is confirmed, with what it gives or takes away.
      const yes = await confirmDialog({
        title: `Make ${user.email} ${ROLE_NAMES[next] || next}?`,
        message: `${ROLE_NAMES[next] || next}: ${ROLES.find(([id]) => id === next)?.[2] || ''} Their console sessions end now, so they sign in again with the new role.`,
        confirmLabel: 'Change role',
        tone: 'primary',
      });
      if (!yes) {
        role.value = previous;
        return;
      }
      role.disabled = true;
      try {
        const updated = await api.patch(`/v1/users/${encodeURIComponent(user.id)}/`, { role: role.value });
        user.role = updated.role;
        toast(`${user.email} is now ${ROLE_NAMES[updated.role] || updated.role}`);
      } catch (error) {
        role.value = previous;
        alertSlot.replaceChildren(alertBox(error.message));
      } finally {
        role.disabled = false;
      }
    });
    const remove = self ? null : h('button.btn.ghost-danger.small', { type: 'button', 'aria-label': `Remove ${user.email}` }, 'Remove');
    if (remove) {
      remove.addEventListener('click', async () => {
        alertSlot.replaceChildren();
        const yes = await confirmDialog({
          title: `Remove ${user.email}?`,
          message: 'They lose access at once: their console sessions end now. Keys they created keep working until you revoke them.',
          confirmLabel: 'Remove member',
        });
        if (!yes) return;
        try {
          await api.del(`/v1/users/${encodeURIComponent(user.id)}/`);
          toast(`${user.email} removed`);
          await load();
        } catch (error) {
          alertSlot.replaceChildren(alertBox(error.message));
        }
      });
    }
    return h('tr',
      h('td', { dataset: { label: 'Email' } }, h('div.member',
        h('span.avatar.small', { 'aria-hidden': 'true' }, user.email.charAt(0).toUpperCase()),
        h('span', user.email, self ? h('span.you', ' (you)') : null))),
      h('td', { dataset: { label: 'Role' } }, self ? h('span', h('label.sr-only', { for: selectId }, 'Your role'), badge(ROLE_NAMES[user.role] || user.role, 'blue')) : role),
      h('td', { dataset: { label: '2FA' } }, user.two_factor_enabled ? badge('On', 'green') : badge('Off', 'gray')),
      h('td', { dataset: { label: 'Added' } }, timeEl(user.created_at)),
      h('td.actions', { dataset: { label: 'Actions' } }, remove || h('span.muted', '—')));
  };

  add.addEventListener('click', () => openAddMember(async () => {
    await load();
  }));
  await load();
}

function openAddMember(onAdded) {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'off', required: true, spellcheck: 'false', placeholder: 'name@company.com' });
  const role = h('select', { name: 'role' }, ROLES.map(([id, name, text]) => h('option', { value: id, selected: id === 'member' }, `${name} — ${text}`)));
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'new-password', required: true, minlength: '12' });
  const submit = h('button.btn.primary', { type: 'submit', form: 'add-member-form' }, 'Add member');
  const cancel = h('button.btn.secondary', { type: 'button' }, 'Cancel');
  const form = h('form.form', { id: 'add-member-form', novalidate: true },
    h('div.form-alert', { hidden: true }),
    field({ label: 'Email', input: email, name: 'email' }),
    field({ label: 'Role', input: role, name: 'role' }),
    field({ label: 'Initial password', input: password, name: 'password', hint: 'At least 12 characters. Share it privately; the member signs in with it.' }));
  const modal = openModal({
    title: 'Add a member', content: form, actions: [cancel, submit], initialFocus: () => email, isDirty: unsavedChanges(form),
  });
  cancel.addEventListener('click', () => modal.dismiss());
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    if (!email.value.trim() || !email.value.includes('@')) {
      showFormError(form, { field: 'email', message: 'Enter the email address the member signs in with.' });
      return;
    }
    if (password.value.length < 12) {
      showFormError(form, { field: 'password', message: 'Use at least 12 characters.' });
      return;
    }
    await busy(submit, 'Adding…', async () => {
      try {
        const user = await api.post('/v1/users/', { email: email.value.trim(), role: role.value, password: password.value });
        password.value = '';
        modal.close();
        toast(`${user.email} added as ${ROLE_NAMES[user.role] || user.role}`);
        await onAdded();
      } catch (error) {
        showFormError(form, error);
      }
    });
  });
}
