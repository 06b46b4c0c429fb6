import { test, expect, USERS, signIn, signOut, openSettings, totp, screenshot } from './fixtures.mjs';

test('turn on 2FA with a TOTP code, then sign in with a recovery code and with a fresh code', async ({ page, problems }) => {
  problems.expect(401, '/v1/auth/token'); // the password step answers `otp_required`, a wrong code `otp_invalid`
  problems.expect(401, '/v1/auth/2fa/confirm'); // a wrong code is refused while enrolling
  const user = USERS.secops;
  await signIn(page, user);

  // Developers without 2FA are told to turn it on.
  const banner = page.getByRole('note');
  await expect(banner).toContainText('two-factor authentication is recommended');
  await banner.getByRole('link', { name: 'Enable 2FA' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Security' })).toBeVisible();
  await expect(page.getByRole('note')).toHaveCount(0);

  await page.getByRole('button', { name: 'Enable two-factor authentication' }).click();
  const qr = page.getByRole('img', { name: 'QR code to scan with your authenticator app' });
  await expect(qr).toBeVisible();
  await expect(qr).toHaveAttribute('src', /^data:image\/svg\+xml;base64,/);
  expect(await qr.evaluate((img) => img.complete && img.naturalWidth > 0)).toBe(true);
  const secret = (await page.getByLabel('Secret key').inputValue()).replace(/\s+/g, '');
  expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
  await screenshot(page, 'security-2fa');

  const code = page.getByLabel('Code from your app');
  await expect(code).toBeFocused();
  const wrong = String((Number(totp(secret)) + 1) % 1_000_000).padStart(6, '0');
  await code.fill(wrong);
  await page.getByRole('button', { name: 'Confirm and turn on' }).click();
  await expect(page.locator('[data-field="otp"] .field-error')).toContainText('That code is not right');

  const enrolledAt = Date.now() / 1000;
  await code.fill(totp(secret, enrolledAt));
  await page.getByRole('button', { name: 'Confirm and turn on' }).click();

  const codesDialog = page.getByRole('dialog', { name: 'Save your recovery codes' });
  await expect(codesDialog).toContainText('never show these codes again');
  const recoveryCodes = await codesDialog.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem').allInnerTexts();
  expect(recoveryCodes.length).toBeGreaterThanOrEqual(8);
  await codesDialog.getByRole('button', { name: 'I have saved my recovery codes' }).click();
  await expect(codesDialog).toBeHidden();
  expect(await page.content()).not.toContain(recoveryCodes[0]);
  await expect(page.getByText('Two-factor authentication is on for')).toBeVisible();

  // Sign in again: the password step asks for a code; a recovery code works once.
  await signOut(page);
  await signIn(page, user, { expectOtp: true });
  await page.getByRole('button', { name: 'Use a recovery code instead' }).click();
  await page.getByLabel('Recovery code').fill(recoveryCodes[0]);
  await page.getByRole('button', { name: 'Verify and sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'API & Developers' })).toBeVisible();
  await expect(page.getByRole('note')).toHaveCount(0);

  // And with the authenticator: a code is accepted once, so use the next 30-second step.
  await signOut(page);
  await signIn(page, user, { expectOtp: true });
  const authCode = page.getByLabel('Authentication code');
  await authCode.fill(totp(secret, enrolledAt)); // already used to enrol
  await page.getByRole('button', { name: 'Verify and sign in' }).click();
  await expect(page.locator('[data-field="otp"] .field-error')).toContainText('wrong, expired or already used');
  const nextStep = (Math.floor(enrolledAt / 30) + 1) * 30;
  const wait = nextStep * 1000 - Date.now();
  if (wait > 0) await page.waitForTimeout(wait + 250);
  await authCode.fill(totp(secret));
  await page.getByRole('button', { name: 'Verify and sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'API & Developers' })).toBeVisible();
  await openSettings(page, 'Security');
  await expect(page.getByText('Two-factor authentication is on for')).toBeVisible();
});
