import { test, expect, USERS, signIn, verify, screenshot } from './fixtures.mjs';

function isoDay(daysAhead) {
  const d = new Date(Date.now() + daysAhead * 86_400_000);
  return d.toISOString().slice(0, 10);
}

async function generateKey(page, { label, mode = 'test', read = [], write = [], expires }) {
  await page.getByRole('button', { name: 'Generate New Key' }).first().click();
  const dialog = page.getByRole('dialog', { name: 'Generate a new API key' });
  await dialog.getByLabel('Label').fill(label);
  if (mode === 'live') await dialog.getByRole('radio', { name: 'Live', exact: true }).check();
  for (const product of read) await dialog.getByRole('switch', { name: `Read access to ${product}` }).check();
  for (const product of write) await dialog.getByRole('switch', { name: `Write access to ${product}` }).check();
  if (expires) {
    await dialog.getByLabel('On a date').check();
    await dialog.getByLabel('Expiry date').fill(expires);
  }
  await dialog.getByRole('button', { name: 'Create Key' }).click();
  const modal = page.getByRole('dialog', { name: 'Your new API key' });
  await expect(modal).toBeVisible();
  const secret = await modal.getByLabel('API Secret Key').inputValue();
  await modal.getByRole('button', { name: 'I have stored the key' }).click();
  await expect(modal).toBeHidden();
  return secret;
}

