import { test, expect, USERS, signIn, verify } from './fixtures.mjs';

test('rotate the test key: the old one is refused at once, the new one works', async ({ page, request }) => {
  const old = process.env.KW_INITIAL_TEST_KEY;
  expect(await verify(request, old)).toMatchObject({ valid: true, type: 'test', kind: 'standard' });

  await signIn(page, USERS.admin);
  const card = page.getByRole('article', { name: 'Test key' });
  await expect(card.locator('.key-hint code')).toHaveText(`${old.slice(0, 12)}…${old.slice(-4)}`);
  await expect(card).toContainText('Last used');

  const rotate = card.getByRole('button', { name: 'Rotate test key' });
  await rotate.click();
  const confirm = page.getByRole('dialog', { name: 'Rotate the test key?' });
  await expect(confirm).toContainText('The old key stops working at once');
  await expect(confirm.getByLabel('Hand-over period')).toHaveValue('0');
  await confirm.getByRole('button', { name: 'Rotate key' }).click();

  const modal = page.getByRole('dialog', { name: 'Test key: new secret' });
  await expect(modal).toContainText('The old key no longer works.');
  const fresh = await modal.getByLabel('API Secret Key').inputValue();
  expect(fresh).toMatch(/^sk_test_[0-9A-Za-z]{38}$/);
  await modal.getByRole('button', { name: 'I have stored the key' }).click();
  await expect(rotate).toBeFocused();

  expect(await verify(request, old)).toMatchObject({ valid: false, code: 'key_rotated' });
  expect(await verify(request, fresh)).toMatchObject({ valid: true, type: 'test', kind: 'standard' });
  await expect(card.locator('.key-hint code')).toHaveText(new RegExp(`^${fresh.slice(0, 12)}`));
  expect(await page.content()).not.toContain(fresh);
});

test('rotate the live key with a hand-over period: the old one keeps working', async ({ page, request }) => {
  const old = process.env.KW_INITIAL_LIVE_KEY;
  await signIn(page, USERS.developer);
  const card = page.getByRole('article', { name: 'Live key' });
  await card.getByRole('button', { name: 'Rotate live key' }).click();
  const confirm = page.getByRole('dialog', { name: 'Rotate the live key?' });
  await confirm.getByLabel('Hand-over period').selectOption('3600');
  await expect(confirm).toContainText('The old key keeps working for 1 hour');
  await confirm.getByRole('button', { name: 'Rotate key' }).click();
  const modal = page.getByRole('dialog', { name: 'Live key: new secret' });
  await expect(modal).toContainText('The old key stops working');
  const fresh = await modal.getByLabel('API Secret Key').inputValue();
  // Shown once, so neither Escape nor a stray click beside the dialog closes it.
  await page.keyboard.press('Escape');
  await page.mouse.click(5, 5);
  await expect(modal).toBeVisible();
  await expect(modal.getByLabel('API Secret Key')).toHaveValue(fresh);
  await expect(modal.getByRole('button', { name: 'Close' })).toHaveCount(0);
  await modal.getByRole('button', { name: 'I have stored the key' }).click();
  await expect(modal).toBeHidden();

  expect(await verify(request, fresh)).toMatchObject({ valid: true, type: 'live' });
  expect(await verify(request, old)).toMatchObject({ valid: true, type: 'live' });

  // The old key is listed as working until the hand-over ends, at the time the API gives.
  const token = await (await request.post('/v1/auth/token/', { data: { email: USERS.developer.email, password: USERS.developer.password } })).json();
  const listed = await (await request.get('/v1/api-keys/?kind=standard&status=rotated&type=live', { headers: { Authorization: `Bearer ${token.access}` } })).json();
  const previous = listed.results.find((k) => old.startsWith(k.hint.slice(0, 12)));
  expect(previous.grace_until).toBeTruthy();
  await page.getByLabel('Type').selectOption('standard');
  const row = page.getByRole('row').filter({ hasText: previous.hint });
  await expect(row).toContainText('Works until');
  await expect(row).toContainText('Hand-over');
  await expect(row.locator('td[data-label="Expires"]')).not.toContainText('Never');
  await expect(row.locator('td[data-label="Expires"] time')).toHaveAttribute('datetime', previous.grace_until);

  // Ending it now revokes the old key; the new one keeps working.
  await row.getByRole('button', { name: /End the hand-over of/ }).click();
  const end = page.getByRole('dialog', { name: /End the hand-over of/ });
  await expect(end).toContainText(previous.hint);
  await end.getByRole('button', { name: 'End hand-over now' }).click();
  await expect(row).toContainText('Revoked');
  await expect(row.getByRole('button', { name: /End the hand-over of/ })).toHaveCount(0);
  expect(await verify(request, old)).toMatchObject({ valid: false, code: 'key_revoked' });
  expect(await verify(request, fresh)).toMatchObject({ valid: true, type: 'live' });
});

