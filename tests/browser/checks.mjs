// What the browser tests share: their arguments, their checks, axe-core, and Debian's Chromium.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);

// "--name value" pairs of the command line; exits 2 naming the first of `required` missing.
export function readArgs(script, required) {
  const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) =>
    (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []));
  for (const name of required) {
    if (!args[name]) {
      console.error(`${script}: --${name} is required`);
      process.exit(2);
    }
  }
  return args;
}

// The names of the checks that failed, in order.
const failures = [];
export function check(name, ok, detail) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok || detail === undefined ? '' : ': ' + detail}`);
  if (!ok) failures.push(name);
}

// axe-core on the page as it is: no serious or critical WCAG 2.1 AA violation, and at least
// `least` of its rules found something to check (a page it could not read passes none).
export async function axe(page, label, least = 11) {
  if (!(await page.evaluate(() => Boolean(window.axe)))) {
    await page.evaluate(readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));
  }
  const results = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
  }));
  for (const v of results.violations) {
    console.log(`axe ${v.impact}: ${v.id}: ${v.help} (${v.nodes.length} element(s): ` +
      `${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')})`);
  }
  const serious = results.violations.filter((v) => ['serious', 'critical'].includes(v.impact));
  check(`axe (${label}): no serious or critical WCAG 2.1 AA violation`, serious.length === 0,
    serious.map((v) => v.id).join(', '));
  check(`axe (${label}) ran its rules`, results.passes.length >= least,
    String(results.passes.length));
}

// Runs `checks(browser)` in Debian's Chromium (headless, using no network of its own), closes it,
// then ends the process: 0 when every check passed; 1 naming each check that failed, or the error
// that stopped the checks (one the test throws, or a Chromium that does not start).
export async function runChecksInChromium(script, checks) {
  let browser;
  let stopped = false;
  try {
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    await checks(browser);
  } catch (e) {
    console.error(`${script}: ${e.stack || e}`);
    stopped = true;
  } finally {
    await browser?.close();
  }
  if (failures.length) {
    console.error(`${script}: ${failures.length} check(s) failed: ${failures.join('; ')}`);
  }
  process.exit(stopped || failures.length ? 1 : 0);
}
