import { createRequire } from 'node:module';
import { test, expect, USERS, signIn, signOut, openSettings, settled, inDarkTheme } from './fixtures.mjs';

// An automated accessibility audit (axe-core, WCAG 2 A and AA rules: contrast, names, labels,
// roles, landmarks) of every main screen. It complements the keyboard and focus checks of the
// other specs, which a rule engine cannot judge.
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

// axe is injected as a script tag, which the console's strict CSP would rightly refuse.
test.use({ bypassCSP: true });

/** The WCAG A/AA violations axe finds on the page as it is now. */
async function violations(page) {
  await page.addScriptTag({ path: AXE });
  const { found, passed } = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return { passed: r.passes.length, found: r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ') + (n.failureSummary ? ` — ${n.failureSummary.split('\n').slice(1, 2).join('')}` : '')),
    })) };
  });
  // The rules did run: a page with nothing checked would pass vacuously.
  expect(passed).toBeGreaterThan(10);
  return found;
}

/** Audits the screen in the light theme, then in the dark one. */
async function audit(page, screen) {
  // Judge the screen at rest: halfway through a dialog's fade-in its text is paler than it
  // will be, and axe would measure that passing contrast. Spinners run forever; skip them.
  await settled(page);
  expect(await violations(page), `accessibility violations on ${screen} (light theme)`).toEqual([]);
  await inDarkTheme(page, async () => {
    const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(dark, 'the dark theme applies').toBe('rgb(14, 17, 32)');
    expect(await violations(page), `accessibility violations on ${screen} (dark theme)`).toEqual([]);
  });
  await settled(page);
}

/** Waits until a key's page has every section loaded (spinners never settle). */
async function loaded(page) {
  await expect(page.locator('.loading')).toHaveCount(0);
  await expect(page.getByText('Reading the last 30 days of use…')).toHaveCount(0);
}

/** A key with two allowed requests and a refused one, counted (the flush takes ~1 s). */
async function keyWithTraffic(request) {
  const token = await request.post('/v1/auth/token/', { data: { email: USERS.admin.email, password: USERS.admin.password } });
  const auth = { Authorization: `Bearer ${(await token.json()).access}` };
  const created = await request.post('/v1/api-keys/', { headers: auth, data: { label: 'Accessibility-Audit-Key', type: 'test', scopes: ['payroll:read', 'asset:read'] } });
  expect(created.status()).toBe(201);
  const { id, key } = await created.json();
  for (const method of ['GET', 'GET', 'POST']) {
    await request.get('/v1/forward-auth/', {
      headers: { Authorization: `Bearer ${key}`, 'X-Forwarded-For': '203.0.113.9', 'X-Original-Method': method, 'X-Original-URI': '/v1/payroll/runs' },
    });
  }
  await expect.poll(async () => {
    const usage = await (await request.get(`/v1/api-keys/${id}/usage/`, { headers: auth })).json();
    return usage.totals && usage.totals.requests;
  }, { timeout: 20_000 }).toBe(3);
  return id;
}