test('rotate a restricted key from its row: same scopes, new secret, old one refused', async ({ page, request }) => {
  const token = await (await request.post('/v1/auth/token/', { data: { email: USERS.admin.email, password: USERS.admin.password } })).json();
  const created = await request.post('/v1/api-keys/', {
    headers: { Authorization: `Bearer ${token.access}` },
    data: { label: 'Payments-Reconciler', type: 'test', scopes: ['payments:write', 'asset:read'] },
  });
  expect(created.status()).toBe(201);
  const old = (await created.json()).key;

  await signIn(page, USERS.admin);
  await page.getByLabel('Search').fill('Payments-Reconciler');
  const row = page.getByRole('row', { name: /Payments-Reconciler/ }).filter({ hasText: 'Active' });
  await row.getByRole('button', { name: 'Rotate Payments-Reconciler' }).click();
  const confirm = page.getByRole('dialog', { name: 'Rotate “Payments-Reconciler”?' });
  await expect(confirm).toContainText('The old key stops working at once');
  await confirm.getByRole('button', { name: 'Rotate key' }).click();
  const modal = page.getByRole('dialog', { name: 'Payments-Reconciler: new secret' });
  const fresh = await modal.getByLabel('API Secret Key').inputValue();
  expect(fresh).toMatch(/^rk_test_/);
  await modal.getByRole('button', { name: 'I have stored the key' }).click();

  expect(await verify(request, old)).toMatchObject({ valid: false, code: 'key_rotated' });
  const now = await verify(request, fresh, 'payments:write');
  expect(now).toMatchObject({ valid: true, kind: 'restricted' });
  expect(now.scopes).toEqual(expect.arrayContaining(['payments:write', 'asset:read']));
  await expect(page.getByRole('row', { name: /Payments-Reconciler/ })).toHaveCount(2);
  await expect(page.getByRole('row', { name: /Payments-Reconciler/ }).filter({ hasText: 'Rotated' })).toHaveCount(1);
});

test('a revoked standard key is replaced from its card; the new one works at once', async ({ page, request }) => {
  const token = await (await request.post('/v1/auth/token/', { data: { email: USERS.admin.email, password: USERS.admin.password } })).json();
  const auth = { Authorization: `Bearer ${token.access}` };
  const standard = await (await request.get('/v1/auth/api-keys/', { headers: auth })).json();
  expect((await request.delete(`/v1/api-keys/${standard.test.id}/`, { headers: auth })).status()).toBe(200);

  await signIn(page, USERS.admin);
  const card = page.getByRole('article', { name: 'Test key' });
  await expect(card).toContainText('No working test key: the last one was revoked.');
  await expect(card.getByRole('button', { name: 'Rotate test key' })).toHaveCount(0);
  await card.getByRole('button', { name: 'Issue a new test key' }).click();
  const confirm = page.getByRole('dialog', { name: 'Issue a new test key?' });
  await expect(confirm).toContainText('The revoked key stays revoked.');
  await confirm.getByRole('button', { name: 'Issue test key' }).click();
  const modal = page.getByRole('dialog', { name: 'Test key: new secret' });
  const fresh = await modal.getByLabel('API Secret Key').inputValue();
  expect(fresh).toMatch(/^sk_test_[0-9A-Za-z]{38}$/);
  await modal.getByRole('button', { name: 'I have stored the key' }).click();
  await expect(card.getByRole('button', { name: 'Rotate test key' })).toBeFocused();

  expect(await verify(request, fresh)).toMatchObject({ valid: true, type: 'test', kind: 'standard' });
  await expect(card.locator('.key-hint code')).toHaveText(new RegExp(`^${fresh.slice(0, 12)}`));
  const old = await (await request.get(`/v1/api-keys/${standard.test.id}/`, { headers: auth })).json();
  expect(old.status).toBe('revoked');
  expect(await page.content()).not.toContain(fresh);
});
