import { createRequire } from 'node:module';
import { test, expect, USERS, signIn, openSettings, settled, screenshot } from './fixtures.mjs';

// Canary keys (SPEC §8) in the console: an admin creates one under Settings → Canary keys and
// sees its secret once, with how to plant it; presented to forward-auth it is refused exactly
// as an unknown key, and the page then says it was tripped, with the address, user agent and
// request of the trip. The key list marks it, its page shows trips instead of use and offers
// no rotation; a developer sees the counts only; a revoked canary stays silent. An axe audit
// checks the page, the secret's dialog and the trips in both themes.

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
// axe is injected as a script tag, which the console's strict CSP would rightly refuse.
test.use({ bypassCSP: true });

const LABEL = 'Canary-Old-Backups';
const QUIET = 'Canary-CI-Unused-Deploy-Token';
const RETIRED = 'Canary-Retired-Config';
const FROM = '203.0.113.7';
const AGENT = 'curl/8.5.0';
const UNKNOWN = { detail: 'Invalid API Key', code: 'key_not_found' };

async function tokenOf(request, user) {
  const answer = await request.post('/v1/auth/token/', { data: { email: user.email, password: user.password } });
  expect(answer.status()).toBe(200);
  return (await answer.json()).access;
}

/** Presents `key` to forward-auth as nginx (a trusted proxy on loopback) passes it for FROM. */
function present(request, key, from = FROM) {
  return request.get('/v1/forward-auth/', {
    headers: {
      Authorization: `Bearer ${key}`,
      'X-Forwarded-For': from,
      'User-Agent': AGENT,
      'X-Original-Method': 'GET',
      'X-Original-URI': '/v1/customers/',
    },
  });
}

async function keyOf(request, id) {
  const auth = { Authorization: `Bearer ${await tokenOf(request, USERS.admin)}` };
  const answer = await request.get(`/v1/api-keys/${id}/`, { headers: auth });
  expect(answer.status()).toBe(200);
  return answer.json();
}

async function axeViolations(page) {
  await settled(page);
  await page.addScriptTag({ path: AXE });
  return page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return r.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')})`);
  });
}

/** The page passes axe in the light theme and in the dark one. */
async function accessible(page, screen) {
  expect(await axeViolations(page), `accessibility of ${screen} (light theme)`).toEqual([]);
  await page.emulateMedia({ colorScheme: 'dark' });
  try {
    expect(await axeViolations(page), `accessibility of ${screen} (dark theme)`).toEqual([]);
  } finally {
    await page.emulateMedia({ colorScheme: 'light' });
  }
}

function cardOf(page, label) {
  return page.locator('article.canary-card').filter({ has: page.getByRole('heading', { level: 3, name: label, exact: true }) });
}

