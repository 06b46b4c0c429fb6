// Settings → Webhooks (admins): the account's endpoints with their state; "Add endpoint" (URL,
// the events to send, a description) and its signing secret shown once; per endpoint: send a
// test event, rotate the secret, turn deliveries off and on, edit, delete, and the delivery
// log with Retry for failed deliveries.

import * as api from '../api.js';
import {
  h, icon, field, nextId, alertBox, busy, toast, openModal, confirmDialog, showFormError,
  clearFormErrors, badge, timeEl, relative, formatDateTime, pageHeader, loading, emptyState,
  restoreFocus, loadError, unsavedChanges,
} from '../ui.js';
import { showSecret } from './keys.js';

/** The event types an endpoint can subscribe to (SPEC §7), with what each means. */
const EVENT_TYPES = [
  ['key.created', 'Key created', 'A key was generated.'],
  ['key.updated', 'Key updated', "A key's label, permissions or expiry changed."],
  ['key.rotated', 'Key rotated', 'A key was replaced by a new secret.'],
  ['key.revoked', 'Key revoked', 'A key was revoked.'],
  ['key.expiring', 'Key expiring', 'A key expires in 7 days, and again in 1 day.'],
  ['key.expired', 'Key expired', 'A key reached its expiry date.'],
  ['key.rotation_due', 'Rotation due', "A key became older than the account's rotation period."],
  ['key.leaked', 'Key leaked', 'A key was found exposed and handled as leaked.'],
  ['key.canary_used', 'Canary key used', 'Someone presented a canary key.'],
  ['user.added', 'Member added', 'A member was added to the account.'],
  ['user.removed', 'Member removed', 'A member was removed.'],
  ['user.role_changed', 'Role changed', "A member's role changed."],
  ['account.updated', 'Policy changed', "The account's key policy changed."],
];
const TYPE_NAMES = Object.fromEntries([...EVENT_TYPES.map(([id, name]) => [id, name]), ['webhook.test', 'Test event']]);
const STATES = { active: ['Active', 'green'], failing: ['Failing', 'red'], disabled: ['Disabled', 'gray'] };
const DELIVERY_STATES = { delivered: ['Delivered', 'green'], pending: ['Pending', 'amber'], failed: ['Failed', 'red'] };
const SECRET_WORDS = {
  fieldLabel: 'Signing secret',
  copyName: 'Copy the signing secret to the clipboard',
  warningLead: 'Copy this secret now. ',
  warning: 'It will never be shown again. If you lose it, rotate the secret and give the new one to the receiver.',
  hint: "Store it with the receiver (its secret store or .env file) and verify every delivery's webhook-signature header with it.",
  done: 'I have stored the secret',
};
/** How often, and how many times, the log is read again while a test or retry is on its way. */
const POLL_MS = 1000;
const POLL_TIMES = 20;

export async function renderWebhooks(view, ctx) {
  const page = new WebhooksPage(view, ctx);
  await page.start();
}

class WebhooksPage {
  constructor(view, ctx) {
    this.view = view;
    this.ctx = ctx;
    this.alertSlot = h('div.page-alert');
    this.listSlot = h('div.endpoint-slot', loading('Loading endpoints…'));
    this.openLogs = new Set();
    this.polls = new Map();
  }

  async start() {
    const add = h('button.btn.primary', { type: 'button', dataset: { focusId: 'add-endpoint' } }, icon('plus'), 'Add endpoint');
    add.addEventListener('click', () => this.openForm());
    this.view.append(
      pageHeader('Webhooks', "Send key and member events to your own systems as they happen. Every delivery is an HTTPS request signed with the endpoint's secret, so the receiver can check it came from Keywarden.", add),
      this.alertSlot,
      h('section.section', { 'aria-labelledby': 'endpoints-title' },
        h('div.section-head', h('div', h('h2', { id: 'endpoints-title' }, 'Endpoints'),
          h('p.muted', 'A failed delivery is retried for more than three days; then the endpoint is marked Failing.'))),
        this.listSlot),
      this.help());
    await this.load();
  }

  async load() {
    let body;
    try {
      body = await api.get('/v1/webhook-endpoints/');
    } catch (error) {
      this.listSlot.replaceChildren(loadError(error, () => this.load()));
      return;
    }
    this.render(body.results);
  }

