import { test, expect, USERS, signOut, screenshot } from './fixtures.mjs';

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

test('the console is served with a strict CSP and hardening headers', async ({ request }) => {
  const index = await request.get('/');
  expect(index.status()).toBe(200);
  const headers = index.headers();
  expect(headers['content-type']).toBe('text/html; charset=utf-8');
  expect(headers['content-security-policy']).toBe(CSP);
  expect(headers['cache-control']).toBe('no-store');
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['referrer-policy']).toBe('no-referrer');
  expect(headers['x-frame-options']).toBe('DENY');
  expect(await index.text()).not.toMatch(/<script>|<style|style=/);

  for (const [path, type] of [['/console.js', 'text/javascript'], ['/console.css', 'text/css'], ['/favicon.svg', 'image/svg+xml'], ['/views/keys.js', 'text/javascript']]) {
    const asset = await request.get(path);
    expect(asset.status(), path).toBe(200);
    expect(asset.headers()['content-type'], path).toContain(type);
    expect(asset.headers()['content-security-policy'], path).toBe(CSP);
    expect(asset.headers()['x-content-type-options'], path).toBe('nosniff');
  }
  // The API keeps answering JSON next to the console.
  const missing = await request.get('/no-such-page');
  expect(missing.status()).toBe(404);
  expect(missing.headers()['content-type']).toContain('application/json');
});

test('sign in with email and password, see API & Developers, sign out', async ({ page, problems }) => {
  problems.expect(401, '/v1/auth/token');
  await page.goto('/');
  await expect(page).toHaveTitle(/Sign in · Keywarden/);
  await expect(page.getByRole('heading', { name: 'Sign in to the console' })).toBeVisible();
  await screenshot(page, 'sign-in');

  // A wrong password is refused next to the form, and the email is kept.
  await page.getByLabel('Email').fill(USERS.admin.email);
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('The email or password is not right');

  await page.getByLabel('Password').fill(USERS.admin.password);
  await page.getByLabel('Password').press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: 'API & Developers' })).toBeVisible();
  await expect(page).toHaveURL(/#\/settings\/api$/);
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API & Developers' })).toHaveAttribute('aria-current', 'page');
  await expect(page.getByText(USERS.admin.email)).toBeVisible();
  // The usage example names this console's own origin, not a placeholder host.
  const origin = new URL(page.url()).origin;
  await expect(page.locator('.usage code')).toContainText(`curl ${origin}/v1/customers/`);

  // "Settings", as the guide says to click it, leads to API & Developers and keeps its pages listed.
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Members' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Members' })).toBeVisible();
  await nav.getByRole('button', { name: 'Settings' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'API & Developers' })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'Members' })).toBeVisible();

  // The session survives a reload (refresh token in sessionStorage), and nothing is in localStorage.
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'API & Developers' })).toBeVisible();
  expect(await page.evaluate(() => window.localStorage.length)).toBe(0);
  expect(await page.evaluate(() => document.cookie)).toBe('');

  await signOut(page);
  expect(await page.evaluate(() => window.sessionStorage.length)).toBe(0);
  await page.goto('/#/settings/api');
  await expect(page.getByRole('heading', { name: 'Sign in to the console' })).toBeVisible();

  // Signing in after being sent to the sign-in page returns to where the user was going.
  await page.goto('/#/settings/members');
  await expect(page.getByRole('heading', { name: 'Sign in to the console' })).toBeVisible();
  await page.getByLabel('Email').fill(USERS.admin.email);
  await page.getByLabel('Password').fill(USERS.admin.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Members' })).toBeVisible();
});
