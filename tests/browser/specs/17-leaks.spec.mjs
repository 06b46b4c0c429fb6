import { createRequire } from 'node:module';
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { test, expect, USERS, signIn, openSettings, verify, settled, screenshot } from './fixtures.mjs';

// Leaked keys (SPEC §8) in the console: a text pasted on Report a leak revokes the key of the
// account it holds and says so; a report signed as GitHub's secret scanning signs it puts a red
// banner on that key, in the list and in its detail, with the address where it was found as a
// link that cannot run script; under the `notify` leak action the banner says the key still
// works. An axe audit checks the page and the banner.

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
// axe is injected as a script tag, which the console's strict CSP would rightly refuse.
test.use({ bypassCSP: true });

const LEAK_URL = 'https://github.com/acme/payments/blob/4be1c0d/config/.env';

async function tokenOf(request, user) {
  const answer = await request.post('/v1/auth/token/', { data: { email: user.email, password: user.password } });
  expect(answer.status()).toBe(200);
  return (await answer.json()).access;
}

/** A restricted key made through the API; its secret and metadata. */
async function newKey(request, user, label) {
  const token = await tokenOf(request, user);
  const answer = await request.post('/v1/api-keys/', {
    headers: { Authorization: `Bearer ${token}` },
    data: { label, type: 'live', scopes: ['payments:read'] },
  });
  expect(answer.status()).toBe(201);
  return answer.json();
}

/** POSTs a report exactly as GitHub does: the raw body, signed with ECDSA P-256 / SHA-256. */
async function githubReport(request, matches) {
  const body = JSON.stringify(matches);
  const key = createPrivateKey(process.env.KW_GITHUB_PRIVATE_KEY);
  const signature = sign('sha256', Buffer.from(body), { key, dsaEncoding: 'der' }).toString('base64');
  const answer = await request.post('/v1/leaks/github/', {
    headers: {
      'Content-Type': 'application/json',
      'Github-Public-Key-Identifier': process.env.KW_GITHUB_KEY_ID,
      'Github-Public-Key-Signature': signature,
    },
    data: body,
  });
  expect(answer.status(), await answer.text()).toBe(200);
  return answer.json();
}

async function axeViolations(page) {
  await settled(page);
  await page.addScriptTag({ path: AXE });
  return page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return r.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')})`);
  });
}

/** The row of the key list that shows `label`. */
function rowOf(page, label) {
  return page.getByRole('row').filter({ has: page.locator('.key-label', { hasText: label }) });
}

test('a pasted text holding a key of the account revokes it, and the page says so', async ({ page, request }) => {
  const leaked = await newKey(request, USERS.developer, 'Nightly-Export-Payments');
  await signIn(page, USERS.developer);
  await openSettings(page, 'Report a leak');
  expect(await axeViolations(page), 'accessibility of Report a leak').toEqual([]);

  const text = page.getByLabel('Text that may hold keys');
  await expect(text).toHaveAccessibleDescription(/handled as leaked/);
  // Nothing pasted: explained at the field, nothing sent.
  await page.getByRole('button', { name: 'Find and handle leaked keys' }).click();
  await expect(page.locator('[data-field="text"] .field-error')).toHaveText('Paste the text that may hold keys.');
  await expect(text).toBeFocused();

  await text.fill(`2026-12-06T08:00:01Z export: starting\nKEYWARDEN_API_KEY=${leaked.key}\nexport: 401 from upstream, retrying`);
  await page.getByRole('button', { name: 'Find and handle leaked keys' }).click();
  const results = page.getByRole('region', { name: 'Keys found' });
  await expect(results.getByRole('heading', { name: '1 key of your account found' })).toBeVisible();
  const row = results.getByRole('row').filter({ hasText: 'Nightly-Export-Payments' });
  await expect(row).toContainText(leaked.hint);
  await expect(row.getByText('Revoked', { exact: true })).toBeVisible();
  await expect(row).toContainText('Revoked: it no longer works.');
  await expect(text, 'the secret does not stay on the screen').toHaveValue('');
  expect(await axeViolations(page), 'accessibility of the results').toEqual([]);
  await screenshot(page, 'report-a-leak');

  // It no longer works anywhere.
  expect(await verify(request, leaked.key)).toMatchObject({ valid: false, code: 'key_revoked' });

  // The key list marks it.
  await openSettings(page, 'API & Developers');
  const listed = rowOf(page, 'Nightly-Export-Payments');
  const banner = listed.getByRole('note', { name: 'Leaked — revoked automatically' });
  await expect(banner).toBeVisible();
  await expect(banner).toContainText('Found in a pasted text');
  await expect(listed.getByText('Revoked', { exact: true })).toBeVisible();
});