  render(endpoints) {
    for (const timer of this.polls.values()) clearTimeout(timer);
    this.polls.clear();
    if (!endpoints.length) {
      const add = h('button.btn.primary', { type: 'button', dataset: { focusId: 'add-endpoint' }, onclick: () => this.openForm() }, icon('plus'), 'Add endpoint');
      this.listSlot.replaceChildren(emptyState('No endpoints yet', 'Add an endpoint to receive key and member events as they happen.', add));
      return;
    }
    const cards = endpoints.map((endpoint) => this.card(endpoint));
    this.listSlot.replaceChildren(h('ul.endpoint-list', cards.map((card) => h('li', card.root))));
    for (const card of cards) {
      if (this.openLogs.has(card.endpoint.id)) this.showLog(card);
    }
  }

  card(endpoint) {
    const titleId = `endpoint-${endpoint.id}-title`;
    const logId = `endpoint-${endpoint.id}-log`;
    const [stateText, tone] = STATES[endpoint.state] || [endpoint.state, 'gray'];
    const events = endpoint.events.includes('*')
      ? 'All events'
      : endpoint.events.map((t) => TYPE_NAMES[t] || t).join(', ');
    const action = (label, focusId, onclick, kind = 'ghost') => h(`button.btn.${kind}.small`, {
      type: 'button', 'aria-describedby': titleId, dataset: { focusId: `${focusId}-${endpoint.id}` }, onclick,
    }, label);
    const logToggle = h('button.btn.ghost.small', {
      type: 'button', 'aria-expanded': 'false', 'aria-controls': logId, 'aria-describedby': titleId,
      dataset: { focusId: `log-${endpoint.id}` },
    }, icon('list'), 'Delivery log');
    const logRegion = h('section.delivery-log', { id: logId, hidden: true, 'aria-label': `Delivery log of ${endpoint.url}` });
    const card = { endpoint, toggle: logToggle, region: logRegion, root: null };
    logToggle.addEventListener('click', () => {
      if (logToggle.getAttribute('aria-expanded') === 'true') this.hideLog(card);
      else this.showLog(card);
    });
    const enabled = endpoint.state !== 'disabled';
    card.root = h('article.endpoint-card', { 'aria-labelledby': titleId, dataset: { endpointId: endpoint.id } },
      h('div.endpoint-head',
        h('div.endpoint-title',
          h('h3', { id: titleId }, h('span.endpoint-url', endpoint.url)),
          endpoint.description ? h('p.muted', endpoint.description) : null),
        h('span.endpoint-state', h('span.sr-only', 'State: '), badge(stateText, tone))),
      endpoint.state === 'failing'
        ? alertBox('A delivery to this endpoint ran out of retries. Check the receiver, then retry the failed deliveries in the log; the next success makes the endpoint active again.', 'warning')
        : null,
      h('dl.meta.wide',
        h('div', h('dt', 'Events'), h('dd', events)),
        h('div', h('dt', 'Added'), h('dd', timeEl(endpoint.created_at)))),
      h('div.endpoint-actions',
        logToggle,
        h('span.spacer'),
        action('Send test event', 'test', () => this.sendTest(card)),
        action('Rotate secret', 'rotate', () => this.rotate(endpoint)),
        action(enabled ? 'Disable' : 'Enable', 'toggle', (event) => this.setEnabled(endpoint, !enabled, event.currentTarget)),
        action('Edit', 'edit', () => this.openForm(endpoint)),
        action('Delete', 'delete', () => this.remove(endpoint), 'ghost-danger')),
      logRegion);
    return card;
  }

  // ---- the delivery log ------------------------------------------------------------------

  showLog(card) {
    this.openLogs.add(card.endpoint.id);
    card.toggle.setAttribute('aria-expanded', 'true');
    card.region.hidden = false;
    return this.loadLog(card);
  }

  hideLog(card) {
    this.openLogs.delete(card.endpoint.id);
    clearTimeout(this.polls.get(card.endpoint.id));
    card.toggle.setAttribute('aria-expanded', 'false');
    card.region.hidden = true;
  }

  /** Reads the log; with `until`, reads it again every second until `until(attempts)` holds. */
  async loadLog(card, until = null, times = POLL_TIMES) {
    const { endpoint, region } = card;
    clearTimeout(this.polls.get(endpoint.id));
    if (!region.firstChild) region.replaceChildren(loading('Loading deliveries…'));
    let page;
    try {
      page = await api.get(`/v1/webhook-endpoints/${encodeURIComponent(endpoint.id)}/deliveries/${api.query({ limit: 25 })}`);
    } catch (error) {
      region.replaceChildren(loadError(error, () => this.loadLog(card, until, times)));
      return;
    }
    if (region.hidden || !document.contains(region)) return;
    this.renderLog(card, page.results);
    if (until && !until(page.results) && times > 1) {
      this.polls.set(endpoint.id, setTimeout(() => this.loadLog(card, until, times - 1), POLL_MS));
    }
  }

