import { test, expect, USERS, signIn, openSettings } from './fixtures.mjs';

const BUSY = {
  status: 503,
  contentType: 'application/json',
  headers: { 'Retry-After': '1' },
  body: JSON.stringify({ detail: 'Keywarden cannot reach its database just now. Try again in a moment.', code: 'unavailable' }),
};

// A section that cannot load says why and offers Retry, which loads it without a page reload.
test('a section that fails to load offers Retry', async ({ page, problems }) => {
  problems.expect(503, '/v1/api-keys/');
  problems.expect(503, '/v1/users/');
  let failing = true;
  await page.route((url) => url.pathname === '/v1/api-keys/' || url.pathname === '/v1/users/',
    (route) => (failing ? route.fulfill(BUSY) : route.fallback()));

  await signIn(page, USERS.admin);
  const table = page.locator('.table-slot');
  await expect(table.getByRole('alert')).toContainText('cannot reach its database');
  failing = false;
  await table.getByRole('button', { name: 'Retry' }).click();
  await expect(table.getByRole('table')).toBeVisible();
  await expect(table.getByRole('alert')).toHaveCount(0);

  failing = true;
  await openSettings(page, 'Members');
  const retry = page.getByRole('button', { name: 'Retry' });
  await expect(retry).toBeVisible();
  failing = false;
  await retry.click();
  await expect(page.locator('table.members-table')).toBeVisible();
});
