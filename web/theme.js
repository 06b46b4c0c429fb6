// The colour theme: the system's (prefers-color-scheme) unless the person picked one. The
// choice is a display preference, not a secret, so it is kept in localStorage and shared by
// every tab. The CSS does the rest: light-dark() follows color-scheme, which data-theme sets.

import { h } from './ui.js';

const SLOT = 'keywarden.theme';
const CHOICES = [['system', 'System'], ['light', 'Light'], ['dark', 'Dark']];

export function currentTheme() {
  let stored = null;
  try {
    stored = localStorage.getItem(SLOT);
  } catch {
    // Storage refused (a privacy mode): the system theme applies.
  }
  return CHOICES.some(([value]) => value === stored) ? stored : 'system';
}

export function applyTheme(choice = currentTheme()) {
  if (choice === 'system') document.documentElement.removeAttribute('data-theme');
  else document.documentElement.dataset.theme = choice;
}

function saveTheme(choice) {
  try {
    if (choice === 'system') localStorage.removeItem(SLOT);
    else localStorage.setItem(SLOT, choice);
  } catch {
    // Not kept: it still applies to this page.
  }
  applyTheme(choice);
}

// Another tab changed it: follow.
window.addEventListener('storage', (event) => {
  if (event.key === SLOT) applyTheme();
});

let uid = 0;
/** A labelled select that switches the theme at once. */
export function themePicker() {
  const id = `theme-${++uid}`;
  const select = h('select.theme-select', { id, name: 'theme' },
    CHOICES.map(([value, text]) => h('option', { value, selected: value === currentTheme() }, text)));
  select.addEventListener('change', () => saveTheme(select.value));
  return h('div.theme-picker', h('label', { for: id }, 'Theme'), select);
}

applyTheme();