  renderLog(card, attempts) {
    const { endpoint, region } = card;
    const refresh = h('button.btn.ghost.small', { type: 'button', 'aria-label': `Refresh the delivery log of ${endpoint.url}`, dataset: { focusId: `refresh-${endpoint.id}` } }, icon('refresh'), 'Refresh');
    refresh.addEventListener('click', () => this.loadLog(card));
    const head = h('div.delivery-log-head', h('h4', 'Delivery log'), refresh);
    if (!attempts.length) {
      region.replaceChildren(head, h('p.muted', 'No deliveries yet. Send a test event to try the endpoint.'));
      return;
    }
    // Retry is offered once per failed delivery, on its newest attempt.
    const offered = new Set();
    const rows = attempts.map((a) => {
      const [stateText, tone] = DELIVERY_STATES[a.state] || [a.state, 'gray'];
      let retry = null;
      if (a.state === 'failed' && !offered.has(a.id)) {
        offered.add(a.id);
        retry = h('button.btn.secondary.small', {
          type: 'button', 'aria-label': `Retry the ${TYPE_NAMES[a.event_type] || a.event_type} delivery of ${formatDateTime(a.at)}`,
          dataset: { focusId: `retry-${a.id}` },
        }, icon('refresh'), 'Retry');
        retry.addEventListener('click', () => this.retry(card, a, retry));
      }
      const ok = a.status !== null && a.status >= 200 && a.status < 300;
      const response = a.status !== null
        ? badge(`HTTP ${a.status}`, ok ? 'green' : 'red')
        : badge('No answer', 'red');
      return h('tr', { dataset: { deliveryId: a.id } },
        h('td', { dataset: { label: 'Event' } }, h('span.event-name', TYPE_NAMES[a.event_type] || a.event_type), h('span.sub.mono', a.event_type)),
        h('td', { dataset: { label: 'Response' } }, response, a.error ? h('span.sub', a.error) : null),
        h('td', { dataset: { label: 'Delivery' } }, badge(stateText, tone), h('span.sub', `Attempt ${a.attempt}`)),
        h('td', { dataset: { label: 'When' } }, timeEl(a.at, formatDateTime(a.at)), h('span.sub', relative(a.at))),
        h('td', { dataset: { label: 'Duration' } }, `${a.duration_ms} ms`),
        h('td.actions', { dataset: { label: 'Actions' } }, retry || h('span.muted', '—')));
    });
    region.replaceChildren(head, h('div.table-wrap', h('table.data-table.deliveries-table',
      h('caption.sr-only', `Delivery attempts to ${endpoint.url}, newest first`),
      h('thead', h('tr', ['Event', 'Response', 'Delivery', 'When', 'Duration', 'Actions'].map((t) => h('th', { scope: 'col' }, t === 'Actions' ? h('span.sr-only', t) : t)))),
      h('tbody', rows))));
  }

  // ---- actions ---------------------------------------------------------------------------

  showError(error) {
    this.alertSlot.replaceChildren(alertBox(error.message));
    this.alertSlot.scrollIntoView({ block: 'nearest' });
  }

  async sendTest(card) {
    this.alertSlot.replaceChildren();
    const { endpoint } = card;
    const before = new Set();
    try {
      const page = await api.get(`/v1/webhook-endpoints/${encodeURIComponent(endpoint.id)}/deliveries/${api.query({ limit: 25 })}`);
      for (const a of page.results) before.add(`${a.id}/${a.attempt}`);
      await api.post(`/v1/webhook-endpoints/${encodeURIComponent(endpoint.id)}/test/`);
    } catch (error) {
      this.showError(error);
      return;
    }
    toast(`Test event sent to ${endpoint.url}`);
    this.openLogs.add(endpoint.id);
    card.toggle.setAttribute('aria-expanded', 'true');
    card.region.hidden = false;
    // Read the log until the test event's first attempt shows.
    await this.loadLog(card, (attempts) => attempts.some((a) => a.event_type === 'webhook.test' && !before.has(`${a.id}/${a.attempt}`)));
  }

