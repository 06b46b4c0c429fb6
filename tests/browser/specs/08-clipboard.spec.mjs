import { test, expect, USERS, signIn } from './fixtures.mjs';

// Where the Clipboard API is missing (plain http to a non-local host, older browsers, a
// policy that blocks it) and the legacy copy command fails too, Copy still leaves the person
// one keystroke from the secret: the whole key selected in its field, and a message saying so.
test('without a clipboard, Copy selects the whole secret and says to press Ctrl+C', async ({ page }) => {
  await page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined, configurable: true });
    document.execCommand = () => false;
  });
  await signIn(page, USERS.admin);
  await page.getByRole('button', { name: 'Generate New Key' }).first().click();
  const form = page.getByRole('dialog', { name: 'Generate a new API key' });
  await form.getByLabel('Label').fill('No-Clipboard-Asset-Reader');
  await form.getByRole('switch', { name: 'Read access to Asset' }).check();
  await form.getByRole('button', { name: 'Create Key' }).click();

  const modal = page.getByRole('dialog', { name: 'Your new API key' });
  await expect(modal).toBeVisible();
  const input = modal.getByLabel('API Secret Key');
  const secret = await input.inputValue();
  expect(secret).toMatch(/^rk_test_[0-9A-Za-z]{38}$/);
  await modal.getByRole('button', { name: 'Copy the key to the clipboard' }).click();
  await expect(modal.getByRole('status')).toHaveText('Selected: press Ctrl+C (⌘C on a Mac) to copy.');
  await expect(input).toBeFocused();
  const selected = await input.evaluate((el) => el.value.slice(el.selectionStart, el.selectionEnd));
  expect(selected).toBe(secret);

  await modal.getByRole('button', { name: 'I have stored the key' }).click();
  await expect(modal).toBeHidden();
  expect(await page.content()).not.toContain(secret);
});
