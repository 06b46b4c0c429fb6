import { test, expect, USERS, signIn } from './fixtures.mjs';

// The key table sorts on the server: a sort button in a column header asks the API for that
// `order` from the first page, so every page agrees with the API's order over all the keys
// (not just the page on screen), `aria-sort` says which column sorts which way, and the order
// holds on the next page and after a reload.

// Thirteen keys (two pages of ten) with labels that tie exactly and without case.
const SUFFIXES = ['delta', 'Alpha', 'charlie', 'alpha', 'Bravo', 'echo', 'bravo', 'alpha', 'foxtrot', 'Charlie', 'golf', 'hotel', 'ALPHA'];

async function adminAuth(request) {
  const token = await request.post('/v1/auth/token/', { data: { email: USERS.admin.email, password: USERS.admin.password } });
  expect(token.status()).toBe(200);
  return { Authorization: `Bearer ${(await token.json()).access}` };
}

/** The ids of every key the API lists for `query`, in its order. */
async function apiOrder(request, auth, query) {
  const ids = [];
  let cursor = null;
  do {
    const params = new URLSearchParams({ ...query, limit: '100' });
    if (cursor) params.set('cursor', cursor);
    const answer = await request.get(`/v1/api-keys/?${params}`, { headers: auth });
    expect(answer.status()).toBe(200);
    const page = await answer.json();
    ids.push(...page.results.map((k) => k.id));
    cursor = page.next_cursor;
  } while (cursor);
  return ids;
}

test('the key table sorts on the server by the column asked, across pages and reloads', async ({ page, request }) => {
  const auth = await adminAuth(request);
  const prefix = `Sortable-${Date.now().toString(36)}-`;
  for (const suffix of SUFFIXES) {
    const created = await request.post('/v1/api-keys/', { headers: auth, data: { label: `${prefix}${suffix}`, type: 'test', scopes: ['asset:read'] } });
    expect(created.status()).toBe(201);
  }

  await signIn(page, USERS.admin);
  const table = page.locator('table.keys-table');
  const rows = table.locator('tbody tr');
  const shownIds = () => rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.keyId));
  const pager = page.getByRole('navigation', { name: 'Pages of keys' });
  const header = (name) => table.getByRole('columnheader', { name, exact: true });

  // Newest first until asked otherwise; no column claims to be the order's but Created.
  await expect(header('Created')).toHaveAttribute('aria-sort', 'descending');
  await expect(header('Label')).not.toHaveAttribute('aria-sort', /.*/);
  await page.getByLabel('Search').fill(prefix);
  await expect(rows).toHaveCount(10);
  await expect(rows.filter({ hasNotText: prefix })).toHaveCount(0);

  const walkPages = async (expected) => {
    await expect(pager).toContainText('Page 1');
    await expect.poll(shownIds).toEqual(expected.slice(0, 10));
    await pager.getByRole('button', { name: 'Next →' }).click();
    await expect(pager).toContainText('Page 2');
    await expect.poll(shownIds).toEqual(expected.slice(10));
    await expect(pager.getByRole('button', { name: 'Next →' })).toBeDisabled();
    await pager.getByRole('button', { name: '← Previous' }).click();
    await expect(pager).toContainText('Page 1');
    await expect.poll(shownIds).toEqual(expected.slice(0, 10));
  };

  // By label, A to Z: the request carries the order, and both pages are the API's order.
  const ascending = await apiOrder(request, auth, { kind: 'restricted', search: prefix, order: 'label' });
  expect(ascending).toHaveLength(13);
  const asked = page.waitForRequest((r) => r.url().includes('order=label') && r.url().includes('search=') && !r.url().includes('cursor='));
  await header('Label').getByRole('button').click();
  await asked;
  await expect(header('Label')).toHaveAttribute('aria-sort', 'ascending');
  await expect(header('Label')).toContainText('↑');
  await expect(header('Created')).not.toHaveAttribute('aria-sort', /.*/);
  await expect(header('Label').getByRole('button')).toBeFocused();
  await walkPages(ascending);
  // The labels read A to Z, ASCII case aside (the ties keep the server's order).
  const labels = await rows.locator('.key-label').allInnerTexts();
  const folded = labels.map((l) => l.toLowerCase());
  expect(folded).toEqual([...folded].sort());

  // Again: Z to A, from the first page.
  await pager.getByRole('button', { name: 'Next →' }).click();
  await expect(pager).toContainText('Page 2');
  const descending = await apiOrder(request, auth, { kind: 'restricted', search: prefix, order: '-label' });
  expect(descending).toEqual([...ascending].reverse());
  await header('Label').getByRole('button').click();
  await expect(header('Label')).toHaveAttribute('aria-sort', 'descending');
  await expect(header('Label')).toContainText('↓');
  await walkPages(descending);

  // A reload keeps the order (the search does not persist: every restricted key, Z to A).
  await page.reload();
  await expect(header('Label')).toHaveAttribute('aria-sort', 'descending');
  const everyKey = await apiOrder(request, auth, { kind: 'restricted', order: '-label' });
  expect(everyKey.length).toBeGreaterThanOrEqual(13);
  await expect.poll(shownIds).toEqual(everyKey.slice(0, 10));
  await pager.getByRole('button', { name: 'Next →' }).click();
  await expect(pager).toContainText('Page 2');
  await expect.poll(shownIds).toEqual(everyKey.slice(10, 20));

  // The keyboard sorts too: Enter on Expires (soonest first), Space reverses it.
  const expires = header('Expires').getByRole('button');
  await expires.focus();
  await page.keyboard.press('Enter');
  await expect(header('Expires')).toHaveAttribute('aria-sort', 'ascending');
  await expect(header('Label')).not.toHaveAttribute('aria-sort', /.*/);
  await expect(pager).toContainText('Page 1');
  await expect(expires).toBeFocused();
  await expect.poll(shownIds).toEqual((await apiOrder(request, auth, { kind: 'restricted', order: 'expires_at' })).slice(0, 10));
  await page.keyboard.press('Space');
  await expect(header('Expires')).toHaveAttribute('aria-sort', 'descending');
  await expect(expires).toBeFocused();
  await expect.poll(shownIds).toEqual((await apiOrder(request, auth, { kind: 'restricted', order: '-expires_at' })).slice(0, 10));

  // Back to the default: Created, newest first.
  await header('Created').getByRole('button').click();
  await expect(header('Created')).toHaveAttribute('aria-sort', 'descending');
  await expect.poll(shownIds).toEqual((await apiOrder(request, auth, { kind: 'restricted' })).slice(0, 10));
});

test.describe('on a phone', () => {
  test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });

  test('the sort buttons sit above the cards, and sort the same way', async ({ page, request }) => {
    const auth = await adminAuth(request);
    await signIn(page, USERS.admin);
    const table = page.locator('table.keys-table');
    const rows = table.locator('tbody tr');
    await expect(rows.first()).toBeVisible();
    for (const name of ['Label', 'Expires', 'Last used', 'Created']) {
      await expect(table.getByRole('button', { name, exact: true })).toBeVisible();
    }
    await table.getByRole('button', { name: 'Label', exact: true }).tap();
    await expect(table.getByRole('columnheader', { name: 'Label', exact: true })).toHaveAttribute('aria-sort', 'ascending');
    const expected = (await apiOrder(request, auth, { kind: 'restricted', order: 'label' })).slice(0, 10);
    const newest = (await apiOrder(request, auth, { kind: 'restricted' })).slice(0, 10);
    expect(expected).not.toEqual(newest);
    await expect.poll(() => rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.keyId))).toEqual(expected);
    // Still nothing overflows sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  });
});
