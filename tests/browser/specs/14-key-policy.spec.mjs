import { test, expect, USERS, signIn, screenshot } from './fixtures.mjs';

// A key's own policy (SPEC §9) through the console: allowed addresses, a rate limit, a usage
// limit and metadata set in the form, shown in words on the key's page, changed and removed
// there, explained at the field when mistyped — and enforced by forward-auth.

/** forward-auth as a proxy in front of the payroll product asks it, for a client at `client`. */
function forwardAuth(request, key, client) {
  return request.get('/v1/forward-auth/', {
    headers: {
      Authorization: `Bearer ${key}`,
      'X-Forwarded-For': client,
      'X-Original-Method': 'GET',
      'X-Original-URI': '/v1/payroll/employees/',
    },
  });
}

async function adminToken(request) {
  const answer = await request.post('/v1/auth/token/', { data: { email: USERS.admin.email, password: USERS.admin.password } });
  expect(answer.status()).toBe(200);
  return (await answer.json()).access;
}

test('a key limited by address, rate and usage, with metadata: set, shown, changed and enforced', async ({ page, request }) => {
  const sent = [];
  page.on('request', (r) => {
    if (r.url().includes('/v1/api-keys/') && (r.method() === 'POST' || r.method() === 'PATCH')) sent.push(`${r.method()} ${r.postData()}`);
  });
  await signIn(page, USERS.admin);
  await page.getByRole('button', { name: 'Generate New Key' }).first().click();
  const form = page.getByRole('dialog', { name: 'Generate a new API key' });
  await form.getByLabel('Label').fill('Partner-Portal-Payroll');
  await form.getByRole('switch', { name: 'Read access to Payroll' }).check();

  // The four settings are optional and folded away until wanted.
  const more = form.getByRole('button', { name: 'Limits and metadata (optional)' });
  await expect(more).toHaveAttribute('aria-expanded', 'false');
  await expect(form.getByLabel('Allowed addresses')).toBeHidden();
  await more.click();
  await expect(more).toHaveAttribute('aria-expanded', 'true');
  const addresses = form.getByLabel('Allowed addresses');
  await expect(addresses).toBeVisible();
  await expect(addresses).toHaveAccessibleDescription(/One IP address or range per line/);

  // A range written from an address inside it is explained at the field, what was typed is
  // kept, and nothing is sent.
  await addresses.fill('203.0.113.0/24\n10.1.2.3/8');
  await form.getByRole('button', { name: 'Create Key' }).click();
  const addressError = form.locator('[data-field="allowed_ips"] .field-error');
  await expect(addressError).toHaveText('“10.1.2.3/8” does not start its range. Did you mean 10.0.0.0/8? A range is written with its first address.');
  await expect(addresses).toBeFocused();
  await expect(addresses).toHaveAttribute('aria-invalid', 'true');
  await expect(addresses).toHaveAccessibleDescription(/Did you mean 10\.0\.0\.0\/8/);
  await expect(addresses).toHaveValue('203.0.113.0/24\n10.1.2.3/8');
  await addresses.fill('203.0.113.0/24\n2001:db8::/32');
  await expect(addressError).toBeHidden();

  // The console cannot see its own address: the button adds the one this admin signed in from.
  await form.getByRole('button', { name: 'Add my sign-in address' }).click();
  await expect(form.getByRole('status').filter({ hasText: 'Added 127.0.0.1' })).toBeVisible();
  await expect(addresses).toHaveValue('203.0.113.0/24\n2001:db8::/32\n127.0.0.1');
  await form.getByRole('button', { name: 'Add my sign-in address' }).click();
  await expect(form.getByRole('status').filter({ hasText: '127.0.0.1 is already in the list.' })).toBeVisible();

  await form.getByLabel('Rate limit: number of requests').fill('100');
  await form.getByLabel('Rate limit period').selectOption({ label: 'per minute' });
  await form.getByLabel('Usage limit: number of requests').fill('10000');
  await form.getByLabel('Usage limit period').selectOption({ label: 'a month' });

  // Metadata must be a JSON object; its size is counted as the API counts it.
  const metadata = form.getByLabel('Metadata');
  await metadata.fill('["acme-42"]');
  await form.getByRole('button', { name: 'Create Key' }).click();
  await expect(form.locator('[data-field="metadata"] .field-error')).toContainText('must be a JSON object');
  await expect(metadata).toBeFocused();
  await metadata.fill('{ "customer": "acme-42", "plan": "pro" }');
  await expect(form.locator('[data-field="metadata"] .counter')).toHaveText('35 / 4,096 bytes');
  expect(sent, 'nothing was sent while the form had a mistake').toEqual([]);
  await form.getByLabel('Rate limit: number of requests').focus();
  await more.scrollIntoViewIfNeeded();
  await screenshot(page, 'key-policy-form');

  await form.getByRole('button', { name: 'Create Key' }).click();
  const modal = page.getByRole('dialog', { name: 'Your new API key' });
  const secret = await modal.getByLabel('API Secret Key').inputValue();
  await modal.getByRole('button', { name: 'I have stored the key' }).click();
  await expect(modal).toBeHidden();
  expect(JSON.parse(sent[0].slice('POST '.length))).toMatchObject({
    allowed_ips: ['203.0.113.0/24', '2001:db8::/32', '127.0.0.1'],
    rate_limit: { limit: 100, period_seconds: 60 },
    usage_limit: { limit: 10000, period: 'month' },
    metadata: { customer: 'acme-42', plan: 'pro' },
  });

  // The list says, in text, which keys are restricted or limited.
  const row = page.getByRole('row', { name: /Partner-Portal-Payroll/ });
  await expect(row.getByText('IP-restricted', { exact: true })).toBeVisible();
  await expect(row.getByText('Limited', { exact: true })).toBeVisible();

  // The key's page puts the settings in words.
  const id = await row.getAttribute('data-key-id');
  await row.getByRole('link', { name: 'Details of Partner-Portal-Payroll' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Partner-Portal-Payroll' })).toBeVisible();
  const header = page.locator('header.key-header');
  await expect(header.getByText('IP-restricted', { exact: true })).toBeVisible();
  await expect(header.getByText('Limited', { exact: true })).toBeVisible();
  const detail = page.getByRole('region', { name: 'Limits and metadata' });
  await expect(detail).toBeVisible();
  const policy = detail.locator('dl.policy-list');
  await expect(policy).toContainText('100 requests per minute');
  await expect(policy).toContainText('10,000 requests a month');
  await expect(policy.locator('.address-list li')).toHaveText(['203.0.113.0/24', '2001:db8::/32', '127.0.0.1']);
  await expect(detail.locator('pre.metadata-block')).toHaveText('{\n  "customer": "acme-42",\n  "plan": "pro"\n}');
  // A fresh key has used none of its usage limit.
  await expect(policy).toContainText('10,000 requests left · 0 used');
  await detail.scrollIntoViewIfNeeded();
  await screenshot(page, 'key-policy-detail');

  // The policy is real: forward-auth refuses an address outside the list, admits one inside
  // it with the rate limit's headers and the metadata.
  const outside = await forwardAuth(request, secret, '198.51.100.7');
  expect(outside.status()).toBe(403);
  expect(await outside.json()).toMatchObject({ code: 'ip_not_allowed', detail: 'This API key may not be used from 198.51.100.7.' });
  const inside = await forwardAuth(request, secret, '203.0.113.9');
  expect(inside.status()).toBe(200);
  expect(inside.headers()['ratelimit-limit']).toBe('100');
  expect(JSON.parse(Buffer.from(inside.headers()['x-keywarden-metadata'], 'base64').toString())).toEqual({ customer: 'acme-42', plan: 'pro' });

  // Edit: a mistyped address is refused at its field and nothing is saved …
  await detail.getByRole('button', { name: 'Edit limits and metadata' }).click();
  const edit = page.getByRole('dialog', { name: 'Edit “Partner-Portal-Payroll”' });
  const editAddresses = edit.getByLabel('Allowed addresses');
  await expect(editAddresses).toBeFocused();
  await expect(editAddresses).toHaveValue('203.0.113.0/24\n2001:db8::/32\n127.0.0.1');
  await expect(edit.getByLabel('Rate limit: number of requests')).toHaveValue('100');
  await expect(edit.getByLabel('Usage limit period')).toHaveValue('month');
  await editAddresses.fill('198.51.100.0/24\npartner.example.com');
  await edit.getByRole('button', { name: 'Save changes' }).click();
  await expect(edit.locator('[data-field="allowed_ips"] .field-error')).toHaveText('“partner.example.com” is not an IP address or range. Write one per line, like 203.0.113.7, 2001:db8::1 or 10.0.0.0/8.');
  await expect(editAddresses).toBeFocused();
  await expect(editAddresses).toHaveValue('198.51.100.0/24\npartner.example.com');
  expect(sent.filter((s) => s.startsWith('PATCH'))).toEqual([]);
  await screenshot(page, 'key-policy-edit-error');

  // … then new addresses, and the rate limit removed (sent as null); the rest is left alone.
  await editAddresses.fill('198.51.100.0/24');
  await edit.getByLabel('Rate limit: number of requests').fill('');
  const patched = page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().includes('/v1/api-keys/'));
  await edit.getByRole('button', { name: 'Save changes' }).click();
  expect((await patched).status()).toBe(200);
  expect(JSON.parse(sent.find((s) => s.startsWith('PATCH')).slice('PATCH '.length))).toEqual({ allowed_ips: ['198.51.100.0/24'], rate_limit: null });
  await expect(edit).toBeHidden();
  // The page shows the saved settings, and focus is back on the button that opened the form.
  await expect(detail.locator('dl.policy-list')).toContainText('No rate limit');
  await expect(detail.locator('.address-list li')).toHaveText(['198.51.100.0/24']);
  await expect(detail.locator('dl.policy-list')).toContainText('10,000 requests a month');
  await expect(detail.getByRole('button', { name: 'Edit limits and metadata' })).toBeFocused();

  const token = await adminToken(request);
  const stored = await (await request.get(`/v1/api-keys/${id}/`, { headers: { Authorization: `Bearer ${token}` } })).json();
  expect(stored).toMatchObject({ allowed_ips: ['198.51.100.0/24'], rate_limit: null, usage_limit: { limit: 10000, period: 'month' } });

  // Enforced at once: the addresses swapped places.
  expect((await forwardAuth(request, secret, '198.51.100.7')).status()).toBe(200);
  const refused = await forwardAuth(request, secret, '203.0.113.9');
  expect(refused.status()).toBe(403);
  expect((await refused.json()).code).toBe('ip_not_allowed');
});

test('a key with a usage limit shows what is left and when it resets, once the API says', async ({ page }) => {
  // The API's `usage` lags by a flush interval: the answers (the list and one key) are amended
  // here so the figures are known exactly.
  const resets = new Date(Date.now() + 5 * 86_400_000).toISOString();
  await page.route((url) => /^\/v1\/api-keys\/([^/]+\/)?$/.test(url.pathname), async (route) => {
    const answer = await route.fetch();
    const body = await answer.json();
    for (const key of body.results || [body]) {
      if (key.usage_limit) key.usage = { used: 42, remaining: 9958, resets_at: resets };
    }
    await route.fulfill({ response: answer, json: body });
  });
  await signIn(page, USERS.admin);
  const row = page.getByRole('row', { name: /Partner-Portal-Payroll/ });
  await expect(row.getByText('Limited', { exact: true })).toBeVisible();
  await row.getByRole('link', { name: 'Details of Partner-Portal-Payroll' }).click();
  const detail = page.getByRole('region', { name: 'Limits and metadata' });
  const usage = detail.locator('.usage-state');
  await expect(usage).toContainText('9,958 requests left');
  await expect(usage).toContainText('42 used');
  await expect(usage).toContainText('Resets');
  await expect(usage.locator('time')).toHaveAttribute('datetime', resets);
});
