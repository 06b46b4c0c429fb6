// "Test a request" on a key's page: a method, a path and optionally a client address go to
// POST /v1/explain/, which runs the checks verification runs without counting anything or
// using up a limit; the answer is shown as a checklist, the decision first.

import * as api from '../api.js';
import { h, icon, field, busy, nextId, showFormError, clearFormErrors, badge } from '../ui.js';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** Each check in words, in the order the API lists them. */
const CHECKS = {
  format: 'Key format',
  key: 'Key found',
  status: 'Key status',
  route: 'Route',
  scope: 'Permission',
  ip: 'Client address',
  rate_limit: 'Rate limit',
  usage_limit: 'Usage limit',
};

const RESULTS = {
  pass: { mark: '✓', words: 'Passed' },
  fail: { mark: '✗', words: 'Failed' },
  skip: { mark: '–', words: 'Not checked' },
};

/**
 * The panel for the key `keyId`. `examplePath` is a path the key could call (its first
 * product's), shown as the starting value.
 */
export function explainPanel({ keyId, examplePath }) {
  const titleId = nextId('explain-title');
  const method = h('select', { name: 'method' }, METHODS.map((m) => h('option', { value: m }, m)));
  const path = h('input', { type: 'text', name: 'uri', value: examplePath, autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', placeholder: '/v1/payroll/runs' });
  const address = h('input', { type: 'text', name: 'client_ip', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', inputmode: 'decimal', placeholder: '203.0.113.7' });
  const run = h('button.btn.primary', { type: 'submit' }, 'Test request');
  const result = h('div.explain-result', { 'aria-live': 'polite' });
  const form = h('form.form.explain-form', { novalidate: true, 'aria-labelledby': titleId },
    h('div.form-alert', { hidden: true }),
    h('div.explain-fields',
      field({ label: 'Method', input: method, name: 'method' }),
      field({ label: 'Path', input: path, name: 'uri', hint: 'As your service receives it, e.g. /v1/payroll/runs.' }),
      field({ label: 'Client address', input: address, name: 'client_ip', optional: true, hint: 'Empty: the address Keywarden sees for you.' })),
    h('div.form-buttons.start', run));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const uri = path.value.trim();
    if (!uri.startsWith('/')) {
      showFormError(form, { field: 'uri', message: 'Write the path as your service receives it, starting with /, e.g. /v1/payroll/runs.' });
      return;
    }
    const body = { key_id: keyId, method: method.value, uri };
    if (address.value.trim()) body.client_ip = address.value.trim();
    await busy(run, 'Testing…', async () => {
      let answer;
      try {
        answer = await api.post('/v1/explain/', body);
      } catch (error) {
        result.replaceChildren();
        showFormError(form, error);
        return;
      }
      result.replaceChildren(explanation(answer, body));
    });
  });

  return h('section.section.card.explain-panel', { 'aria-labelledby': titleId },
    h('div.section-head', h('div',
      h('h2', { id: titleId }, 'Test a request'),
      h('p.muted', 'See whether this key may make a request, and which check would refuse it. Nothing is counted and no limit is used.'))),
    form,
    result);
}

/** The decision, its status and code, then every check with its result and reason. */
function explanation(answer, asked) {
  const allowed = answer.decision === 'allow';
  const headingId = nextId('explain-decision');
  const code = answer.code ? h('code.refusal-code', answer.code) : null;
  return h('section.explain-answer', { 'aria-labelledby': headingId, dataset: { decision: answer.decision } },
    h(`div.explain-decision.${allowed ? 'allowed' : 'refused'}`,
      icon(allowed ? 'check' : 'warning'),
      h('div',
        h('h3', { id: headingId }, allowed ? 'Allowed' : 'Refused', ` · HTTP ${answer.status}`),
        h('p', `${asked.method} ${asked.uri}${asked.client_ip ? ` from ${asked.client_ip}` : ''}`,
          code ? ' → ' : '', code),
        answer.required_scope ? h('p.muted', 'Needs the permission ', h('code', answer.required_scope), '.') : null)),
    h('ol.checklist', { 'aria-label': 'Checks, in the order verification runs them' },
      (answer.steps || []).map((step) => {
        const result = RESULTS[step.result] || { mark: '?', words: step.result };
        return h(`li.check-step.step-${step.result}`, { dataset: { check: step.check, result: step.result } },
          h('span.step-mark', { 'aria-hidden': 'true' }, result.mark),
          h('div.step-text',
            h('p.step-name', h('span.sr-only', `${result.words}: `), CHECKS[step.check] || step.check,
              step.result === 'fail' ? h('span.step-badge', ' ', badge('Refused here', 'red')) : null),
            step.detail ? h('p.step-detail', step.detail) : null));
      })));
}
