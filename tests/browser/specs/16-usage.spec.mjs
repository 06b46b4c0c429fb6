import { test, expect, USERS, signIn, openSettings, screenshot } from './fixtures.mjs';

// Usage and insight (SPEC §10) through the console: known traffic goes through forward-auth
// from two client addresses (X-Forwarded-For is believed from loopback, where this suite's
// requests come from), then a key's page shows it in the chart, its addresses and products;
// "Test a request" explains an allowed and a refused request step by step; the permissions
// the key used are offered in place of the broader ones it holds; the revoke dialog says what
// revoking would break; the account's Usage page ranks the key.

const LABEL = 'Usage-Demo-Payroll';
const BUSY_CLIENT = '203.0.113.7';
const QUIET_CLIENT = '198.51.100.20';

/** forward-auth as a proxy in front of the platform asks it. */
function forwardAuth(request, key, { method, uri, client }) {
  return request.get('/v1/forward-auth/', {
    headers: {
      Authorization: `Bearer ${key}`,
      'X-Forwarded-For': client,
      'X-Original-Method': method,
      'X-Original-URI': uri,
    },
  });
}

async function signedInAs(request, user) {
  const answer = await request.post('/v1/auth/token/', { data: { email: user.email, password: user.password } });
  expect(answer.status()).toBe(200);
  return { Authorization: `Bearer ${(await answer.json()).access}` };
}

/** Polls the key's usage until the flush (about a second) has written `requests` of them. */
async function flushed(request, auth, id, requests) {
  let last = null;
  await expect.poll(async () => {
    last = await (await request.get(`/v1/api-keys/${id}/usage/`, { headers: auth })).json();
    return last.totals && last.totals.requests;
  }, { timeout: 20_000, intervals: [250, 500, 1000] }).toBe(requests);
  return last;
}

const sum = (values) => values.reduce((total, v) => total + Number(v), 0);

