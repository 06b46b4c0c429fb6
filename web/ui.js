// DOM helpers: elements are built with these (text is always set as text, never parsed as
// HTML), plus the modal dialog with its focus trap, toasts, badges and date formatting.

/**
 * h('button.btn.primary', { type: 'button', onclick }, 'Save') → an element.
 * Attributes: `class`, `text`, `on<event>` handlers, `dataset`, booleans; children: nodes or
 * strings (as text), arrays, null/false (skipped).
 */
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.classList.add(...classes);
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') {
      for (const c of String(value).split(/\s+/).filter(Boolean)) el.classList.add(c);
    } else if (key === 'text') {
      el.textContent = value;
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'value' || key === 'checked' || key === 'selected' || key === 'disabled' || key === 'readOnly') {
      el[key] = value;
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

let uid = 0;
/** A unique element id with a readable prefix. */
export const nextId = (prefix) => `${prefix}-${++uid}`;

/** A small inline SVG icon from a fixed set (built as DOM, no markup strings). */
const ICONS = {
  key: 'M8 20a4.5 4.5 0 1 1 0-9 4.5 4.5 0 0 1 0 9zM11.2 12.3L20 3.5M16.5 7l3 3M14 9.5l2.5 2.5',
  shield: 'M12 3l7 3v6c0 4.5-3 7.7-7 9-4-1.3-7-4.5-7-9V6l7-3z',
  users: 'M9 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7zm-6 9c0-3.3 2.7-6 6-6s6 2.7 6 6M17 11a3 3 0 1 0 0-6M21 20c0-2.6-1.7-4.8-4-5.6',
  list: 'M8 6h13M8 12h13M8 18h13M3.5 6h.01M3.5 12h.01M3.5 18h.01',
  settings: 'M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-1.8-.3 1.7 1.7 0 0 0-1 1.5V21a2 2 0 1 1-4 0v-.1a1.7 1.7 0 0 0-1.1-1.5 1.7 1.7 0 0 0-1.8.3l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1a1.7 1.7 0 0 0 .3-1.8 1.7 1.7 0 0 0-1.5-1H3a2 2 0 1 1 0-4h.1a1.7 1.7 0 0 0 1.5-1.1 1.7 1.7 0 0 0-.3-1.8l-.1-.1a2 2 0 1 1 2.8-2.8l.1.1a1.7 1.7 0 0 0 1.8.3H9a1.7 1.7 0 0 0 1-1.5V3a2 2 0 1 1 4 0v.1a1.7 1.7 0 0 0 1 1.5 1.7 1.7 0 0 0 1.8-.3l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0-.3 1.8V9a1.7 1.7 0 0 0 1.5 1H21a2 2 0 1 1 0 4h-.1a1.7 1.7 0 0 0-1.5 1z',
  copy: 'M9 9h10v12H9zM5 15H4V3h12v1',
  plus: 'M12 5v14M5 12h14',
  menu: 'M4 6h16M4 12h16M4 18h16',
  close: 'M6 6l12 12M18 6L6 18',
  warning: 'M12 3l10 18H2L12 3zm0 7v5m0 3v.01',
  check: 'M5 12l5 5L20 7',
  logout: 'M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10',
  chevron: 'M9 6l6 6-6 6',
  lock: 'M6 11h12v10H6zM8 11V7a4 4 0 0 1 8 0v4',
  refresh: 'M20 11a8 8 0 0 0-14.6-4.5L4 8M4 4v4h4M4 13a8 8 0 0 0 14.6 4.5L20 16M20 20v-4h-4',
  search: 'M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14zm5-2l5 5',
  bolt: 'M13 2L4 14h7l-1 8 9-12h-7l1-8z',
  chart: 'M4 20h16M7 16v-5M12 16V6M17 16v-8',
  bell: 'M6 16V11a6 6 0 0 1 12 0v5l2 2H4l2-2zM10 21h4',
};

export function icon(name, extraClass) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', `icon${extraClass ? ` ${extraClass}` : ''}`);
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', ICONS[name] || '');
  svg.append(path);
  return svg;
}

const DATE = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
const DATE_TIME = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
});

const NUMBER = new Intl.NumberFormat();

/** A count in the person's locale: 1,204. */
export function formatNumber(n) {
  return NUMBER.format(n);
}

export function formatDate(iso) {
  return iso ? DATE.format(new Date(iso)) : '—';
}

export function formatDateTime(iso) {
  return iso ? DATE_TIME.format(new Date(iso)) : '—';
}

/** "3 minutes ago", "in 5 days", or "Never" for null. */
export function relative(iso, never = 'Never') {
  if (!iso) return never;
  const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
  const units = [['year', 31536000], ['month', 2592000], ['day', 86400], ['hour', 3600], ['minute', 60]];
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return rtf.format(Math.round(seconds / size), unit);
  }
  return Math.abs(seconds) < 45 ? 'just now' : rtf.format(Math.round(seconds), 'second');
}

