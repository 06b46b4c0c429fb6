import { createServer } from 'node:http';
import { createHmac } from 'node:crypto';
import { test, expect, USERS, signIn, signOut, openSettings, screenshot } from './fixtures.mjs';

// Settings → Webhooks against a receiver this spec runs on 127.0.0.1 (global-setup.mjs starts
// the server with private targets allowed): add an endpoint, keep its secret (shown once),
// send a test event, see its delivery in the log and check the request the receiver got is
// signed per Standard Webhooks; then turn it off and on, rotate the secret and delete it.

/** An HTTP receiver that answers every request 204 and keeps what it got. */
function startReceiver() {
  const requests = [];
  const server = createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      requests.push({ method: request.method, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(204);
      response.end();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}/keywarden/events`,
        requests,
        close: () => new Promise((done) => server.close(done)),
      });
    });
  });
}

/** Standard Webhooks: base64 HMAC-SHA256 of `id.timestamp.body` under the secret's bytes. */
function signature(secret, id, timestamp, body) {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

test('admins add an endpoint, send a test event and see its delivery in the log', async ({ page, problems }) => {
  problems.expect(400, '/v1/webhook-endpoints/');
  const receiver = await startReceiver();
  try {
    await signIn(page, USERS.admin);
    await openSettings(page, 'Webhooks');
    await expect(page.getByText('No endpoints yet')).toBeVisible();

    await page.getByRole('button', { name: 'Add endpoint' }).first().click();
    const form = page.getByRole('dialog', { name: 'Add a webhook endpoint' });
    await expect(form.getByLabel('Endpoint URL')).toBeFocused();
    await form.getByRole('button', { name: 'Add endpoint' }).click();
    await expect(form.locator('[data-field="url"] .field-error')).toContainText('Enter the URL');
    // The server's own rule, shown at its field: no credentials in the URL.
    await form.getByLabel('Endpoint URL').fill('http://user:password@127.0.0.1/hook');
    await form.getByRole('button', { name: 'Add endpoint' }).click();
    await expect(form.locator('[data-field="url"] .field-error')).toContainText('user name and password');
    await form.getByLabel('Endpoint URL').fill(receiver.url);
    await form.getByLabel('Selected events').check();
    await form.getByRole('button', { name: 'Add endpoint' }).click();
    await expect(form.locator('[data-field="events"] .field-error')).toContainText('at least one event type');
    await form.getByLabel(/^Key revoked/).check();
    await form.getByLabel(/^Key leaked/).check();
    await form.getByLabel('Description').fill('Browser suite receiver');
    await form.getByRole('button', { name: 'Add endpoint' }).click();

    const shown = page.getByRole('dialog', { name: 'Endpoint added: its signing secret' });
    await expect(shown).toBeVisible();
    const secret = await shown.getByRole('textbox', { name: 'Signing secret' }).inputValue();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    await expect(shown.getByRole('button', { name: 'Copy the signing secret to the clipboard' })).toBeFocused();
    await shown.getByRole('button', { name: 'Copy the signing secret to the clipboard' }).click();
    await expect(shown.getByRole('status')).toHaveText('Copied to the clipboard.');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    await shown.getByRole('button', { name: 'I have stored the secret' }).click();
    await expect(shown).toBeHidden();
    await expect(page.getByRole('button', { name: 'Add endpoint' }).first()).toBeFocused();

    const card = page.locator('article.endpoint-card', { hasText: receiver.url });
    await expect(card).toContainText('Active');
    await expect(card).toContainText('Key revoked, Key leaked');
    await expect(card).toContainText('Browser suite receiver');
    // Shown once: nowhere on the page any more, nor after a reload.
    expect(await page.content()).not.toContain(secret.slice(6));
    await page.reload();
    await expect(card).toBeVisible();
    expect(await page.content()).not.toContain(secret.slice(6));

    // A test event goes out whatever the endpoint subscribes to; the log shows its delivery.
    await card.getByRole('button', { name: 'Send test event' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Test event sent' })).toBeVisible();
    const log = card.getByRole('region', { name: `Delivery log of ${receiver.url}` });
    const row = log.getByRole('row', { name: /Test event/ });
    await expect(row).toContainText('HTTP 204', { timeout: 30_000 });
    await expect(row).toContainText('Delivered');
    await expect(row).toContainText(/\d+ ms/);
    await expect(row.getByRole('button', { name: /Retry/ })).toHaveCount(0);

    // What the receiver got: a POST signed with the secret, carrying no secret.
    expect(receiver.requests.length).toBeGreaterThan(0);
    const sent = receiver.requests[0];
    expect(sent.method).toBe('POST');
    const id = sent.headers['webhook-id'];
    const timestamp = sent.headers['webhook-timestamp'];
    expect(id).toBeTruthy();
    expect(Number(timestamp)).toBeGreaterThan(0);
    expect(sent.headers['webhook-signature'].split(' ')).toContain(signature(secret, id, timestamp, sent.body));
    const event = JSON.parse(sent.body);
    expect(event.type).toBe('webhook.test');
    expect(sent.body).not.toContain(secret.slice(6));
    await screenshot(page, 'webhooks');

    // Off and on again; focus stays on the button.
    await card.getByRole('button', { name: 'Disable' }).click();
    await expect(card).toContainText('Disabled');
    await expect(card.getByRole('button', { name: 'Enable' })).toBeFocused();
    await card.getByRole('button', { name: 'Enable' }).click();
    await expect(card).toContainText('Active');
    await expect(card.getByRole('button', { name: 'Disable' })).toBeFocused();

    // A new secret, shown once; deliveries are then signed with it (and the old one for 24 h).
    await card.getByRole('button', { name: 'Rotate secret' }).click();
    const confirmRotate = page.getByRole('dialog', { name: 'Rotate the signing secret?' });
    await expect(confirmRotate).toContainText('24 hours');
    await confirmRotate.getByRole('button', { name: 'Rotate secret' }).click();
    const rotated = page.getByRole('dialog', { name: 'New signing secret' });
    await expect(rotated).toBeVisible();
    const second = await rotated.getByRole('textbox', { name: 'Signing secret' }).inputValue();
    expect(second).toMatch(/^whsec_/);
    expect(second).not.toBe(secret);
    await rotated.getByRole('button', { name: 'I have stored the secret' }).click();
    await expect(rotated).toBeHidden();

    // Delete, after confirming.
    await card.getByRole('button', { name: 'Delete' }).click();
    const confirmDelete = page.getByRole('dialog', { name: 'Delete this endpoint?' });
    await confirmDelete.getByRole('button', { name: 'Cancel' }).click();
    await expect(card).toBeVisible();
    await card.getByRole('button', { name: 'Delete' }).click();
    await confirmDelete.getByRole('button', { name: 'Delete endpoint' }).click();
    await expect(page.getByText('No endpoints yet')).toBeVisible();
    await expect(page.getByRole('button', { name: 'Add endpoint' }).first()).toBeFocused();
  } finally {
    await receiver.close();
  }
});

test('webhooks are for admins only', async ({ page }) => {
  await signIn(page, USERS.developer);
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: 'API & Developers' })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'Webhooks' })).toHaveCount(0);
  await page.goto('/#/settings/webhooks');
  await expect(page.getByRole('heading', { level: 1, name: 'You need Admin access to see this page' })).toBeVisible();
  await signOut(page);
});