test('generate a restricted key with two scopes and an expiry, use it, then revoke it', async ({ page, request, problems }) => {
  problems.expect(400, '/v1/api-keys');
  await signIn(page, USERS.admin);
  await expect(page.getByRole('heading', { name: 'Standard keys' })).toBeVisible();
  await expect(page.getByText('No restricted keys yet')).toBeVisible();

  const opener = page.getByRole('button', { name: 'Generate New Key' }).first();
  await opener.click();
  const form = page.getByRole('dialog', { name: 'Generate a new API key' });
  await expect(form).toBeVisible();
  await expect(form.getByLabel('Label')).toBeFocused();
  await expect(form).toContainText('Zapier-Integration-Payroll');
  await expect(form.getByLabel('Never Expire')).toBeChecked();
  await expect(form.getByLabel('Expiry date')).toBeDisabled();

  // Write turns Read on; Read off turns Write off.
  const payrollRead = form.getByRole('switch', { name: 'Read access to Payroll' });
  const payrollWrite = form.getByRole('switch', { name: 'Write access to Payroll' });
  await payrollWrite.check();
  await expect(payrollRead).toBeChecked();
  await payrollRead.uncheck();
  await expect(payrollWrite).not.toBeChecked();

  // The browser checks nothing for us: a missing label and no scope are explained at the field.
  // The first error takes focus and is announced with its reason.
  await form.getByRole('button', { name: 'Create Key' }).click();
  const labelError = form.locator('[data-field="label"] .field-error');
  await expect(labelError).toContainText('Give the key a label');
  await expect(labelError).toHaveAttribute('role', 'alert');
  await expect(form.getByLabel('Label')).toBeFocused();
  await expect(form.getByLabel('Label')).toHaveAccessibleDescription(/Give the key a label/);

  // A label over 100 characters is kept whole, counted, and refused with the reason.
  const counter = form.locator('[data-field="label"] .counter');
  await expect(counter).toHaveText('0 / 100');
  const long = 'Payroll-'.repeat(15);
  await form.getByLabel('Label').fill(long);
  await expect(form.getByLabel('Label')).toHaveValue(long);
  await expect(counter).toHaveText('120 / 100');
  await expect(counter).toHaveClass(/over/);
  await form.getByRole('button', { name: 'Create Key' }).click();
  await expect(labelError).toContainText('The label has 120 characters: shorten it to 100 or fewer.');
  await expect(form.getByLabel('Label')).toBeFocused();
  await form.getByLabel('Label').fill('Zapier-Integration-Payroll');
  await expect(counter).toHaveText('26 / 100');
  await form.getByRole('button', { name: 'Create Key' }).click();
  await expect(form.locator('[data-field="scopes"] .field-error')).toContainText('at least one permission');

  await form.getByRole('switch', { name: 'Read access to Asset' }).check();
  await payrollWrite.check();
  await form.getByLabel('On a date').check();
  await expect(form.getByLabel('Expiry date')).toBeEnabled();

  // An expiry in the past is refused at its field, in words.
  await form.getByLabel('Expiry date').fill('2020-01-31');
  await form.getByRole('button', { name: 'Create Key' }).click();
  await expect(form.locator('[data-field="expires_at"] .field-error')).toBeVisible();
  await expect(form.getByLabel('Expiry date')).toHaveAttribute('aria-invalid', 'true');

  const expiry = isoDay(45);
  await form.getByLabel('Expiry date').fill(expiry);
  await expect(form.locator('[data-field="expires_at"] .field-error')).toBeHidden();
  await form.getByLabel('Label').focus();
  await screenshot(page, 'new-key-form');
  await form.getByRole('button', { name: 'Create Key' }).click();

  // The secret, once, in a read-only input; Copy puts it on the clipboard.
  const modal = page.getByRole('dialog', { name: 'Your new API key' });
  await expect(modal).toBeVisible();
  await expect(form).toBeHidden();
  await expect(modal).toContainText('never be shown again');
  const input = modal.getByLabel('API Secret Key');
  await expect(input).toHaveJSProperty('readOnly', true);
  const secret = await input.inputValue();
  expect(secret).toMatch(/^rk_test_[0-9A-Za-z]{38}$/);
  await modal.getByRole('button', { name: 'Copy the key to the clipboard' }).click();
  await expect(modal.getByRole('status')).toHaveText('Copied to the clipboard.');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
  await screenshot(page, 'secret-modal');

  // It works for what it was granted, and only that.
  const valid = await verify(request, secret, 'payroll:write');
  expect(valid).toMatchObject({ valid: true, type: 'test', kind: 'restricted' });
  expect(valid.scopes).toEqual(expect.arrayContaining(['asset:read', 'payroll:write']));
  expect(valid.expires_at.slice(0, 10)).toBe(expiry);
  expect(await verify(request, secret, 'asset:read')).toMatchObject({ valid: true });
  expect(await verify(request, secret, 'health:read')).toMatchObject({ valid: false, code: 'insufficient_scope' });

  // Closing the modal removes the secret from the page; focus returns to the button.
  await modal.getByRole('button', { name: 'I have stored the key' }).click();
  await expect(modal).toBeHidden();
  await expect(opener).toBeFocused();
  expect(await page.content()).not.toContain(secret);
  expect(await page.evaluate((s) => document.body.innerText.includes(s) || [...document.querySelectorAll('input')].some((i) => i.value === s), secret)).toBe(false);

  const row = page.getByRole('row', { name: /Zapier-Integration-Payroll/ });
  await expect(row).toContainText('Active');
  await expect(row).toContainText('Asset · Read');
  await expect(row).toContainText('Payroll · Read & Write');
  await expect(row).toContainText('You');

  // After a reload the secret is nowhere: not in the HTML, nor in either storage.
  await page.reload();
  await expect(row).toBeVisible();
  expect(await page.content()).not.toContain(secret);
  const storage = await page.evaluate(() => JSON.stringify({ local: { ...window.localStorage }, session: { ...window.sessionStorage } }));
  expect(storage).not.toContain(secret);
  expect(storage).not.toContain(secret.slice(8, 30));

  // Revoke, with a confirmation; the key is refused at once.
  await row.getByRole('button', { name: 'Revoke Zapier-Integration-Payroll' }).click();
  const confirm = page.getByRole('dialog', { name: 'Revoke “Zapier-Integration-Payroll”?' });
  await expect(confirm).toContainText('every request that uses this key is refused');
  await expect(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await confirm.getByRole('button', { name: 'Revoke key' }).click();
  await expect(confirm).toBeHidden();
  await expect(row).toContainText('Revoked');
  expect(await verify(request, secret)).toMatchObject({ valid: false, code: 'key_revoked' });
});

test('the key list filters by status, type and mode, searches on the server, and pages', async ({ page, request }) => {
  // A developer's key, made through the API, shows its creator to the admin.
  const token = await (await request.post('/v1/auth/token/', { data: { email: USERS.developer.email, password: USERS.developer.password } })).json();
  const asDeveloper = { Authorization: `Bearer ${token.access}` };
  const health = await request.post('/v1/api-keys/', { headers: asDeveloper, data: { label: 'Internal-App-Health', type: 'live', scopes: ['health:read'] } });
  expect(health.status()).toBe(201);

  await signIn(page, USERS.admin);
  await generateKey(page, { label: 'Dashboard-Asset-Reader', read: ['Asset'] });
  const talent = await generateKey(page, { label: 'Onboarding-Talent-Sync', mode: 'live', write: ['Talent'], read: ['Perks'], expires: isoDay(90) });
  expect(talent).toMatch(/^rk_live_/);
  await generateKey(page, { label: 'Zapier-Integration-Payroll-v2', write: ['Payroll'] });

  const table = page.locator('table.keys-table');
  await expect(table.getByRole('row')).toHaveCount(1 + 5);
  await expect(page.getByRole('row', { name: /Internal-App-Health/ })).toContainText(USERS.developer.email);
  await screenshot(page, 'api-keys', { fullPage: true });

  // Search runs on the server (the `search` query parameter).
  const searched = page.waitForRequest((r) => r.url().includes('/v1/api-keys/?') && r.url().includes('search=Health'));
  await page.getByLabel('Search').fill('Health');
  await searched;
  await expect(table.getByRole('row')).toHaveCount(2);
  await expect(table).toContainText('Internal-App-Health');
  await page.getByLabel('Search').fill('');
  await expect(table.getByRole('row')).toHaveCount(6);

  await page.getByLabel('Status').selectOption('revoked');
  await expect(table.getByRole('row')).toHaveCount(2);
  await expect(table).toContainText('Zapier-Integration-Payroll');
  await page.getByLabel('Status').selectOption('');
  await page.getByLabel('Mode').selectOption('live');
  await expect(table.getByRole('row')).toHaveCount(3);
  await expect(table).toContainText('Internal-App-Health');
  await expect(table).toContainText('Onboarding-Talent-Sync');
  await page.getByLabel('Mode').selectOption('');
  await page.getByLabel('Type').selectOption('standard');
  await expect(table.getByRole('row')).toHaveCount(3);
  await expect(table).toContainText('All products');
  await page.getByLabel('Type').selectOption('restricted');

  // Pages of 10 through next_cursor.
  for (let i = 1; i <= 10; i += 1) {
    const created = await request.post('/v1/api-keys/', {
      headers: asDeveloper,
      data: { label: `Batch-Key-${String(i).padStart(2, '0')}`, type: 'test', scopes: ['perks:read'] },
    });
    expect(created.status()).toBe(201);
  }
  await page.reload();
  await expect(table.getByRole('row')).toHaveCount(11);
  await expect(table).toContainText('Batch-Key-10');
  const pager = page.getByRole('navigation', { name: 'Pages of keys' });
  await expect(pager).toContainText('Page 1');
  await pager.getByRole('button', { name: 'Next →' }).click();
  await expect(pager).toContainText('Page 2');
  await expect(table.getByRole('row')).toHaveCount(6);
  await expect(table).toContainText('Zapier-Integration-Payroll');
  await expect(pager.getByRole('button', { name: 'Next →' })).toBeDisabled();
  await pager.getByRole('button', { name: '← Previous' }).click();
  await expect(pager).toContainText('Page 1');
  await expect(table).toContainText('Batch-Key-10');

  // Exactly one full page: the API offers no cursor, so there is no page to go to.
  await page.getByLabel('Search').fill('Batch-Key');
  await expect(table.getByRole('row')).toHaveCount(11);
  await expect(table).not.toContainText('Dashboard-Asset-Reader');
  await expect(pager.getByRole('button', { name: 'Next →' })).toHaveCount(0);
});

test('a key that stops working within a week says so, in the list and on its own page', async ({ page, request }) => {
  const token = await (await request.post('/v1/auth/token/', { data: { email: USERS.admin.email, password: USERS.admin.password } })).json();
  const auth = { Authorization: `Bearer ${token.access}` };
  const create = async (label, days) => {
    const expiresAt = new Date(Date.now() + days * 86_400_000).toISOString();
    const created = await request.post('/v1/api-keys/', { headers: auth, data: { label, type: 'test', scopes: ['asset:read'], expires_at: expiresAt } });
    expect(created.status()).toBe(201);
    return (await created.json()).id;
  };
  const soon = await create('Expiring-In-3-Days', 3);
  await create('Expiring-In-30-Days', 30);

  await signIn(page, USERS.admin);
  const badgeOf = (row) => row.locator('.badge', { hasText: 'Expires soon' });
  const soonBadge = badgeOf(page.getByRole('row', { name: /Expiring-In-3-Days/ }));
  await expect(soonBadge).toBeVisible();
  await expect(soonBadge).toHaveAttribute('title', /^Stops working /);
  await expect(badgeOf(page.getByRole('row', { name: /Expiring-In-30-Days/ }))).toHaveCount(0);

  // The key's own page carries the same badge, with the same time as its list row.
  const title = await soonBadge.getAttribute('title');
  await page.goto(`/#/keys/${soon}`);
  const header = page.locator('header.key-header');
  await expect(header.getByRole('heading', { name: 'Expiring-In-3-Days' })).toBeVisible();
  await expect(header.locator('.badge', { hasText: 'Expires soon' })).toHaveAttribute('title', title);
});

test('dialogs keep focus inside, close on Escape and give focus back', async ({ page }) => {
  await signIn(page, USERS.developer);
  // A developer cannot list the members, but sees who created each key by email.
  await page.getByLabel('Search').fill('Zapier-Integration-Payroll');
  const byAdmin = page.locator('table.keys-table tbody tr').filter({ hasText: 'Zapier-Integration-Payroll' }).first();
  await expect(byAdmin.locator('td[data-label="Created"]')).toContainText(USERS.admin.email);
  await expect(page.locator('table.keys-table')).not.toContainText(/User [0-9a-f]{8}/);
  const opener = page.getByRole('button', { name: 'Generate New Key' }).first();
  await opener.focus();
  await page.keyboard.press('Enter');
  const form = page.getByRole('dialog', { name: 'Generate a new API key' });
  await expect(form.getByLabel('Label')).toBeFocused();
  await form.getByRole('button', { name: 'Create Key' }).focus();
  await page.keyboard.press('Tab');
  await expect(form.getByRole('button', { name: 'Close' })).toBeFocused();
  await page.keyboard.press('Shift+Tab');
  await expect(form.getByRole('button', { name: 'Create Key' })).toBeFocused();
  // The page behind is inert while the dialog is open.
  await expect(page.locator('#app')).toHaveJSProperty('inert', true);
  await page.keyboard.press('Escape');
  await expect(form).toBeHidden();
  await expect(opener).toBeFocused();
  await expect(page.locator('#app')).toHaveJSProperty('inert', false);

  // With something typed, Escape, a click beside the dialog and Cancel ask before discarding.
  await opener.click();
  await form.getByLabel('Label').fill('Half-Typed-Label');
  await page.keyboard.press('Escape');
  await expect(form).toBeVisible();
  await expect(form.getByRole('alert')).toContainText('Discard what you entered?');
  await expect(form.getByRole('button', { name: 'Keep editing' })).toBeFocused();
  await form.getByRole('button', { name: 'Keep editing' }).click();
  await expect(form.getByLabel('Label')).toHaveValue('Half-Typed-Label');
  await expect(form.getByLabel('Label')).toBeFocused();
  await page.mouse.click(5, 5);
  await expect(form.getByRole('button', { name: 'Keep editing' })).toBeVisible();
  await form.getByRole('button', { name: 'Keep editing' }).click();
  await form.getByRole('button', { name: 'Cancel' }).click();
  await form.getByRole('button', { name: 'Discard' }).click();
  await expect(form).toBeHidden();
  await expect(opener).toBeFocused();
});
