import { test, expect, USERS, signIn, screenshot } from './fixtures.mjs';

test('a member sees a clear no-access page instead of keys or errors', async ({ page }) => {
  const keyRequests = [];
  page.on('request', (r) => {
    if (/\/v1\/(api-keys|auth\/api-keys|users|audit-events|account)\b/.test(r.url())) keyRequests.push(r.url());
  });
  await signIn(page, USERS.member);
  await expect(page.getByRole('heading', { level: 1, name: 'You need Admin or Developer access to manage API keys' })).toBeVisible();
  await expect(page.getByText('Your role in Acme is Member')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Generate New Key' })).toHaveCount(0);
  await expect(page.locator('table')).toHaveCount(0);
  const html = await page.content();
  expect(html).not.toMatch(/sk_(test|live)_|rk_(test|live)_/);
  // Members see neither the members nor the audit pages in the navigation.
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link')).toHaveText(['API & Developers', 'Security']);
  // No 2FA nag for members: they handle no keys.
  await expect(page.getByRole('note')).toHaveCount(0);
  await screenshot(page, 'member-no-access');

  // A typed address of an admin page is explained too, without a request that fails.
  await page.goto('/#/settings/audit');
  await expect(page.getByRole('heading', { level: 1, name: 'You need Admin access to see this page' })).toBeVisible();
  expect(keyRequests).toEqual([]);
});