  async retry(card, attempt, button) {
    this.alertSlot.replaceChildren();
    await busy(button, 'Retrying…', async () => {
      try {
        await api.post(`/v1/webhook-deliveries/${encodeURIComponent(attempt.id)}/retry/`);
      } catch (error) {
        this.showError(error);
        return;
      }
      toast(`${TYPE_NAMES[attempt.event_type] || attempt.event_type} delivery queued again`);
      const seen = attempt.attempt;
      await this.loadLog(card, (attempts) => attempts.some((a) => a.id === attempt.id && a.attempt > seen));
    });
    // The row's Retry is gone once the delivery is pending again: stay in this log.
    if (!document.contains(button)) {
      const refresh = card.region.querySelector(`[data-focus-id="refresh-${CSS.escape(card.endpoint.id)}"]`);
      (refresh || card.toggle).focus();
    }
  }

  async setEnabled(endpoint, enabled, button) {
    this.alertSlot.replaceChildren();
    try {
      await api.patch(`/v1/webhook-endpoints/${encodeURIComponent(endpoint.id)}/`, { state: enabled ? 'active' : 'disabled' });
    } catch (error) {
      this.showError(error);
      return;
    }
    toast(enabled ? `Deliveries to ${endpoint.url} turned on` : `Deliveries to ${endpoint.url} turned off`);
    await this.load();
    restoreFocus(button);
  }

  async rotate(endpoint) {
    this.alertSlot.replaceChildren();
    const yes = await confirmDialog({
      title: 'Rotate the signing secret?',
      message: 'A new secret is made and shown once. For 24 hours every delivery carries two signatures, one with the old secret and one with the new, so you can update the receiver without missing an event.',
      details: [h('span.muted', 'Endpoint '), h('code', endpoint.url)],
      confirmLabel: 'Rotate secret',
      tone: 'primary',
    });
    if (!yes) return;
    let rotated;
    try {
      rotated = await api.post(`/v1/webhook-endpoints/${encodeURIComponent(endpoint.id)}/rotate-secret/`);
    } catch (error) {
      this.showError(error);
      return;
    }
    const secret = rotated.secret;
    rotated.secret = null;
    showSecret({
      title: 'New signing secret',
      secret,
      summary: `The previous secret also signs deliveries to ${endpoint.url} until ${formatDateTime(rotated.previous_valid_until)}. Give the new one to the receiver before then.`,
      words: SECRET_WORDS,
    });
    toast('Signing secret rotated');
  }

  async remove(endpoint) {
    this.alertSlot.replaceChildren();
    const yes = await confirmDialog({
      title: 'Delete this endpoint?',
      message: 'Nothing more is sent to it, and its delivery log is deleted with it. This cannot be undone.',
      details: [h('span.muted', 'Endpoint '), h('code', endpoint.url)],
      confirmLabel: 'Delete endpoint',
    });
    if (!yes) return;
    try {
      await api.del(`/v1/webhook-endpoints/${encodeURIComponent(endpoint.id)}/`);
    } catch (error) {
      this.showError(error);
      return;
    }
    this.openLogs.delete(endpoint.id);
    toast(`Endpoint ${endpoint.url} deleted`);
    await this.load();
    const add = document.querySelector('[data-focus-id="add-endpoint"]');
    if (add) add.focus();
  }

  // ---- the add / edit form ---------------------------------------------------------------

