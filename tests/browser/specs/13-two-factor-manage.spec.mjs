import { readFileSync } from 'node:fs';
import { test, expect, USERS, signIn, openSettings, totp } from './fixtures.mjs';

// A person with 2FA can get new recovery codes (and download them) and can turn 2FA off, each
// after confirming their password and a code; a wrong password changes nothing.
test('new recovery codes and turning 2FA off, each confirmed with the password and a code', async ({ page, request, problems }) => {
  problems.expect(401, '/v1/auth/token'); // the password step answers `otp_required`
  problems.expect(403, '/v1/auth/2fa/recovery-codes'); // the wrong password, on purpose
  const user = { email: 'ops-lead@acme.test', password: 'ops-lead-password-0123' };
  const admin = await (await request.post('/v1/auth/token/', { data: { email: USERS.admin.email, password: USERS.admin.password } })).json();
  const added = await request.post('/v1/users/', { headers: { Authorization: `Bearer ${admin.access}` }, data: { ...user, role: 'developer' } });
  expect(added.status()).toBe(201);

  // Turn 2FA on through the page, keeping the secret and the first recovery codes.
  await signIn(page, user);
  await openSettings(page, 'Security');
  await page.getByRole('button', { name: 'Enable two-factor authentication' }).click();
  const secret = (await page.getByLabel('Secret key').inputValue()).replace(/\s+/g, '');
  await page.getByLabel('Code from your app').fill(totp(secret));
  await page.getByRole('button', { name: 'Confirm and turn on' }).click();
  const first = page.getByRole('dialog', { name: 'Save your recovery codes' });
  await expect(first.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem')).toHaveCount(10);
  const oldCodes = await first.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem').allInnerTexts();
  // Shown once: a stray click beside the dialog or Escape keeps it open.
  await page.keyboard.press('Escape');
  await page.mouse.click(5, 5);
  await expect(first).toBeVisible();
  await first.getByRole('button', { name: 'I have saved my recovery codes' }).click();

  // New codes: a wrong password is refused at its field and changes nothing.
  await page.getByRole('button', { name: 'New recovery codes' }).click();
  const ask = page.getByRole('dialog', { name: 'New recovery codes' });
  await ask.getByLabel('Password').fill('not-the-password-at-all');
  await ask.getByLabel('Code', { exact: true }).fill(oldCodes[0]);
  await ask.getByRole('button', { name: 'Make new codes' }).click();
  await expect(ask.locator('[data-field="password"] .field-error')).toContainText('That password is not right.');
  await expect(ask.getByLabel('Password')).toBeFocused();
  await ask.getByLabel('Password').fill(user.password);
  await ask.getByRole('button', { name: 'Make new codes' }).click();
  const fresh = page.getByRole('dialog', { name: 'Save your recovery codes' });
  await expect(fresh.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem')).toHaveCount(10);
  const newCodes = await fresh.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem').allInnerTexts();
  expect(newCodes.length).toBe(oldCodes.length);
  expect(newCodes.filter((c) => oldCodes.includes(c))).toEqual([]);
  const downloading = page.waitForEvent('download');
  await fresh.getByRole('link', { name: 'Download' }).click();
  const file = await downloading;
  expect(file.suggestedFilename()).toBe('keywarden-recovery-codes.txt');
  const text = readFileSync(await file.path(), 'utf8');
  for (const code of newCodes) expect(text).toContain(code);
  await fresh.getByRole('button', { name: 'I have saved my recovery codes' }).click();

  // The old codes no longer sign in; a new one does.
  const refused = await request.post('/v1/auth/token/', { data: { ...user, otp: oldCodes[1] } });
  expect(refused.status()).toBe(401);
  expect((await refused.json()).code).toBe('otp_invalid');

  // Turn it off with a new recovery code: sign-in then needs only the password.
  await page.getByRole('button', { name: 'Turn off two-factor authentication' }).click();
  const off = page.getByRole('dialog', { name: 'Turn off two-factor authentication?' });
  await off.getByLabel('Password').fill(user.password);
  await off.getByLabel('Code', { exact: true }).fill(newCodes[0]);
  await off.getByRole('button', { name: 'Turn off' }).click();
  await expect(off).toBeHidden();
  // Every session of the person ended with it, this one too: sign in with the password alone.
  await expect(page.getByText('Two-factor authentication is off, and your sessions have ended.')).toBeVisible();
  await signIn(page, user);
  await openSettings(page, 'Security');
  await expect(page.getByRole('button', { name: 'Enable two-factor authentication' })).toBeVisible();
});
