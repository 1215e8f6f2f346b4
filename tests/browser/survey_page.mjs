// A citizen's survey link in real headless Chromium (Debian's, driven by playwright-core), on a
// 320 px phone: axe-core finds no serious or critical WCAG 2.1 AA violation, nothing scrolls
// sideways, no console error or CSP violation, nothing loaded from elsewhere.
//   --expect survey: the form. A score tapped and then taken back with "Prefer not to say" leaves
//     the question unanswered (the page has no script: this is the browser alone).
//   --expect thanks: the page of an answered survey: "Thank you", how to reach us (101, 999) and
//     the stop link.
//
//   node tests/browser/survey_page.mjs --url LINK --expect survey|thanks --screenshot FILE.png
//
// Exits non-zero naming every check that failed. CHROMIUM overrides /usr/bin/chromium.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { axe, check, readArgs, runChecksInChromium } from './checks.mjs';

const args = readArgs('survey_page.mjs', ['url', 'expect', 'screenshot']);
if (!['survey', 'thanks'].includes(args.expect)) {
  console.error('survey_page.mjs: --expect is survey or thanks');
  process.exit(2);
}

// The question's chosen value: the checked radio's, '' for "prefer not to say", null for none.
const chosen = (page, key) => page.evaluate((k) => {
  const input = document.querySelector(`input[name="${k}"]:checked`);
  return input ? input.value : null;
}, key);

await runChecksInChromium('survey_page.mjs', async (browser) => {
  // The smallest phone the page is made for. The page has no script (checked below), so what
  // happens on it is the browser's alone, as with JavaScript off.
  const context = await browser.newContext({
    viewport: { width: 320, height: 640 }, hasTouch: true, isMobile: true,
  });
  const page = await context.newPage();
  const problems = [];
  // The browser asks for /favicon.ico on its own; the pages name none, and its 404 is no fault.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico')) {
      problems.push(`${m.text()} (${m.location().url})`);
    }
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  const origin = new URL(args.url).origin;
  const elsewhere = [];
  page.on('request', (r) => { if (!r.url().startsWith(origin)) elsewhere.push(r.url()); });

  const response = await page.goto(args.url);
  check('the link opens (200)', response.status() === 200, String(response.status()));
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check('nothing scrolls sideways at 320 px', width <= 320, `${width}px wide`);
  check('no script on the page', await page.locator('script').count() === 0);

  if (args.expect === 'survey') {
    check('five questions', await page.locator('fieldset').count() === 5);
    for (const key of ['q1', 'q2', 'q3', 'q4', 'q5']) {
      const skip = page.locator(`label[for="${key}-skip"]`);
      check(`${key}: "prefer not to say" has a label`, (await skip.count()) === 1);
      const box = await skip.boundingBox();
      check(`${key}: "prefer not to say" is a touch target (44 px)`, box && box.height >= 44,
        JSON.stringify(box));
    }
    // A tapped score, then taken back: no answer, as if never touched.
    await page.locator('label[for="q2-7"]').tap();
    check('a tapped score is chosen', await chosen(page, 'q2') === '7', await chosen(page, 'q2'));
    await page.locator('label[for="q2-skip"]').tap();
    check('"prefer not to say" takes it back', await chosen(page, 'q2') === '',
      await chosen(page, 'q2'));
    const stopLink = await page.locator('footer a[href*="/stop"]').boundingBox();
    check('the stop link is a touch target (44 px)', stopLink && stopLink.height >= 44,
      JSON.stringify(stopLink));
    await axe(page, 'survey');

    // Text enlarged to 200% on a 360 px phone (180 CSS px): every score fits its box.
    const zoomed = await browser.newContext({
      viewport: { width: 180, height: 640 }, hasTouch: true, isMobile: true,
    });
    const small = await zoomed.newPage();
    await small.goto(args.url);
    const cramped = await small.evaluate(() => [...document.querySelectorAll('.scale label')]
      .filter((l) => l.scrollWidth > l.clientWidth).map((l) => l.textContent.trim()));
    check('at 200% text every score fits its box', cramped.length === 0, cramped.join(' '));
    const wide = await small.evaluate(() => document.documentElement.scrollWidth);
    check('nothing scrolls sideways at 180 px', wide <= 180, `${wide}px wide`);
    await zoomed.close();
  } else {
    check('"Thank you"', (await page.textContent('h1')).includes('Thank you'),
      await page.textContent('h1'));
    check('101, as a link to call', await page.locator('a[href="tel:101"]').count() === 1);
    check('999, as a link to call', await page.locator('a[href="tel:999"]').count() === 1);
    const stop = page.locator('footer a[href$="/stop"]');
    check('the stop link', await stop.count() === 1);
    for (const [name, link] of [['999', 'a[href="tel:999"]'], ['101', 'a[href="tel:101"]'],
      ['the stop link', 'footer a[href$="/stop"]']]) {
      const box = await page.locator(link).boundingBox();
      check(`${name} is a touch target (44 px)`, box && box.height >= 44, JSON.stringify(box));
    }
    await axe(page, 'thanks', 6);  // a heading, a few lines and links: fewer rules apply
  }

  mkdirSync(dirname(args.screenshot), { recursive: true });
  await page.screenshot({ path: args.screenshot, fullPage: true });
  console.log(`screenshot: ${args.screenshot}`);
  check('no console errors or CSP violations', problems.length === 0, problems.join(' | '));
  check('nothing loaded from elsewhere', elsewhere.length === 0, elsewhere.join(' '));
});