  openForm(endpoint = null) {
    this.alertSlot.replaceChildren();
    const opener = document.activeElement;
    const editing = Boolean(endpoint);
    const url = h('input', {
      type: 'url', name: 'url', required: true, maxlength: '2048', autocomplete: 'off', spellcheck: 'false',
      placeholder: 'https://hooks.example.com/keywarden', value: editing ? endpoint.url : '',
    });
    const groupName = nextId('events');
    const everything = !editing || endpoint.events.includes('*');
    const all = h('input', { type: 'radio', name: groupName, value: 'all', id: `${groupName}-all`, checked: everything });
    const some = h('input', { type: 'radio', name: groupName, value: 'some', id: `${groupName}-some`, checked: !everything });
    const boxes = EVENT_TYPES.map(([id, name, text]) => {
      const box = h('input', { type: 'checkbox', value: id, id: `${groupName}-${id.replace(/\W/g, '-')}`, checked: editing && endpoint.events.includes(id) });
      return { box, row: h('label.check', { for: box.id }, box, h('span.check-text', h('span.check-title', name), h('span.check-hint', h('code', id), ` — ${text}`))) };
    });
    const checklist = h('div.event-checklist', { role: 'group', 'aria-label': 'Event types to send' }, boxes.map((b) => b.row));
    const sync = () => { checklist.hidden = all.checked; };
    all.addEventListener('change', sync);
    some.addEventListener('change', sync);
    sync();
    const description = h('input', {
      type: 'text', name: 'description', maxlength: '200', autocomplete: 'off',
      placeholder: "e.g. Security team's SIEM", value: editing ? endpoint.description : '',
    });
    const submit = h('button.btn.primary', { type: 'submit' }, editing ? 'Save changes' : 'Add endpoint');
    const cancel = h('button.btn.secondary', { type: 'button' }, 'Cancel');
    const formId = nextId('endpoint-form');
    const form = h('form.form.endpoint-form', { id: formId, novalidate: true },
      h('div.form-alert', { hidden: true }),
      field({
        label: 'Endpoint URL', input: url, name: 'url',
        hint: 'Keywarden POSTs each event here. Use https://. Addresses on private networks are refused unless your operator allows them.',
      }),
      h('fieldset.field', { dataset: { field: 'events' } },
        h('legend', 'Events to send'),
        h('div.radio-row',
          h('label.radio', { for: all.id }, all, h('span', 'All events')),
          h('label.radio', { for: some.id }, some, h('span', 'Selected events'))),
        checklist,
        h('p.hint', 'All events includes types added in later versions of Keywarden.'),
        h('p.field-error', { hidden: true })),
      field({ label: 'Description', input: description, name: 'description', optional: true, hint: 'What receives these events. At most 200 characters.' }));
    const modal = openModal({
      title: editing ? 'Edit endpoint' : 'Add a webhook endpoint',
      content: form,
      actions: [cancel, h('span.spacer'), submit],
      size: 'wide',
      initialFocus: () => url,
      isDirty: unsavedChanges(form),
    });
    submit.setAttribute('form', formId);
    cancel.addEventListener('click', () => modal.dismiss());
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearFormErrors(form);
      const target = url.value.trim();
      if (!target) {
        showFormError(form, { field: 'url', message: 'Enter the URL that receives the events, e.g. https://hooks.example.com/keywarden.' });
        return;
      }
      if (!/^https?:\/\//i.test(target)) {
        showFormError(form, { field: 'url', message: 'Use an absolute URL that starts with https:// (or http://).' });
        return;
      }
      const events = all.checked ? ['*'] : boxes.filter((b) => b.box.checked).map((b) => b.box.value);
      if (!events.length) {
        showFormError(form, { field: 'events', message: 'Choose at least one event type, or All events.' });
        const first = boxes[0];
        if (first) first.box.focus();
        return;
      }
      const request = { url: target, events, description: description.value.trim() };
      await busy(submit, editing ? 'Saving…' : 'Adding…', async () => {
        try {
          if (editing) {
            await api.patch(`/v1/webhook-endpoints/${encodeURIComponent(endpoint.id)}/`, request);
            modal.close();
            toast('Endpoint saved');
            await this.load();
            restoreFocus(opener);
            return;
          }
          const created = await api.post('/v1/webhook-endpoints/', request);
          modal.close();
          const secret = created.secret;
          created.secret = null;
          showSecret({
            title: 'Endpoint added: its signing secret',
            secret,
            summary: `Deliveries to ${created.url} are signed with this secret. The receiver needs it to verify each request.`,
            words: SECRET_WORDS,
          });
          toast('Endpoint added');
          await this.load();
        } catch (error) {
          showFormError(form, error);
        }
      });
    });
  }

  help() {
    return h('section.section.usage', { 'aria-labelledby': 'verify-title' },
      h('h2', { id: 'verify-title' }, 'Verifying a delivery'),
      h('p.muted', 'Deliveries follow the Standard Webhooks specification, so its libraries verify them. Each request carries webhook-id (the same on every retry: use it to drop duplicates), webhook-timestamp and webhook-signature headers. Events may arrive out of order: order them by their timestamp.'),
      h('pre.code-block', h('code', 'from standardwebhooks.webhooks import Webhook\n\nwh = Webhook(os.environ["KEYWARDEN_WEBHOOK_SECRET"])  # whsec_…\nevent = wh.verify(request.body, request.headers)  # raises if the signature is wrong')),
      h('ul.tips',
        h('li', h('strong', 'Answer quickly: '), 'any 2xx within 10 seconds counts as delivered; anything else is retried with back-off for more than three days.'),
        h('li', h('strong', 'Redirects are not followed: '), 'give the final URL.'),
        h('li', h('strong', 'Secret leaked? '), 'Rotate it: the old one keeps signing for 24 hours while you update the receiver.')));
  }
}
