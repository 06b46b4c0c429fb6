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
});
