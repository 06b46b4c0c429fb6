import { test, expect, USERS, signIn, openSettings } from './fixtures.mjs';

// The account key policy (SPEC §9) as an admin sees it under Security: the four settings, a
// wrong value told at its field, the keys that break a tightened policy, and a key refused by it.

async function save(page, policy) {
  await policy.getByRole('button', { name: 'Save policy' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Account policy saved' }).last()).toBeVisible();
}

test('admins set the key policy and see the keys that break it', async ({ page, problems }) => {
  problems.expect(400, '/v1/api-keys');
  await signIn(page, USERS.admin);
  await openSettings(page, 'Security');
  const policy = page.getByRole('region', { name: 'Account policy' });
  const lifetime = policy.getByLabel('Maximum key lifetime (days)');
  const expiry = policy.getByRole('switch', { name: /Require an expiry date on live keys/ });
  const allowlist = policy.getByRole('switch', { name: /Require an IP allowlist on live keys/ });
  const leak = policy.getByLabel('When a key is reported leaked');
  // The defaults restrict nothing.
  await expect(lifetime).toHaveValue('');
  await expect(expiry).not.toBeChecked();
  await expect(allowlist).not.toBeChecked();
  await expect(leak).toHaveValue('revoke');
  await expect(policy).toContainText('Every working key meets the key policy.');

  // A wrong lifetime is told at its field, and nothing is sent.
  await lifetime.fill('0');
  await policy.getByRole('button', { name: 'Save policy' }).click();
  const lifetimeError = policy.locator('[data-field="max_key_lifetime_days"] .field-error');
  await expect(lifetimeError).toContainText('from 1 to 3650');
  await expect(lifetime).toBeFocused();
  await expect(lifetime).toHaveAttribute('aria-invalid', 'true');

  // Tightened: the standard live key has no allowlist, so it is listed, and keeps working.
  await lifetime.fill('365');
  await allowlist.check();
  await leak.selectOption('notify');
  await save(page, policy);
  const listed = page.locator('.policy-violations');
  await expect(listed.getByRole('heading', { name: 'Keys that break the key policy' })).toBeVisible();
  const standard = listed.locator('li.violation', { hasText: 'Standard live key' });
  await expect(standard).toContainText('IP allowlist');
  await expect(standard).toContainText('requires live keys to have an IP allowlist');
  await expect(standard).toContainText('Standard');
  await expect(listed.getByRole('link', { name: 'Open API keys' })).toHaveAttribute('href', '#/settings/api');

  await page.reload();
  const again = page.getByRole('region', { name: 'Account policy' });
  await expect(again.getByLabel('Maximum key lifetime (days)')).toHaveValue('365');
  await expect(again.getByRole('switch', { name: /Require an IP allowlist on live keys/ })).toBeChecked();
  await expect(again.getByLabel('When a key is reported leaked')).toHaveValue('notify');

  // A new live key without an allowlist is refused, and the dialog says why.
  await openSettings(page, 'API & Developers');
  await page.getByRole('button', { name: 'Generate New Key' }).first().click();
  const dialog = page.getByRole('dialog', { name: 'Generate a new API key' });
  await dialog.getByLabel('Label').fill('Policy-Check');
  await dialog.getByRole('radio', { name: 'Live', exact: true }).check();
  await dialog.getByLabel('On a date').check();
  await dialog.getByLabel('Expiry date').fill(new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10));
  await dialog.getByRole('switch').first().check();
  await dialog.getByRole('button', { name: 'Create Key' }).click();
  await expect(dialog.getByRole('alert')).toContainText('requires live keys to have an IP allowlist');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  // The form was filled in: the console asks before dropping it.
  await page.getByRole('button', { name: 'Discard' }).click();
  await expect(dialog).toBeHidden();

  // Loosened again, for the specs that follow: nothing is listed.
  await openSettings(page, 'Security');
  const last = page.getByRole('region', { name: 'Account policy' });
  await last.getByLabel('Maximum key lifetime (days)').fill('');
  await last.getByRole('switch', { name: /Require an IP allowlist on live keys/ }).uncheck();
  await last.getByLabel('When a key is reported leaked').selectOption('revoke');
  await save(page, last);
  await expect(page.locator('.policy-violations')).toContainText('Every working key meets the key policy.');
});
