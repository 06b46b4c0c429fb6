import { test, expect, USERS, signIn, openSettings, screenshot } from './fixtures.mjs';

test('admins add members, change roles and remove members', async ({ page, problems }) => {
  problems.expect(400, '/v1/users');
  await signIn(page, USERS.admin);
  await openSettings(page, 'Members');
  const table = page.locator('table.members-table');
  await expect(table.getByRole('row', { name: /admin@acme\.test/ })).toContainText('(you)');
  await expect(table.getByRole('row', { name: /secops@acme\.test/ })).toContainText('On');

  // Every column sorts the members; a second click reverses the order.
  const emails = async () => (await table.locator('tbody tr td:first-child').allInnerTexts())
    .map((text) => text.match(/[\w.+-]+@[\w.-]+/)[0]);
  const byEmail = table.getByRole('columnheader', { name: 'Email', exact: true });
  await byEmail.getByRole('button').click();
  await expect(byEmail).toHaveAttribute('aria-sort', 'ascending');
  const up = await emails();
  expect(up.length).toBeGreaterThan(2);
  expect(up).toEqual([...up].sort((a, b) => a.localeCompare(b)));
  await byEmail.getByRole('button').click();
  await expect(byEmail).toHaveAttribute('aria-sort', 'descending');
  expect(await emails()).toEqual([...up].reverse());
  const byRole = table.getByRole('columnheader', { name: 'Role', exact: true });
  await byRole.getByRole('button').click();
  await expect(byRole).toHaveAttribute('aria-sort', 'ascending');
  await expect(byEmail).not.toHaveAttribute('aria-sort', /.*/);
  await expect(table.locator('tbody tr').first()).toContainText('admin@acme.test');

  await page.getByRole('button', { name: 'Add member' }).click();
  const dialog = page.getByRole('dialog', { name: 'Add a member' });
  await expect(dialog.getByLabel('Email')).toBeFocused();
  // A new member starts with the least privilege; more is a deliberate choice.
  await expect(dialog.getByLabel('Role')).toHaveValue('member');
  await dialog.getByLabel('Email').fill('grace@acme.test');
  await dialog.getByLabel('Role').selectOption('member');
  await dialog.getByLabel('Initial password').fill('short');
  await dialog.getByRole('button', { name: 'Add member' }).click();
  await expect(dialog.locator('[data-field="password"] .field-error')).toContainText('at least 12 characters');
  // The server's own rule, shown at its field: an email it does not accept.
  await dialog.getByLabel('Email').fill('grace@');
  await dialog.getByLabel('Initial password').fill('a-long-enough-password');
  await dialog.getByRole('button', { name: 'Add member' }).click();
  await expect(dialog.locator('[data-field="email"] .field-error')).toBeVisible();
  await dialog.getByLabel('Email').fill('grace@acme.test');
  await dialog.getByRole('button', { name: 'Add member' }).click();
  await expect(dialog).toBeHidden();
  const grace = table.getByRole('row', { name: /grace@acme\.test/ });
  await expect(grace.getByLabel('Role of grace@acme.test')).toHaveValue('member');

  // A role change asks first; cancelling keeps the role.
  await grace.getByLabel('Role of grace@acme.test').selectOption('admin');
  const asked = page.getByRole('dialog', { name: 'Make grace@acme.test Admin?' });
  await asked.getByRole('button', { name: 'Cancel' }).click();
  await expect(asked).toBeHidden();
  await expect(grace.getByLabel('Role of grace@acme.test')).toHaveValue('member');
  await grace.getByLabel('Role of grace@acme.test').selectOption('developer');
  await page.getByRole('dialog', { name: 'Make grace@acme.test Developer?' }).getByRole('button', { name: 'Change role' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'grace@acme.test is now Developer' })).toBeVisible();
  await page.reload();
  await expect(table.getByRole('row', { name: /grace@acme\.test/ }).getByLabel('Role of grace@acme.test')).toHaveValue('developer');
  await screenshot(page, 'members');

  await table.getByRole('row', { name: /grace@acme\.test/ }).getByRole('button', { name: 'Remove grace@acme.test' }).click();
  const confirm = page.getByRole('dialog', { name: 'Remove grace@acme.test?' });
  await confirm.getByRole('button', { name: 'Remove member' }).click();
  await expect(table.getByRole('row', { name: /grace@acme\.test/ })).toHaveCount(0);
});

