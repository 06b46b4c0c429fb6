import { createRequire } from 'node:module';
import { test, expect, USERS, signIn, signOut, openSettings } from './fixtures.mjs';

// An automated accessibility audit (axe-core, WCAG 2 A and AA rules: contrast, names, labels,
// roles, landmarks) of every main screen. It complements the keyboard and focus checks of the
// other specs, which a rule engine cannot judge.
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

// axe is injected as a script tag, which the console's strict CSP would rightly refuse.
test.use({ bypassCSP: true });

/** The WCAG A/AA violations axe finds on the page as it is now. */
async function violations(page) {
  await page.addScriptTag({ path: AXE });
  const { found, passed } = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return { passed: r.passes.length, found: r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ') + (n.failureSummary ? ` — ${n.failureSummary.split('\n').slice(1, 2).join('')}` : '')),
    })) };
  });
  // The rules did run: a page with nothing checked would pass vacuously.
  expect(passed).toBeGreaterThan(10);
  return found;
}

async function audit(page, screen) {
  expect(await violations(page), `accessibility violations on ${screen}`).toEqual([]);
}

test('every main screen passes an automated WCAG 2.1 AA audit', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Sign in to the console' })).toBeVisible();
  await audit(page, 'sign-in');

  await signIn(page, USERS.admin);
  await expect(page.getByRole('heading', { name: 'Standard keys' })).toBeVisible();
  await audit(page, 'API & Developers');

  await page.getByRole('button', { name: 'Generate New Key' }).first().click();
  const form = page.getByRole('dialog', { name: 'Generate a new API key' });
  await expect(form).toBeVisible();
  await audit(page, 'the Generate New Key form');
  await form.getByRole('button', { name: 'Cancel' }).click();
  await expect(form).toBeHidden();

  for (const screen of ['Security', 'Members', 'Audit log']) {
    await openSettings(page, screen);
    await audit(page, screen);
  }
  await signOut(page);

  await signIn(page, USERS.member);
  await expect(page.getByText('You need Admin or Developer access')).toBeVisible();
  await audit(page, "a member's page");

  // The audit does catch what it is for: pale grey text on white fails the contrast rule.
  await page.evaluate(() => {
    const p = document.createElement('p');
    p.textContent = 'Hard to read';
    p.style.cssText = 'color: #dddddd; background: #ffffff';
    document.querySelector('main').append(p);
  });
  expect((await violations(page)).map((v) => v.id)).toContain('color-contrast');
});