test('an admin creates a canary, and sees who tripped it', async ({ page, request }) => {
  await signIn(page, USERS.admin);
  await openSettings(page, 'Canary keys');
  await expect(page.getByText('No canaries yet')).toBeVisible();

  // A label is needed; the form says so at the field.
  const form = page.getByRole('form', { name: 'Create a canary' });
  await form.getByRole('button', { name: 'Create canary' }).click();
  const label = form.getByLabel('Label');
  await expect(form.locator('[data-field="label"] .field-error')).toContainText('Give the canary a label');
  await expect(label).toBeFocused();
  await expect(form.getByText('0 / 100')).toBeVisible();
  await label.fill(LABEL);
  await expect(form.getByText(`${LABEL.length} / 100`)).toBeVisible();
  await expect(form.getByRole('radio', { name: 'Live' })).toBeChecked();
  await form.getByRole('button', { name: 'Create canary' }).click();

  // The secret, once, in the keys page's dialog, with how to plant it.
  const dialog = page.getByRole('dialog', { name: 'Your new canary key' });
  await expect(dialog).toBeVisible();
  const secretInput = dialog.getByLabel(/^Canary key/);
  const secret = await secretInput.inputValue();
  expect(secret).toMatch(/^rk_live_/);
  await expect(dialog.getByRole('button', { name: 'Close' })).toHaveCount(0);
  await expect(dialog.getByRole('heading', { name: 'How to plant it' })).toBeVisible();
  await expect(dialog).toContainText('a CI variable nobody uses');
  await expect(dialog).toContainText('exactly as it answers a key that does not exist');
  await expect(dialog).toContainText('at most once a minute for each address');
  await accessible(page, 'the new canary\'s secret');
  await dialog.getByRole('button', { name: 'I have copied the key' }).click();
  await expect(dialog).toBeHidden();
  await expect(label, 'focus comes back to the form, emptied for the next canary').toBeFocused();
  await expect(label).toHaveValue('');
  expect(await page.content(), 'the secret is gone from the page').not.toContain(secret);

  const card = cardOf(page, LABEL);
  await expect(card).toContainText('Not tripped');
  await expect(card.getByText('Live', { exact: true })).toBeVisible();
  await expect(card.getByText('Active', { exact: true })).toBeVisible();
  const id = await card.getAttribute('data-key-id');
  const created = await keyOf(request, id);
  expect(created).toMatchObject({ label: LABEL, canary: true, scopes: [], tripped_count: 0, last_tripped_at: null });
  await expect(card).toContainText(created.hint);

  // Presented from outside: refused exactly as a key that does not exist.
  const answer = await present(request, secret);
  expect(answer.status()).toBe(401);
  expect(await answer.json()).toEqual(UNKNOWN);
  // The trip is recorded off the request path: wait for it.
  await expect.poll(async () => (await keyOf(request, id)).tripped_count, { timeout: 10_000 }).toBe(1);

  // A second canary that nobody tries, for the picture.
  const auth = { Authorization: `Bearer ${await tokenOf(request, USERS.admin)}` };
  const quiet = await request.post('/v1/api-keys/', { headers: auth, data: { label: QUIET, type: 'test', canary: true } });
  expect(quiet.status()).toBe(201);

  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'Canary keys' })).toBeVisible();
  const tripped = cardOf(page, LABEL);
  await expect(tripped.locator('.canary-tripped')).toContainText('Tripped 1 time');
  await expect(tripped.locator('.canary-tripped time')).toHaveAttribute('title', /\d{4}/);
  await expect(cardOf(page, QUIET)).toContainText('Not tripped');
  await expect(page.getByText('2 canaries, 1 tripped.')).toBeVisible();

  // Its recent trips: when, from where, with what.
  const toggle = tripped.getByRole('button', { name: 'Recent trips' });
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  const trips = tripped.getByRole('region', { name: `Recent trips of ${LABEL}` });
  const row = trips.locator('tbody tr');
  await expect(row).toHaveCount(1);
  await expect(row.locator('td').nth(1)).toHaveText(FROM);
  await expect(row.locator('td').nth(2)).toHaveText(AGENT);
  await expect(row.locator('td').nth(3)).toHaveText('GET /v1/customers/');
  await expect(row.locator('td').first()).toContainText(/just now|second|minute/);
  await accessible(page, 'Canary keys with a tripped canary');
  // From the top, as the other full-page pictures (the sidebar stays in its place).
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, 'canaries', { fullPage: true });

  // The key list marks it, and offers no rotation of it.
  await openSettings(page, 'API & Developers');
  const listed = page.getByRole('row').filter({ has: page.locator('.key-label', { hasText: LABEL }) });
  await expect(listed.getByText('Canary', { exact: true })).toBeVisible();
  await expect(listed.getByRole('button', { name: `Rotate ${LABEL}` })).toHaveCount(0);
  await expect(listed.getByRole('button', { name: `Revoke ${LABEL}` })).toBeVisible();
  const ordinary = page.getByRole('row').filter({ has: page.locator('.key-label') }).filter({ hasNotText: 'Canary-' }).first();
  await expect(ordinary.getByText('Canary', { exact: true })).toHaveCount(0);

  // Its page shows the trips instead of use, permissions and limits.
  await listed.getByRole('link', { name: `Details of ${LABEL}` }).click();
  await expect(page.getByRole('heading', { level: 1, name: LABEL })).toBeVisible();
  await expect(page.locator('.key-header').getByText('Canary', { exact: true })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Canary keys' })).toBeVisible();
  await expect(page.getByText('None: a canary authorizes nothing')).toBeVisible();
  await expect(page.getByText('Tripped 1 time')).toBeVisible();
  const onPage = page.getByRole('table', { name: `Trips of ${LABEL}, newest first` });
  await expect(onPage.locator('tbody tr')).toHaveCount(1);
  await expect(onPage).toContainText(FROM);
  await expect(page.getByRole('heading', { name: 'Permissions it needs' })).toHaveCount(0);
  await expect(page.getByRole('heading', { name: 'Usage' })).toHaveCount(0);
  await expect(page.getByRole('region', { name: 'Test a request' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: /Rotate|Narrow|Edit limits/ })).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Revoke canary' })).toBeVisible();
  expect(await axeViolations(page), "accessibility of a canary's page").toEqual([]);

  // The audit log names the trip too.
  await openSettings(page, 'Audit log');
  await page.getByLabel('Action').selectOption('key.canary_used');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await expect(page.getByText(`canary ${created.hint} presented from ${FROM} (${AGENT}): GET /v1/customers/`)).toBeVisible();
});