test('a signed GitHub report revokes the key and shows where it was found', async ({ page, request }) => {
  const leaked = await newKey(request, USERS.admin, 'Checkout-Service-Payments');
  const hostile = await newKey(request, USERS.admin, 'Hostile-Report-Payments');
  const labels = await githubReport(request, [
    { token: leaked.key, type: 'keywarden_api_key', url: LEAK_URL, source: 'content' },
    { token: hostile.key, type: 'keywarden_api_key', url: 'javascript:alert(document.domain)', source: 'commit' },
    { token: 'rk_live_notakeyatall', type: 'keywarden_api_key', url: LEAK_URL, source: 'content' },
  ]);
  const hash = (t) => createHash('sha256').update(t).digest('hex');
  expect(labels).toEqual([
    { token_hash: hash(leaked.key), token_type: 'keywarden_api_key', label: 'true_positive' },
    { token_hash: hash(hostile.key), token_type: 'keywarden_api_key', label: 'true_positive' },
    { token_hash: hash('rk_live_notakeyatall'), token_type: 'keywarden_api_key', label: 'false_positive' },
  ]);
  expect(await verify(request, leaked.key)).toMatchObject({ valid: false, code: 'key_revoked' });

  await signIn(page, USERS.admin);
  const row = rowOf(page, 'Checkout-Service-Payments');
  const banner = row.getByRole('note', { name: 'Leaked — revoked automatically' });
  await expect(banner).toBeVisible();
  const link = banner.getByRole('link', { name: LEAK_URL });
  await expect(link).toHaveAttribute('href', LEAK_URL);
  await expect(link).toHaveAttribute('rel', 'noopener noreferrer');
  await expect(link).toHaveAttribute('target', '_blank');
  expect(await axeViolations(page), 'accessibility of the key list with a leaked key').toEqual([]);
  await row.scrollIntoViewIfNeeded();
  await screenshot(page, 'leaked-key');

  // A report's `javascript:` address is never a link (the server does not even keep it).
  const hostileBanner = rowOf(page, 'Hostile-Report-Payments').getByRole('note', { name: 'Leaked — revoked automatically' });
  await expect(hostileBanner).toBeVisible();
  await expect(hostileBanner.getByRole('link')).toHaveCount(0);
  await expect(page.locator('a[href^="javascript:"]')).toHaveCount(0);

  // The key's page carries the same banner.
  await row.getByRole('link', { name: 'Details of Checkout-Service-Payments' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Checkout-Service-Payments' })).toBeVisible();
  const inDetail = page.getByRole('note', { name: 'Leaked — revoked automatically' });
  await expect(inDetail).toBeVisible();
  await expect(inDetail.getByRole('link', { name: LEAK_URL })).toHaveAttribute('href', LEAK_URL);
  await expect(inDetail).toContainText('It no longer works.');
  expect(await axeViolations(page), 'accessibility of a leaked key\'s detail').toEqual([]);
  await screenshot(page, 'leaked-key-detail');

  // The audit log names the report.
  await openSettings(page, 'Audit log');
  await page.getByLabel('Action').selectOption('key.leaked');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await expect(page.getByText(`was reported leaked by GitHub secret scanning (content) at ${LEAK_URL} and revoked`)).toBeVisible();
});

test('under the notify leak action the banner says the key still works', async ({ page, request }) => {
  const token = await tokenOf(request, USERS.admin);
  const setAction = async (action) => {
    const answer = await request.patch('/v1/account/', { headers: { Authorization: `Bearer ${token}` }, data: { leak_action: action } });
    expect(answer.status()).toBe(200);
  };
  const reported = await newKey(request, USERS.admin, 'Reported-Only-Payments');
  await setAction('notify');
  try {
    await githubReport(request, [{ token: reported.key, type: 'keywarden_api_key', url: LEAK_URL, source: 'issue_comment' }]);
  } finally {
    await setAction('revoke');
  }
  expect(await verify(request, reported.key)).toMatchObject({ valid: true });

  await signIn(page, USERS.admin);
  const banner = rowOf(page, 'Reported-Only-Payments').getByRole('note', { name: 'Leaked — reported, not revoked' });
  await expect(banner).toBeVisible();
  await expect(banner).toContainText('It still works: rotate or revoke it now');
  await expect(banner.getByRole('link', { name: LEAK_URL })).toBeVisible();
});

test('members see no Report a leak page', async ({ page }) => {
  await signIn(page, USERS.member);
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: 'API & Developers' })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'Report a leak' })).toHaveCount(0);
  await page.goto('/#/settings/leaks');
  await expect(page.getByRole('heading', { name: 'You need Admin or Developer access to report leaked keys' })).toBeVisible();
});
