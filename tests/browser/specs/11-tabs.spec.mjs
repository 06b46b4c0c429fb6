import { test, expect, USERS, signIn } from './fixtures.mjs';

// A second tab of a signed-in console is signed in too, through the tabs themselves (a
// BroadcastChannel of this origin): no token in a cookie or in localStorage. Signing out in
// one tab signs out the others.
test('a new tab shares the session of an open one, and signing out ends both', async ({ page, context }) => {
  await signIn(page, USERS.admin);
  await expect(page.getByRole('heading', { level: 1, name: 'API & Developers' })).toBeVisible();

  const second = await context.newPage();
  await second.goto('/#/settings/security');
  await expect(second.getByRole('heading', { level: 1, name: 'Security' })).toBeVisible();
  await expect(second.getByRole('heading', { name: 'Sign in to the console' })).toHaveCount(0);

  // Nothing readable outside the tabs' own storage.
  const refresh = await page.evaluate(() => sessionStorage.getItem('keywarden.refresh'));
  expect(refresh).toBeTruthy();
  expect(await second.evaluate(() => sessionStorage.getItem('keywarden.refresh'))).toBe(refresh);
  expect((await context.cookies()).length).toBe(0);
  expect(await second.evaluate(() => Object.values(localStorage).join(' '))).not.toContain(refresh);

  // Sign out in the second tab: the first one is back at sign-in, told why.
  await second.getByRole('button', { name: 'Sign out' }).click();
  await expect(second.getByRole('heading', { name: 'Sign in to the console' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Sign in to the console' })).toBeVisible();
  await expect(page.getByText('You signed out in another tab.')).toBeVisible();
  expect(await page.evaluate(() => sessionStorage.getItem('keywarden.refresh'))).toBeNull();

  // A tab opened now finds no session to share.
  const third = await context.newPage();
  await third.goto('/');
  await expect(third.getByRole('heading', { name: 'Sign in to the console' })).toBeVisible();
  await third.close();
  await second.close();
});
