import { test, expect, USERS, signIn, screenshot } from './fixtures.mjs';

test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });

test('on a phone the sidebar collapses into a menu and tables become cards', async ({ page }) => {
  await signIn(page, USERS.admin);
  await expect(page.getByRole('heading', { level: 1, name: 'API & Developers' })).toBeVisible();
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav).toBeHidden();
  // Nothing overflows sideways.
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await expect(page.locator('table.keys-table')).toBeVisible();
  await screenshot(page, 'api-keys-phone');
  // The key table becomes a list of cards.
  await page.getByLabel('Search').fill('Zapier');
  await expect(page.locator('table.keys-table tbody tr')).toHaveCount(2);
  await page.evaluate(() => document.getElementById('restricted-title').scrollIntoView());
  await expect(page.locator('table.keys-table tbody tr').first()).toBeInViewport();
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await screenshot(page, 'api-keys-phone-list');

  const menu = page.getByRole('button', { name: 'Open navigation' });
  await menu.click();
  await expect(nav).toBeVisible();
  await expect(page.getByRole('button', { name: 'Close navigation' })).toHaveAttribute('aria-expanded', 'true');
  await nav.getByRole('link', { name: 'Members' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Members' })).toBeVisible();
  await expect(nav).toBeHidden();

  await page.getByRole('button', { name: 'Open navigation' }).click();
  await nav.getByRole('link', { name: 'API & Developers' }).click();
  await page.getByRole('button', { name: 'Generate New Key' }).first().click();
  const form = page.getByRole('dialog', { name: 'Generate a new API key' });
  await expect(form.getByRole('button', { name: 'Create Key' })).toBeInViewport();
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);

  // The secret's dialog and the "created" toast appear together: the toast must not cover
  // the one button that closes the dialog.
  await form.getByLabel('Label').fill('Phone-Created-Key');
  await form.getByRole('switch', { name: 'Read access to Payroll' }).check();
  await form.getByRole('button', { name: 'Create Key' }).click();
  const secret = page.getByRole('dialog', { name: 'Your new API key' });
  const stored = secret.getByRole('button', { name: 'I have stored the key' });
  const toast = page.locator('#toasts .toast').filter({ hasText: 'Phone-Created-Key' });
  await expect(toast).toBeVisible();
  await expect(stored).toBeInViewport();
  const a = await toast.boundingBox();
  const b = await stored.boundingBox();
  const overlap = a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
  expect(overlap, `toast ${JSON.stringify(a)} covers the button ${JSON.stringify(b)}`).toBe(false);
  await stored.click();
  await expect(secret).toBeHidden();
});