/** A <time> element with the exact time as its tooltip. */
export function timeEl(iso, text) {
  if (!iso) return h('span.muted', text || '—');
  return h('time', { datetime: iso, title: formatDateTime(iso) }, text || formatDate(iso));
}

const STATUS_TONES = { active: 'green', expired: 'amber', revoked: 'red', rotated: 'gray' };

export function statusBadge(status) {
  const label = status.charAt(0).toUpperCase() + status.slice(1);
  return h(`span.badge.badge-${STATUS_TONES[status] || 'gray'}`, label);
}

export function badge(text, tone = 'gray') {
  return h(`span.badge.badge-${tone}`, text);
}

/** Polite announcements for screen readers and a visible toast. */
export function toast(message, tone = 'success') {
  const region = document.getElementById('toasts');
  if (!region) return;
  const el = h(`div.toast.toast-${tone}`, { role: 'status' }, icon(tone === 'error' ? 'warning' : 'check'), h('span', message));
  region.append(el);
  setTimeout(() => el.classList.add('leaving'), 3800);
  setTimeout(() => el.remove(), 4200);
}

/** An inline alert (role=alert so it is announced when it appears). */
export function alertBox(message, tone = 'error', ...extra) {
  return h(`div.alert.alert-${tone}`, { role: tone === 'error' ? 'alert' : 'status' },
    icon(tone === 'info' ? 'shield' : 'warning'), h('div', h('p', message), ...extra));
}

/**
 * A section that could not load: the reason and a Retry button that runs `retry` (which
 * replaces this box with the section, or with a new error).
 */
export function loadError(error, retry) {
  const button = h('button.btn.secondary.small', { type: 'button' }, icon('refresh'), 'Retry');
  button.addEventListener('click', () => busy(button, 'Retrying…', async () => retry()));
  return alertBox(error.message, 'error', h('div.alert-actions', button));
}

/** The state of every control of `form`, to compare later. */
function formState(form) {
  return [...form.querySelectorAll('input, select, textarea')]
    .map((el) => (el.type === 'checkbox' || el.type === 'radio' ? String(el.checked) : el.value))
    .join('\u0000');
}

/** For openModal's `isDirty`: true once any control of `form` differs from how it opened. */
export function unsavedChanges(form) {
  const opened = formState(form);
  return () => formState(form) !== opened;
}

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * Opens a modal dialog. Focus moves into it, Tab is trapped inside, Escape closes it (unless
 * `dismissible` is false) and focus returns to where it was on close.
 * With `isDirty`, a form whose input would be lost asks first: Escape, a click beside the
 * dialog, its close button and `dismiss()` (for Cancel) offer "Keep editing" or "Discard".
 * Returns { root, close, dismiss }. `onClose` runs once when it closes.
 */
export function openModal({ title, description, content, actions = [], onClose, dismissible = true, size = '', initialFocus, isDirty }) {
  const opener = document.activeElement;
  const titleId = nextId('modal-title');
  const descId = description ? nextId('modal-desc') : null;
  const closeButton = dismissible
    ? h('button.icon-button.modal-close', { type: 'button', 'aria-label': 'Close' }, icon('close'))
    : null;
  const dialog = h(`div.modal${size ? `.modal-${size}` : ''}`, {
    role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': titleId, 'aria-describedby': descId,
  },
  h('div.modal-header', h('h2', { id: titleId }, title), closeButton),
  h('div.modal-body', description ? h('p.modal-description', { id: descId }, description) : null, content),
  actions.length ? h('div.modal-actions', actions) : null);
  const actionBar = dialog.querySelector('.modal-actions');
  const backdrop = h('div.modal-backdrop', dialog);
  const app = document.getElementById('app');
  let closed = false;

  function onKey(event) {
    if (event.key === 'Escape' && dismissible) {
      event.preventDefault();
      dismiss();
    } else if (event.key === 'Tab') {
      const items = [...dialog.querySelectorAll(FOCUSABLE)].filter((el) => el.offsetParent !== null || el === document.activeElement);
      if (!items.length) {
        event.preventDefault();
        return;
      }
      const first = items[0];
      const last = items[items.length - 1];
      if (event.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && (document.activeElement === last || !dialog.contains(document.activeElement))) {
        event.preventDefault();
        first.focus();
      }
    }
  }

  function close() {
    if (closed) return;
    closed = true;
    document.removeEventListener('keydown', onKey, true);
    if (onClose) onClose();
    backdrop.remove();
    if (app) app.inert = false;
    document.body.classList.remove('modal-open');
    restoreFocus(opener);
  }

  // Closing would lose what was typed: ask in the dialog's own footer instead.
  let asking = null;
  function dismiss() {
    if (asking) return;
    if (!isDirty || !isDirty() || !actionBar) {
      close();
      return;
    }
    const kept = [...actionBar.childNodes];
    const keep = h('button.btn.secondary', { type: 'button' }, 'Keep editing');
    const discard = h('button.btn.danger', { type: 'button' }, 'Discard');
    asking = h('div.discard-ask', { role: 'alert' }, icon('warning'), h('span', 'Discard what you entered? It is not saved.'));
    actionBar.replaceChildren(asking, keep, discard);
    actionBar.classList.add('asking');
    keep.addEventListener('click', () => {
      actionBar.replaceChildren(...kept);
      actionBar.classList.remove('asking');
      asking = null;
      const first = (initialFocus && initialFocus()) || dialog.querySelector(FOCUSABLE);
      if (first) first.focus();
    });
    discard.addEventListener('click', close);
    keep.focus();
  }

  if (closeButton) closeButton.addEventListener('click', dismiss);
  backdrop.addEventListener('mousedown', (event) => {
    if (event.target === backdrop && dismissible) {
      event.preventDefault(); // keeps focus where dismiss() puts it
      dismiss();
    }
  });
  document.addEventListener('keydown', onKey, true);
  document.body.append(backdrop);
  document.body.classList.add('modal-open');
  if (app) app.inert = true;
  const target = (initialFocus && initialFocus()) || dialog.querySelector(FOCUSABLE) || dialog;
  if (target === dialog) dialog.tabIndex = -1;
  target.focus();
  return { root: dialog, close, dismiss };
}