test('every main screen passes an automated WCAG 2.1 AA audit', async ({ page, request }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Sign in to the console' })).toBeVisible();
  await audit(page, 'sign-in');

  await signIn(page, USERS.admin);
  await expect(page.getByRole('heading', { name: 'Standard keys' })).toBeVisible();
  await audit(page, 'API & Developers');

  await page.getByRole('button', { name: 'Generate New Key' }).first().click();
  const form = page.getByRole('dialog', { name: 'Generate a new API key' });
  await expect(form).toBeVisible();
  await audit(page, 'the Generate New Key form');
  await form.getByRole('button', { name: 'Limits and metadata (optional)' }).click();
  await audit(page, 'the limits and metadata of a new key');
  await form.getByRole('button', { name: 'Cancel' }).click();
  await expect(form).toBeHidden();

  // A key's page and the form that edits its limits.
  await page.getByRole('link', { name: 'Details of the test key' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Test standard key' })).toBeVisible();
  await loaded(page);
  await audit(page, "a standard key's page");
  await page.getByRole('button', { name: 'Edit limits and metadata' }).click();
  const limits = page.getByRole('dialog', { name: 'Edit “Test standard key”' });
  await expect(limits).toBeVisible();
  await audit(page, "the form for a key's limits");
  await limits.getByRole('button', { name: 'Cancel' }).click();
  await expect(limits).toBeHidden();

  // A key with traffic: its chart and tables, a request explained, its revoke dialog, and
  // the account's Usage page.
  const id = await keyWithTraffic(request);
  await page.goto(`/#/keys/${id}`);
  await expect(page.getByRole('heading', { level: 1, name: 'Accessibility-Audit-Key' })).toBeVisible();
  await expect(page.locator('.chart-svg')).toBeVisible();
  await loaded(page);
  await page.getByRole('button', { name: 'Show the numbers' }).click();
  await audit(page, "a used key's page and its chart");
  const tester = page.getByRole('region', { name: 'Test a request' });
  await tester.getByLabel('Method').selectOption('DELETE');
  await tester.getByLabel('Path').fill('/v1/payroll/runs/7');
  await tester.getByRole('button', { name: 'Test request' }).click();
  await expect(tester.locator('.step-fail')).toHaveCount(1);
  await audit(page, 'a refused request explained');
  await page.getByRole('button', { name: 'Revoke key' }).click();
  const revoke = page.getByRole('dialog', { name: 'Revoke “Accessibility-Audit-Key”?' });
  await expect(revoke.locator('.impact-summary')).toContainText('Used');
  await audit(page, 'the revoke dialog with the impact');
  await revoke.getByRole('button', { name: 'Cancel' }).click();
  await expect(revoke).toBeHidden();
  await openSettings(page, 'Usage');
  await expect(page.locator('.chart-svg')).toBeVisible();
  await audit(page, 'the account usage page');

  for (const screen of ['Report a leak', 'Canary keys', 'Security', 'Members', 'Webhooks', 'Audit log']) {
    await openSettings(page, screen);
    await audit(page, screen);
  }

  // Webhooks: the form, the secret shown once, an endpoint with its delivery log.
  await openSettings(page, 'Webhooks');
  await page.getByRole('button', { name: 'Add endpoint' }).first().click();
  const hookForm = page.getByRole('dialog', { name: 'Add a webhook endpoint' });
  await hookForm.getByLabel('Selected events').check();
  await audit(page, 'the Add endpoint form');
  await hookForm.getByLabel('Endpoint URL').fill('http://127.0.0.1:9/accessibility');
  await hookForm.getByLabel(/^Key revoked/).check();
  await hookForm.getByRole('button', { name: 'Add endpoint' }).click();
  const secret = page.getByRole('dialog', { name: 'Endpoint added: its signing secret' });
  await expect(secret).toBeVisible();
  await audit(page, 'a new signing secret');
  await secret.getByRole('button', { name: 'I have stored the secret' }).click();
  await expect(secret).toBeHidden();
  const card = page.locator('article.endpoint-card');
  await card.getByRole('button', { name: 'Delivery log' }).click();
  await expect(card.getByText('No deliveries yet')).toBeVisible();
  await audit(page, 'a webhook endpoint and its delivery log');
  await card.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('dialog', { name: 'Delete this endpoint?' }).getByRole('button', { name: 'Delete endpoint' }).click();
  await expect(page.getByText('No endpoints yet')).toBeVisible();
  await signOut(page);

  await signIn(page, USERS.member);
  await expect(page.getByText('You need Admin or Developer access')).toBeVisible();
  await audit(page, "a member's page");

  // The audit does catch what it is for: pale grey text on white fails the contrast rule.
  await settled(page);
  await page.evaluate(() => {
    const p = document.createElement('p');
    p.textContent = 'Hard to read';
    p.style.cssText = 'color: #dddddd; background: #ffffff';
    document.querySelector('main').append(p);
  });
  expect((await violations(page)).map((v) => v.id)).toContain('color-contrast');
});

test('the theme follows the system until a person picks one, and the choice is kept', async ({ page }) => {
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const DARK = 'rgb(14, 17, 32)';
  const LIGHT = 'rgb(245, 246, 250)';
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Sign in to the console' })).toBeVisible();
  await expect(page.getByLabel('Theme')).toHaveValue('system');
  expect(await background()).toBe(DARK);

  // A choice beats the system's theme, and survives a reload.
  await page.getByLabel('Theme').selectOption('light');
  expect(await background()).toBe(LIGHT);
  await page.reload();
  await expect(page.getByLabel('Theme')).toHaveValue('light');
  expect(await background()).toBe(LIGHT);

  // The same choice in the console's sidebar.
  await signIn(page, USERS.admin);
  const picker = page.getByRole('complementary', { name: 'Navigation' }).getByLabel('Theme');
  await expect(picker).toHaveValue('light');
  await picker.selectOption('dark');
  expect(await background()).toBe(DARK);
  await page.emulateMedia({ colorScheme: 'light' });
  expect(await background()).toBe(DARK);
  await picker.selectOption('system');
  expect(await background()).toBe(LIGHT);
  await signOut(page);
});
