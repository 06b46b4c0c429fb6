// Shared fixtures: the server's address, a watch on every page for console errors, page errors
// and failed requests (a spec declares the few failures it expects), sign-in, TOTP codes and
// screenshots for docs/screenshots/.
import { test as base, expect } from '@playwright/test';
import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { USERS } from './users.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SCREENSHOTS = join(repo, 'docs', 'screenshots');

export { expect, USERS };

export const test = base.extend({
  baseURL: async ({}, use) => {
    await use(process.env.KW_BASE_URL);
  },

  context: async ({ context }, use) => {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: process.env.KW_BASE_URL });
    // The console must never reach another origin (no CDN, no web fonts, no analytics).
    const offsite = [];
    await context.route((url) => !url.href.startsWith(process.env.KW_BASE_URL) && !url.href.startsWith('data:'), (route) => {
      offsite.push(route.request().url());
      return route.abort();
    });
    await use(context);
    expect(offsite, 'requests to other origins').toEqual([]);
  },

  /** Every console error, page error, failed request or HTTP error a spec did not expect fails it. */
  problems: [async ({ page }, use) => {
    const seen = [];
    const expected = [];
    page.on('console', (message) => {
      if (message.type() === 'error') seen.push({ kind: 'console', text: `${message.text()} ${message.location().url || ''}` });
    });
    page.on('pageerror', (error) => seen.push({ kind: 'pageerror', text: String(error) }));
    page.on('requestfailed', (request) => {
      const error = request.failure()?.errorText;
      // A read the browser itself cancels — the test navigated away or ended while it was in
      // flight (a slow machine) — is no failure of the console. Anything else counts.
      if (error === 'net::ERR_ABORTED' && request.method() === 'GET') return;
      seen.push({ kind: 'requestfailed', text: `${request.method()} ${request.url()} ${error}` });
    });
    page.on('response', (response) => {
      if (response.status() >= 400) {
        seen.push({ kind: 'http', status: response.status(), text: `HTTP ${response.status()} ${response.request().method()} ${response.url()}` });
      }
    });
    const watch = {
      /** Allows HTTP `status` answers from a path containing `path`, and Chromium's console note about them. */
      expect(status, path) {
        expected.push({ status, path });
      },
    };
    await use(watch);
    const unexpected = seen.filter((p) => !expected.some(({ status, path }) => {
      if (!p.text.includes(path)) return false;
      if (p.kind === 'http') return p.status === status;
      return p.kind === 'console' && p.text.includes(`status of ${status}`);
    }));
    expect(unexpected.map((p) => `${p.kind}: ${p.text}`), 'console errors and failed requests').toEqual([]);
  }, { auto: true }],
});

/** Signs in through the form; stops at the 2FA step when `otp` is absent and one is asked. */
export async function signIn(page, user, { expectOtp = false } = {}) {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Sign in to the console' })).toBeVisible();
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  if (expectOtp) {
    await expect(page.getByRole('heading', { name: 'Two-factor authentication' })).toBeVisible();
  } else {
    await expect(page.locator('.layout #page-title')).toBeVisible();
  }
}

export async function signOut(page) {
  const button = page.getByRole('button', { name: 'Sign out' });
  if (!(await button.isVisible())) await page.getByRole('button', { name: 'Open navigation' }).click();
  await button.click();
  await expect(page.getByRole('heading', { name: 'Sign in to the console' })).toBeVisible();
}

/** Opens Settings → <item> from the sidebar. */
export async function openSettings(page, item) {
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: item }).click();
  await expect(page.getByRole('heading', { level: 1, name: item })).toBeVisible();
}

/** POST /v1/verify/ as a platform service would. */
export async function verify(request, key, scope) {
  const answer = await request.post('/v1/verify/', { data: scope ? { key, scope } : { key } });
  expect(answer.status()).toBe(200);
  return answer.json();
}

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const char of text.replace(/[\s=]/g, '').toUpperCase()) {
    const index = alphabet.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${char}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The RFC 6238 code (HMAC-SHA1, 30 s step, 6 digits) of `secret` at `unixSeconds`. */
export function totp(secret, unixSeconds = Date.now() / 1000) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const mac = createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(binary).padStart(6, '0');
}

/** Waits until every finite animation and transition on the page has finished. */
export async function settled(page) {
  await page.evaluate(() => Promise.all(document.getAnimations()
    .filter((a) => a.effect?.getTiming().iterations !== Infinity)
    .map((a) => a.finished.catch(() => {}))));
}

/** Runs `work` with the system in the dark theme, then goes back to the light one. */
export async function inDarkTheme(page, work) {
  await page.emulateMedia({ colorScheme: 'dark' });
  try {
    await settled(page);
    return await work();
  } finally {
    await page.emulateMedia({ colorScheme: 'light' });
  }
}

/** Saves docs/screenshots/<name>.png and <name>-dark.png, the page in both themes. */
export async function screenshot(page, name, options = {}) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.evaluate(() => document.fonts.ready);
  // Toasts come and go; keep them out of the documentation pictures.
  await page.locator('#toasts').evaluate((el) => el.replaceChildren());
  const shoot = (file) => page.screenshot({ path: join(SCREENSHOTS, file), animations: 'disabled', caret: 'hide', ...options });
  await shoot(`${name}.png`);
  await inDarkTheme(page, () => shoot(`${name}-dark.png`));
}