/**
 * Gives focus back to `element`; if the page re-rendered it meanwhile, to its successor (same
 * `data-focus-id`), else to the page title, so keyboard users never land on <body>.
 */
export function restoreFocus(element) {
  let target = element && document.contains(element) ? element : null;
  const id = element && element.dataset ? element.dataset.focusId : null;
  if (!target && id) target = document.querySelector(`[data-focus-id="${CSS.escape(id)}"]`);
  if (!target) target = document.getElementById('page-title');
  if (target && typeof target.focus === 'function') target.focus();
}

/** A confirmation dialog; resolves to true when confirmed. */
export function confirmDialog({ title, message, details, confirmLabel, tone = 'danger', extra }) {
  return new Promise((resolve) => {
    let answer = false;
    const cancel = h('button.btn.secondary', { type: 'button' }, 'Cancel');
    const ok = h(`button.btn.${tone}`, { type: 'button' }, confirmLabel);
    const modal = openModal({
      title,
      description: message,
      content: [details ? h('div.confirm-details', details) : null, extra || null],
      actions: [cancel, ok],
      onClose: () => resolve(answer),
      initialFocus: () => cancel,
    });
    cancel.addEventListener('click', () => modal.close());
    ok.addEventListener('click', () => {
      answer = true;
      modal.close();
    });
  });
}

/**
 * A labelled form field with a hint and an error slot tied to the input for screen readers.
 * With `max`, a counter shows how many characters of the most allowed are used; the input is
 * never cut short (a pasted label that is too long is shown, and refused with a reason).
 */
export function field({ label, input, hint, name, optional, max }) {
  const id = input.id || nextId(name || 'field');
  input.id = id;
  const hintId = hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  const counter = max ? characterCounter(input, max, `${id}-count`) : null;
  input.setAttribute('aria-describedby', [hintId, counter && counter.id, errorId].filter(Boolean).join(' '));
  return h('div.field', { dataset: { field: name || '' } },
    h('label', { for: id }, label, optional ? h('span.optional', ' (optional)') : null),
    input,
    counter || hint ? h('div.field-notes', hint ? h('p.hint', { id: hintId }, hint) : null, counter) : null,
    h('p.field-error', { id: errorId, hidden: true }));
}

/** The number of characters (not UTF-16 units) in `text`, as the API counts them. */
export const characters = (text) => [...text].length;

function characterCounter(input, max, id) {
  const counter = h('p.counter', { id });
  const update = () => {
    const used = characters(input.value);
    counter.textContent = `${used} / ${max}`;
    counter.classList.toggle('over', used > max);
  };
  input.addEventListener('input', update);
  update();
  return counter;
}