test('admins set the account policy', async ({ page }) => {
  await signIn(page, USERS.admin);
  await openSettings(page, 'Security');
  const policy = page.getByRole('region', { name: 'Account policy' });
  const period = policy.getByLabel('Rotation period (days)');
  await expect(period).toHaveValue('90');
  await period.fill('60');
  await policy.getByRole('button', { name: 'Save policy' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Account policy saved' }).last()).toBeVisible();
  await page.reload();
  await expect(page.getByRole('region', { name: 'Account policy' }).getByLabel('Rotation period (days)')).toHaveValue('60');
  await page.getByRole('region', { name: 'Account policy' }).getByLabel('Rotation period (days)').fill('90');
  await page.getByRole('region', { name: 'Account policy' }).getByRole('button', { name: 'Save policy' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Account policy saved' }).last()).toBeVisible();
});

test('with 2FA required for key changes, a user without 2FA is told how to proceed', async ({ page, problems }) => {
  problems.expect(403, '/v1/api-keys');
  await signIn(page, USERS.admin);
  await openSettings(page, 'Security');
  const policy = page.getByRole('region', { name: 'Account policy' });
  const toggle = policy.getByRole('switch', { name: /Require two-factor authentication for key changes/ });
  await toggle.check();
  await policy.getByRole('button', { name: 'Save policy' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Account policy saved' }).last()).toBeVisible();

  await openSettings(page, 'API & Developers');
  await expect(page.getByRole('note')).toContainText('requires two-factor authentication');
  // Said before any form is filled in: the form does not open, the way forward has focus.
  await page.getByRole('button', { name: 'Generate New Key' }).first().click();
  await expect(page.getByRole('alert')).toContainText('requires two-factor authentication to create, rotate or revoke keys');
  await expect(page.getByRole('alert')).not.toContainText('/v1/');
  await expect(page.getByRole('dialog')).toHaveCount(0);
  const enable = page.locator('.page-alert').getByRole('link', { name: 'Enable two-factor authentication' });
  await expect(enable).toBeFocused();
  // The same for a rotation.
  await page.getByRole('button', { name: 'Rotate test key' }).click();
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await expect(enable).toBeFocused();
  await enable.click();
  await expect(page.getByRole('heading', { level: 1, name: 'Security' })).toBeVisible();

  const again = page.getByRole('region', { name: 'Account policy' });
  await again.getByRole('switch', { name: /Require two-factor authentication for key changes/ }).uncheck();
  await again.getByRole('button', { name: 'Save policy' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Account policy saved' }).last()).toBeVisible();
});

test('admins read the audit log and filter it by action and key', async ({ page }) => {
  await signIn(page, USERS.admin);
  await openSettings(page, 'Audit log');
  const table = page.locator('table.audit-table');
  await expect(table).toContainText('Signed in');
  await expect(table).toContainText('Policy changed');
  await expect(table).toContainText('2FA enabled');
  // Older events are on the next pages: the key changes of the earlier specs.
  const pager = page.getByRole('navigation', { name: 'Pages of events' });
  await pager.getByRole('button', { name: 'Older →' }).click();
  await expect(pager).toContainText('Page 2');
  await expect(table).toContainText('Key created');
  await expect(table).toContainText('Key rotated');
  await page.setViewportSize({ width: 1360, height: 1200 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, 'audit-log');
  await page.setViewportSize({ width: 1360, height: 900 });

  // Three revocations: the Zapier key, the old live key whose hand-over was ended early, and
  // the standard test key revoked to be replaced from its card.
  await page.getByLabel('Action').selectOption('key.revoked');
  await expect(table.getByRole('row')).toHaveCount(4);
  await expect(table).toContainText('Zapier-Integration-Payroll');
  await expect(table).toContainText('revoked rk_test_');
  // Narrow to that key: its whole history.
  await table.getByRole('button', { name: /Show only the events of Zapier-Integration-Payroll/ }).click();
  await expect(page.getByLabel('Key id')).not.toHaveValue('');
  await page.getByLabel('Action').selectOption('');
  await expect(table).toContainText('Key created');
  await expect(table).toContainText('Key revoked');
  await expect(table).not.toContainText('Signed in');
  // Secrets never appear in the log.
  expect(await page.content()).not.toMatch(/(sk|rk)_(test|live)_[0-9A-Za-z]{38}/);
});