test("a key's page shows the traffic it had, explains requests, narrows it and says what revoking would break", async ({ page, request }) => {
  const auth = await signedInAs(request, USERS.admin);
  const created = await request.post('/v1/api-keys/', { headers: auth, data: { label: LABEL, type: 'test', scopes: ['payroll:read', 'asset:write'] } });
  expect(created.status()).toBe(201);
  const { id, key: secret } = await created.json();

  // Known traffic: 3 refused writes (the key may only read payroll), then 5 reads from the busy
  // client and 2 from the quiet one, which is the last successful use.
  const sent = [];
  for (let i = 0; i < 3; i += 1) sent.push(await forwardAuth(request, secret, { method: 'POST', uri: '/v1/payroll/runs', client: BUSY_CLIENT }));
  for (let i = 0; i < 5; i += 1) sent.push(await forwardAuth(request, secret, { method: 'GET', uri: '/v1/payroll/runs', client: BUSY_CLIENT }));
  for (let i = 0; i < 2; i += 1) sent.push(await forwardAuth(request, secret, { method: 'GET', uri: '/v1/payroll/runs', client: QUIET_CLIENT }));
  expect(sent.map((r) => r.status())).toEqual([403, 403, 403, 200, 200, 200, 200, 200, 200, 200]);
  const usage = await flushed(request, auth, id, 10);
  expect(usage.totals).toEqual({ requests: 10, allowed: 7, denied: { insufficient_scope: 3 } });
  // The last use's time is written in its own batches (every 10 s by default), its address
  // with the usage counts.
  await expect.poll(async () => {
    const key = await (await request.get(`/v1/api-keys/${id}/`, { headers: auth })).json();
    return [Boolean(key.last_used_at), key.last_used_ip];
  }, { timeout: 25_000, intervals: [500, 1000] }).toEqual([true, QUIET_CLIENT]);

  // From the key list to the key's page.
  await signIn(page, USERS.admin);
  await page.getByLabel('Search').fill(LABEL);
  const row = page.getByRole('row', { name: new RegExp(LABEL) });
  await row.getByRole('link', { name: `Details of ${LABEL}` }).click();
  await expect(page).toHaveURL(new RegExp(`#/keys/${id}$`));
  await expect(page.getByRole('heading', { level: 1, name: LABEL })).toBeVisible();
  await expect(page).toHaveTitle(`${LABEL} · Keywarden`);
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API & Developers' })).toHaveAttribute('aria-current', 'true');
  const facts = page.getByRole('region', { name: 'About this key' });
  await expect(facts.locator('div').filter({ hasText: /^Last used from/ }).locator('dd')).toHaveText(QUIET_CLIENT);
  await expect(facts.locator('div').filter({ hasText: /^Last used/ }).first().locator('dd time')).toBeVisible();

  // The chart: 24 hourly bars holding the 7 allowed and 3 refused requests, described by its
  // summary (the picture's accessible name) and by a table of the numbers.
  const section = page.getByRole('region', { name: 'Usage' });
  const summary = '10 requests in the last 24 hours: 7 allowed, 3 refused (3 missing permission).';
  await expect(section.locator('.usage-summary')).toHaveText(summary);
  const chart = section.getByRole('img', { name: summary });
  await expect(chart).toBeVisible();
  const bars = chart.locator('g.chart-bar');
  await expect(bars).toHaveCount(24);
  expect(sum(await bars.evaluateAll((all) => all.map((g) => g.dataset.allowed)))).toBe(7);
  expect(sum(await bars.evaluateAll((all) => all.map((g) => g.dataset.refused)))).toBe(3);
  await expect(chart.locator('rect.bar-refused').first()).toBeVisible();
  // Each bar says its numbers on hover; the busiest one holds this test's traffic.
  const titles = await bars.locator('title').allTextContents();
  expect(titles.some((t) => /: [1-7] allowed, [1-3] refused$/.test(t)), titles.join('\n')).toBe(true);
  await expect(section.getByRole('list', { name: 'Legend' })).toHaveText(/Allowed\s*Refused/);
  const numbers = section.getByRole('button', { name: 'Show the numbers' });
  await expect(numbers).toHaveAttribute('aria-expanded', 'false');
  await numbers.click();
  const table = section.getByRole('table', { name: 'Requests per hour, the last 24 hours' });
  await expect(table).toBeVisible();
  await expect(table.locator('tbody tr')).toHaveCount(24);
  const column = (n) => table.locator(`tbody tr td:nth-of-type(${n})`).allTextContents();
  expect(sum(await column(1))).toBe(7);
  expect(sum(await column(2))).toBe(3);

  // Who used it and what it reached.
  const addresses = section.getByRole('table', { name: /Client addresses in the last 24 hours/ });
  await expect(addresses.locator('tbody tr')).toHaveCount(2);
  await expect(addresses.locator('tbody tr').nth(0).locator('td')).toHaveText([BUSY_CLIENT, '8', '3', /ago|just now/]);
  await expect(addresses.locator('tbody tr').nth(1).locator('td')).toHaveText([QUIET_CLIENT, '2', '0', /ago|just now/]);
  const products = section.getByRole('table', { name: /Requests per product/ });
  await expect(products.locator('tbody tr')).toHaveCount(1);
  await expect(products.locator('tbody tr td')).toHaveText(['Payroll payroll', '7', '3']);

  // Daily bars for a week: the same requests.
  await section.getByRole('radio', { name: '7 days' }).check();
  await expect(section.locator('.usage-summary')).toHaveText('10 requests in the last 7 days: 7 allowed, 3 refused (3 missing permission).');
  await expect(section.getByRole('img').locator('g.chart-bar')).toHaveCount(7);
  await section.getByRole('radio', { name: '24 hours' }).check();
  await expect(section.locator('.usage-summary')).toHaveText(summary);

  // Test a request: an allowed read, then a refused write, each as a checklist.
  const tester = page.getByRole('region', { name: 'Test a request' });
  await expect(tester.getByLabel('Path')).toHaveValue(/^\/v1\/(payroll|asset)\/$/);
  await tester.getByLabel('Method').selectOption('GET');
  await tester.getByLabel('Path').fill('/v1/payroll/runs');
  await tester.getByLabel('Client address').fill(BUSY_CLIENT);
  await tester.getByRole('button', { name: 'Test request' }).click();
  const answer = tester.locator('.explain-answer');
  await expect(answer.getByRole('heading', { level: 3 })).toHaveText('Allowed · HTTP 200');
  const steps = answer.getByRole('list', { name: 'Checks, in the order verification runs them' }).getByRole('listitem');
  await expect(steps).toHaveCount(8);
  // With key_id there is no key text to check the format of; nothing fails.
  expect(await steps.evaluateAll((all) => all.map((li) => `${li.dataset.check}:${li.dataset.result}`))).toEqual([
    'format:skip', 'key:pass', 'status:pass', 'route:pass', 'scope:pass', 'ip:pass', 'rate_limit:pass', 'usage_limit:pass',
  ]);
  await expect(answer.locator('.step-fail')).toHaveCount(0);
  await expect(steps.nth(4)).toContainText('✓');
  await expect(steps.nth(4).locator('.sr-only')).toHaveText('Passed: ');
  await expect(answer).toContainText('payroll:read');

  await tester.getByLabel('Method').selectOption('POST');
  await tester.getByRole('button', { name: 'Test request' }).click();
  await expect(answer.getByRole('heading', { level: 3 })).toHaveText('Refused · HTTP 403');
  await expect(answer.locator('.refusal-code')).toHaveText('insufficient_scope');
  expect(await steps.evaluateAll((all) => all.map((li) => `${li.dataset.check}:${li.dataset.result}`))).toEqual([
    'format:skip', 'key:pass', 'status:pass', 'route:pass', 'scope:fail', 'ip:skip', 'rate_limit:skip', 'usage_limit:skip',
  ]);
  await expect(steps.nth(4)).toContainText('✗');
  await expect(steps.nth(4)).toContainText('Refused here');
  await expect(steps.nth(5)).toContainText('–');
  await expect(steps.nth(4).locator('.step-detail')).not.toBeEmpty();
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, 'key-detail', { fullPage: true });

  // A path that is not one is explained at the field, and nothing is sent.
  await tester.getByLabel('Path').fill('payroll/runs');
  await tester.getByRole('button', { name: 'Test request' }).click();
  await expect(tester.getByLabel('Path')).toBeFocused();
  await expect(tester.getByLabel('Path')).toHaveAccessibleDescription(/starting with \//);

  // Explaining counted nothing: after another flush the totals are what the traffic made.
  await page.waitForTimeout(1500);
  expect((await (await request.get(`/v1/api-keys/${id}/usage/`, { headers: auth })).json()).totals.requests).toBe(10);

  // The key holds asset:write (and so asset:read) and payroll:read but only read payroll:
  // narrow it, in one step.
  const narrow = page.getByRole('region', { name: 'Permissions it needs' });
  await expect(narrow).toContainText('This key holds asset:write and payroll:read but only used payroll:read in the last 30 days (7 requests).');
  await expect(narrow).toContainText('A request that needs asset:read or asset:write is refused with 403 from then on.');
  await narrow.getByRole('button', { name: 'Narrow to payroll:read' }).click();
  const confirmNarrow = page.getByRole('dialog', { name: `Narrow “${LABEL}” to payroll:read?` });
  await expect(confirmNarrow).toContainText('The key keeps payroll:read and loses asset:read, asset:write.');
  const patched = page.waitForRequest((r) => r.method() === 'PATCH' && r.url().endsWith(`/v1/api-keys/${id}/`));
  await confirmNarrow.getByRole('button', { name: 'Narrow permissions' }).click();
  expect(JSON.parse((await patched).postData())).toEqual({ scopes: ['payroll:read'] });
  await expect(narrow).toContainText('nothing to take away');
  await expect(facts).toContainText('Payroll · Read');
  await expect(facts).not.toContainText('Asset');
  const stored = await (await request.get(`/v1/api-keys/${id}/`, { headers: auth })).json();
  expect(stored.scopes).toEqual(['payroll:read']);

  // Revoke, from the page: before confirming, what it would break.
  await page.getByRole('button', { name: 'Revoke key' }).click();
  const dialog = page.getByRole('dialog', { name: `Revoke “${LABEL}”?` });
  const impact = await (await request.get(`/v1/api-keys/${id}/impact/`, { headers: auth })).json();
  expect(impact).toMatchObject({ requests_last_24_hours: 7, requests_last_7_days: 7, addresses_last_24_hours: 2, products: ['payroll'], last_used_ip: QUIET_CLIENT });
  const at = await page.evaluate((iso) => new Intl.DateTimeFormat(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
  }).format(new Date(iso)), impact.last_used_at);
  await expect(dialog.locator('.impact-summary')).toHaveText(`Used 7 times in the last 24 hours from 2 addresses; last at ${at} from ${QUIET_CLIENT}.`);
  await expect(dialog.locator('.impact-products')).toHaveText('Products it reached in the last 7 days: Payroll.');
  await expect(dialog.locator('.impact-list li')).toHaveText([
    new RegExp(`^${BUSY_CLIENT} · 5 requests · last seen`),
    new RegExp(`^${QUIET_CLIENT} · 2 requests · last seen`),
  ]);
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await screenshot(page, 'revoke-impact');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toBeHidden();

  // The account's Usage page ranks the key by traffic and by refusals, and leads back to it.
  await openSettings(page, 'Usage');
  const ranking = page.getByRole('region', { name: 'Keys' });
  const ranked = ranking.getByRole('row', { name: new RegExp(LABEL) });
  await expect(ranked.locator('td')).toHaveText([new RegExp(`^${LABEL}`), '10', '7', '3', '30%']);
  await ranking.getByRole('radio', { name: 'Most refusals' }).check();
  await expect(ranking.locator('table')).toHaveAttribute('data-ranking', 'refused');
  await expect(ranked).toBeVisible();
  const refusals = await ranking.locator('tbody tr td:nth-of-type(4)').allTextContents();
  expect(refusals.map(Number)).toEqual([...refusals.map(Number)].sort((a, b) => b - a));
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, 'usage', { fullPage: true });
  await ranked.getByRole('link', { name: LABEL }).click();
  await expect(page.getByRole('heading', { level: 1, name: LABEL })).toBeVisible();

  // Revoke from the list: the same impact, then the key is refused.
  await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'API & Developers' }).click();
  await page.getByLabel('Search').fill(LABEL);
  await row.getByRole('button', { name: `Revoke ${LABEL}` }).click();
  await expect(dialog.locator('.impact-summary')).toHaveText(`Used 7 times in the last 24 hours from 2 addresses; last at ${at} from ${QUIET_CLIENT}.`);
  await dialog.getByRole('button', { name: 'Revoke key' }).click();
  await expect(dialog).toBeHidden();
  await expect(row).toContainText('Revoked');
  const refused = await forwardAuth(request, secret, { method: 'GET', uri: '/v1/payroll/runs', client: BUSY_CLIENT });
  expect(refused.status()).toBe(401);
  expect((await refused.json()).code).toBe('key_revoked');
});