/** Shows an API error next to its field (by `data-field`), or in the form's alert slot. */
export function showFormError(form, error, fieldAliases = {}) {
  clearFormErrors(form);
  const name = error.field ? fieldAliases[error.field] || error.field : null;
  const container = name ? form.querySelector(`[data-field="${CSS.escape(name)}"]`) : null;
  if (container) {
    const slot = container.querySelector('.field-error');
    // Announced as it appears, and read again with the input it is about when that has focus.
    slot.setAttribute('role', 'alert');
    slot.textContent = error.message;
    slot.hidden = false;
    if (!slot.id) slot.id = nextId('error');
    container.classList.add('has-error');
    const input = container.querySelector(`[name="${CSS.escape(name)}"]:not([disabled])`)
      || container.querySelector('input:not([disabled]), select:not([disabled]), textarea:not([disabled])');
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      const described = (input.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
      if (!described.includes(slot.id)) input.setAttribute('aria-describedby', [...described, slot.id].join(' '));
      input.focus();
    }
    container.scrollIntoView({ block: 'nearest' });
    // The message goes as soon as the user changes what it is about.
    const clear = () => {
      container.classList.remove('has-error');
      slot.textContent = '';
      slot.hidden = true;
      for (const el of container.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    };
    container.addEventListener('input', clear, { once: true });
    container.addEventListener('change', clear, { once: true });
    return;
  }
  const slot = form.querySelector('.form-alert');
  if (slot) {
    slot.replaceChildren(alertBox(error.message));
    slot.hidden = false;
    slot.scrollIntoView({ block: 'nearest' });
  }
}

export function clearFormErrors(form) {
  for (const c of form.querySelectorAll('.has-error')) c.classList.remove('has-error');
  for (const e of form.querySelectorAll('.field-error')) {
    e.textContent = '';
    e.hidden = true;
  }
  for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
  const slot = form.querySelector('.form-alert');
  if (slot) {
    slot.replaceChildren();
    slot.hidden = true;
  }
}

/** Disables a button while `work` runs, with a busy label. */
export async function busy(button, label, work) {
  const previous = [...button.childNodes];
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.replaceChildren(h('span.spinner', { 'aria-hidden': 'true' }), label);
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.replaceChildren(...previous);
  }
}

/** A page header: title, lead text and actions. */
export function pageHeader(title, lead, ...actions) {
  return pageHeaderIn('Settings', title, lead, ...actions);
}

/** A page header under another part of the console than Settings. */
export function pageHeaderIn(eyebrow, title, lead, ...actions) {
  return h('header.page-header',
    h('div', h('p.eyebrow', eyebrow), h('h1', { tabindex: '-1', id: 'page-title' }, title), lead ? h('p.lead', lead) : null),
    actions.length ? h('div.page-actions', actions) : null);
}

/**
 * The head of a table whose rows are all on the page, sortable by its columns: a button in each
 * sortable header (click again to reverse), `aria-sort` on the sorted one. `columns` are
 * `{ label, sortBy?: (row) => string | number, hidden? }`; `showRows(rows)` redraws the body.
 */
export function sortableHead(columns, rows, showRows) {
  const state = { index: -1, ascending: true };
  const headers = columns.map((column, index) => {
    const th = h('th', { scope: 'col' });
    if (!column.sortBy) {
      th.append(column.hidden ? h('span.sr-only', column.label) : column.label);
      return th;
    }
    const arrow = h('span.sort-arrow', { 'aria-hidden': 'true' });
    const button = h('button.sort-button', { type: 'button' }, column.label, arrow);
    button.addEventListener('click', () => {
      state.ascending = state.index === index ? !state.ascending : true;
      state.index = index;
      const sign = state.ascending ? 1 : -1;
      const sorted = [...rows].sort((a, b) => {
        const x = column.sortBy(a);
        const y = column.sortBy(b);
        const order = typeof x === 'string' ? x.localeCompare(y) : x - y;
        return sign * order;
      });
      headers.forEach((other, i) => {
        if (i === index) other.setAttribute('aria-sort', state.ascending ? 'ascending' : 'descending');
        else other.removeAttribute('aria-sort');
        const mark = other.querySelector('.sort-arrow');
        if (mark) mark.textContent = i === index ? (state.ascending ? '↑' : '↓') : '';
      });
      showRows(sorted);
    });
    th.append(button);
    return th;
  });
  return h('thead', h('tr', headers));
}

/** A placeholder shown while a section loads. */
export function loading(label = 'Loading…') {
  return h('div.loading', { role: 'status' }, h('span.spinner', { 'aria-hidden': 'true' }), label);
}

/** An empty state. */
export function emptyState(title, text, action) {
  return h('div.empty-state', icon('key'), h('p.empty-title', title), text ? h('p.muted', text) : null, action || null);
}

/** The page a user sees where their role gives no access. */
export function noAccess(title, text) {
  return h('section.no-access', { 'aria-labelledby': 'page-title' },
    h('div.no-access-icon', icon('lock')),
    h('h1', { id: 'page-title', tabindex: '-1' }, title),
    h('p', text),
    h('a.btn.secondary', { href: '#/settings/security' }, 'Go to your security settings'));
}

/** Replaces the children of `el` (same rules as h(): null and false are skipped). */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}