test('a developer sees the canaries with their counts, and no trip details', async ({ page }) => {
  const asked = [];
  page.on('request', (r) => { if (r.url().includes('/v1/audit-events/')) asked.push(r.url()); });
  await signIn(page, USERS.developer);
  await openSettings(page, 'Canary keys');
  const card = cardOf(page, LABEL);
  await expect(card.locator('.canary-tripped')).toContainText('Tripped 1 time');
  await expect(card.locator('dl')).toContainText('Trips1');
  await expect(card.getByRole('button', { name: 'Recent trips' })).toHaveCount(0);
  await expect(card).toContainText('Admins see where each trip came from');
  await expect(page.getByRole('link', { name: 'Webhooks' }), 'the Webhooks page is for admins').toHaveCount(0);
  await expect(page.getByRole('region', { name: 'How canaries work' })).toContainText('Webhooks');

  await card.getByRole('link', { name: `Details of ${LABEL}` }).click();
  await expect(page.getByRole('heading', { level: 1, name: LABEL })).toBeVisible();
  await expect(page.getByText('Tripped 1 time')).toBeVisible();
  await expect(page.getByText('Admins see where each trip came from')).toBeVisible();
  await expect(page.getByRole('table')).toHaveCount(0);
  expect(asked, 'the audit log is not asked for').toEqual([]);
});

test('a revoked canary is still answered as unknown, and records nothing', async ({ page, request }) => {
  const auth = { Authorization: `Bearer ${await tokenOf(request, USERS.admin)}` };
  const make = async (label) => {
    const answer = await request.post('/v1/api-keys/', { headers: auth, data: { label, type: 'live', canary: true } });
    expect(answer.status()).toBe(201);
    return answer.json();
  };
  const retired = await make(RETIRED);
  const other = await make('Canary-Wiki-Page');

  await signIn(page, USERS.admin);
  await openSettings(page, 'Canary keys');
  const card = cardOf(page, RETIRED);
  await card.getByRole('button', { name: `Revoke ${RETIRED}` }).click();
  const confirm = page.getByRole('dialog', { name: `Revoke “${RETIRED}”?` });
  await expect(confirm).toContainText('still answered as an unknown key');
  await confirm.getByRole('button', { name: 'Revoke canary' }).click();
  await expect(confirm).toBeHidden();
  await expect(card.getByText('Revoked', { exact: true })).toBeVisible();
  await expect(card).toContainText('new uses are no longer recorded');
  await expect(card.getByRole('button', { name: `Revoke ${RETIRED}` })).toHaveCount(0);

  // Presented after that: the same answer as ever, and no trip. The recorder writes trips in
  // the order they came, so once a later trip of another canary is in, this one would be too.
  const from = '192.0.2.1';
  const answer = await present(request, retired.key, from);
  expect(answer.status()).toBe(401);
  expect(await answer.json()).toEqual(UNKNOWN);
  expect((await present(request, other.key, from)).status()).toBe(401);
  await expect.poll(async () => (await keyOf(request, other.id)).tripped_count, { timeout: 10_000 }).toBe(1);
  expect(await keyOf(request, retired.id)).toMatchObject({ status: 'revoked', tripped_count: 0 });
  await page.reload();
  await expect(cardOf(page, RETIRED)).toContainText('Not tripped');
  await expect(cardOf(page, 'Canary-Wiki-Page').locator('.canary-tripped')).toContainText('Tripped 1 time');
});

test('members see no Canary keys page', async ({ page }) => {
  await signIn(page, USERS.member);
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: 'API & Developers' })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'Canary keys' })).toHaveCount(0);
  await page.goto('/#/settings/canaries');
  await expect(page.getByRole('heading', { name: 'You need Admin or Developer access to manage canary keys' })).toBeVisible();
});