test('a key nobody used: an empty chart, no suggestion, and a revoke dialog that says so', async ({ page, request, problems }) => {
  problems.expect(404, '/v1/api-keys/00000000-0000-4000-8000-000000000000/');
  const auth = await signedInAs(request, USERS.developer);
  const created = await request.post('/v1/api-keys/', { headers: auth, data: { label: 'Never-Used-Key', type: 'live', scopes: ['perks:read'] } });
  expect(created.status()).toBe(201);
  const { id } = await created.json();

  await signIn(page, USERS.developer);
  await page.goto(`/#/keys/${id}`);
  await expect(page.getByRole('heading', { level: 1, name: 'Never-Used-Key' })).toBeVisible();
  const section = page.getByRole('region', { name: 'Usage' });
  await expect(section.getByText('No requests in the last 24 hours')).toBeVisible();
  await expect(section.getByRole('img')).toHaveCount(0);
  await expect(section.getByText('No client addresses in the last 24 hours.')).toBeVisible();
  await expect(page.getByRole('region', { name: 'Permissions it needs' })).toContainText('made no successful request in the last 30 days');
  await page.getByRole('button', { name: 'Revoke key' }).click();
  const dialog = page.getByRole('dialog', { name: 'Revoke “Never-Used-Key”?' });
  await expect(dialog.locator('.impact-summary')).toHaveText('Not used in the last 7 days.');
  await dialog.getByRole('button', { name: 'Cancel' }).click();

  // Another account's key, or none at all: the page says there is no such key.
  await page.goto('/#/keys/00000000-0000-4000-8000-000000000000');
  await expect(page.getByRole('heading', { level: 1, name: 'Key not found' })).toBeVisible();

  // Members see neither the Usage entry nor a key's page.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn(page, USERS.member);
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Usage' })).toHaveCount(0);
  await page.goto(`/#/keys/${id}`);
  await expect(page.getByRole('heading', { level: 1, name: 'You need Admin or Developer access to see API keys' })).toBeVisible();
});
