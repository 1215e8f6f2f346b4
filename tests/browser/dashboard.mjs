// The dashboard in real headless Chromium (Debian's, driven by playwright-core): it loads, signs
// in with a token, filters, and shows the figures the API gives; axe-core finds no serious or
// critical WCAG 2.1 AA violation; no console error, no CSP violation. Then the alerts view: the
// open alert --alert is listed and filtered, opened with its history, acknowledged and resolved
// with notes (the caller checks the database), axe again; an analyst's token (--analyst-token)
// gets no alerts view, a safeguarding token (--safeguarding-token) the alerts alone. Keeps a screenshot of each view (the second ends in -alerts.png).
//
//   node tests/browser/dashboard.mjs --url http://127.0.0.1:PORT --token SUPERVISOR_TOKEN \
//     --analyst-token TOKEN --safeguarding-token TOKEN --alert ID \
//     --from 2026-10-01 --to 2026-11-30 --screenshot build/test-artifacts/dashboard.png
//
// Exits non-zero naming every check that failed. CHROMIUM overrides /usr/bin/chromium.
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { axe, check, readArgs, runChecksInChromium } from './checks.mjs';

const args = readArgs('dashboard.mjs',
  ['url', 'token', 'analyst-token', 'safeguarding-token', 'alert', 'conflict-alert', 'reopened-alert',
    'from', 'to', 'screenshot']);

async function api(path, params, token) {
  const query = new URLSearchParams(params).toString();
  const response = await fetch(`${args.url}${path}?${query}`, {
    headers: { Authorization: `Bearer ${token || args.token}` },
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

// An action through the API, as another person at another screen would take it.
async function post(path, body, token) {
  const response = await fetch(`${args.url}${path}`, { method: 'POST', body: JSON.stringify(body),
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

// A time as the force's e-mails give it: on its clock, named ("14:05 BST").
const londonClock = (iso) => new Date(iso).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit',
  timeZone: 'Europe/London', timeZoneName: 'short' });

// The text of `selector`, or '(not listed)' when there is none (without waiting for it).
async function textOf(page, selector) {
  const node = await page.$(selector);
  return node ? node.textContent() : '(not listed)';
}

// Waits for `predicate` in the page; false (a check then fails) rather than an exception.
const eventually = (page, predicate, arg, timeout = 15000) =>
  page.waitForFunction(predicate, arg, { timeout }).then(() => true, () => false);

// The records of a CSV (RFC 4180: fields quoted where they hold a comma, a quote or a line break).
function parseCsv(text) {
  const records = [];
  let record = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 1; } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { record.push(field); field = ''; }
    else if (c === '\r' && text[i + 1] === '\n') { record.push(field); records.push(record); record = []; field = ''; i += 1; }
    else field += c;
  }
  if (field || record.length) { record.push(field); records.push(record); }
  return records;
}

// What the tiles show, read from the page.
async function tiles(page) {
  return page.$$eval('#tiles li', (items) => items.map((li) => {
    const field = (name) => li.querySelector(`[data-field="${name}"]`)?.textContent ?? null;
    return {
      question: li.dataset.question ?? null, tile: li.dataset.tile ?? null,
      mean: field('mean'), meanCi: field('mean_ci95'), pct: field('pct_8_10'), respondents: field('respondents'),
      answered: field('answered'), rate: field('response_rate_pct'),
    };
  }));
}

// The tiles against GET /api/v1/stats with the same filters.
async function compareTiles(page, label, params) {
  const stats = await api('/api/v1/stats', params);
  const cell = stats.cells[0];
  const shown = await tiles(page);
  check(`${label}: a tile per question`, shown.filter((t) => t.question).length === stats.questions.length,
    JSON.stringify(shown));
  for (const q of stats.questions) {
    const t = shown.find((x) => x.question === q.key);
    const f = cell.questions[q.key];
    if (f.suppressed) {
      check(`${label}: ${q.key} suppressed`, t && t.mean === null, JSON.stringify(t));
      continue;
    }
    check(`${label}: ${q.key} mean`, t && t.mean === String(f.mean), `${t?.mean} vs ${f.mean}`);
    check(`${label}: ${q.key} mean's interval`, t && t.meanCi === `${f.mean_ci95[0]}–${f.mean_ci95[1]}`,
      `${t?.meanCi} vs ${f.mean_ci95}`);
    check(`${label}: ${q.key} % 8-10`, t && t.pct === String(f.pct_8_10), `${t?.pct} vs ${f.pct_8_10}`);
    check(`${label}: ${q.key} respondents`, t && t.respondents === f.respondents.toLocaleString('en-GB'),
      `${t?.respondents} vs ${f.respondents}`);
  }
  const answered = shown.find((x) => x.tile === 'answered');
  const rate = shown.find((x) => x.tile === 'response_rate');
  if (cell.suppressed) {
    check(`${label}: completed surveys suppressed`, answered && answered.answered === null);
    return stats;
  }
  check(`${label}: completed surveys`, answered?.answered === cell.answered.toLocaleString('en-GB'),
    `${answered?.answered} vs ${cell.answered}`);
  check(`${label}: response rate`, rate?.rate === String(cell.response_rate_pct),
    `${rate?.rate} vs ${cell.response_rate_pct}`);
  return stats;
}

async function waitReady(page, action) {
  await page.evaluate(() => { document.body.dataset.state = 'loading'; });
  await action();
  await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state),
    null, { timeout: 20000 });
  const state = await page.evaluate(() => document.body.dataset.state);
  if (state !== 'ready') {
    throw new Error('the dashboard shows an error: ' + await page.textContent('#message'));
  }
}

await runChecksInChromium('dashboard.mjs', async (browser) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  const elsewhere = [];
  page.on('request', (r) => { if (!r.url().startsWith(args.url) && !r.url().startsWith('blob:')) elsewhere.push(r.url()); });

  const period = { from: args.from, to: args.to };
  await page.goto(`${args.url}/dashboard?from=${args.from}&to=${args.to}`);
  check('the sign-in form shows first', await page.isVisible('#signin'));
  check('no figures before signing in', !(await page.isVisible('#main')));

  // A wrong token is refused and says so.
  await page.fill('#token', 'svd_wrong');
  await page.click('#signin button');
  await page.waitForSelector('#message:not([hidden])');
  check('a wrong token is refused', (await page.textContent('#message')).includes('not accepted'));
  problems.length = 0;  // the 401 of that attempt is logged by the browser, as it should be

  await waitReady(page, async () => {
    await page.fill('#token', args.token);
    await page.click('#signin button');
  });
  check('signed in as a supervisor', (await page.textContent('#who-role')).includes('supervisor'));
  // The test holds every text first (surveyd sends hold): the page says so, and why.
  await page.waitForSelector('#hold:not([hidden])', { timeout: 5000 }).catch(() => {});
  const hold = await page.textContent('#hold');
  check('the hold on every text is shown, with its reason',
    await page.isVisible('#hold') && hold.includes('held by ops') && hold.includes('Operation Larch'), hold);
  check('officer filter shown to a supervisor', await page.isVisible('#f-officer'));
  await compareTiles(page, 'whole period', period);

  // The trend: a dot for each day or week the API gives unsuppressed, placed by its date on a
  // time axis (a period without answers is a gap, not a neighbour).
  // By week: whole weeks, Monday to Sunday, within the period (no part-week plotted as a week).
  const trendBy = (Date.parse(period.to) - Date.parse(period.from)) / 86400000 > 31 ? 'week' : 'day';
  const DAY = 86400000;
  const day = (t) => new Date(t).toISOString().slice(0, 10);
  const start = Date.parse(period.from); const end = Date.parse(period.to);
  const weeks = { from: day(start + ((8 - new Date(start).getUTCDay()) % 7) * DAY),
    to: day(end - new Date(end).getUTCDay() * DAY) };
  const trend = await api('/api/v1/stats', { ...period, ...(trendBy === 'week' ? weeks : {}), group_by: trendBy });
  if (trendBy === 'week') {
    const said = await page.textContent('#trend');
    check('the trend says it is by whole weeks', said.includes(`whole weeks, Monday to Sunday: ${weeks.from} to ${weeks.to}`), said);
  }
  const shownPeriods = trend.cells.filter((c) => !c.questions.q1.suppressed).map((c) => c[trendBy]);
  const dots = await page.$$eval('#trend circle.dot', (cs) => cs.map((c) => [c.dataset.key, Number(c.getAttribute('cx'))]));
  check(`the trend has a dot per ${trendBy} shown by the API`, shownPeriods.length >= 3 &&
    JSON.stringify(dots.map(([k]) => k)) === JSON.stringify(shownPeriods), `${dots.length} dots, ${shownPeriods.length} ${trendBy}s`);
  const at = (i) => Date.parse(dots[i][0]);
  const last = dots.length - 1;
  check('the trend\'s dots are placed by their dates', last > 1 && dots.every(([, cx], i) =>
    Math.abs((cx - dots[0][1]) / (dots[last][1] - dots[0][1]) - (at(i) - at(0)) / (at(last) - at(0))) < 0.01));

  // The funnel's answered count is the API's.
  const funnel = await api('/api/v1/funnel', period);
  const answeredStage = await page.textContent('#funnel [data-stage="Answered"]');
  check('funnel answered', answeredStage === funnel.total.answered.toLocaleString('en-GB'),
    `${answeredStage} vs ${funnel.total.answered}`);
  // Why contacts were excluded, in words (the API's reasons are ids), with the API's counts: a
  // supervisor's are small-number suppressed (null, shown as "–"), and the page says so.
  const reasons = Object.entries(funnel.total.excluded_by_rule || {});
  const exclusions = await page.textContent('#funnel p.small').catch(() => '');
  check('the exclusions are named in words, with their counts', reasons.length > 0 &&
    !/[_:()]/.test(exclusions.replace('Most common exclusions:', '').replace(/\([0-9,–]+\)/g, '')) &&
    reasons.sort((a, b) => (a[1] === null) - (b[1] === null) || b[1] - a[1]).slice(0, 6)
      .every(([, n]) => exclusions.includes(`(${n === null ? '–' : n.toLocaleString('en-GB')})`)),
    exclusions);
  const funnelNote = await page.textContent('#funnel-note').catch(() => '');
  check('the funnel says its reasons are suppressed', funnel.disclosure.reasons === 'suppressed' &&
    funnelNote.includes(`fewer than ${funnel.disclosure.min_cell_size}`), JSON.stringify(funnel.disclosure));
  // Its reasons carry noise against two funnels a day apart, and the page says so under them.
  check('the funnel says its reasons carry noise', funnel.disclosure.noise === true &&
    funnelNote.includes(`within ${funnel.disclosure.count_within}`), funnelNote);
  // The figures carry noise against differencing, and the page says so beside them.
  const figures = await api('/api/v1/stats', period);
  const noiseNote = await page.textContent('#noise-note');
  check('the tiles say their counts carry noise', figures.disclosure.noise === true &&
    noiseNote.includes(`within ${figures.disclosure.count_within}`), noiseNote);

  // Survey groups go by their names in the rules in force; a group no longer in them by its id.
  const groupOptions = await page.$$eval('#f-survey_group option', (o) => o.map((x) => [x.value, x.textContent]));
  check('survey groups named from the rules',
    groupOptions.some(([v, t]) => v === 'force_contact' && t === 'Force Contact'), JSON.stringify(groupOptions));
  check('a group not in the rules keeps its id',
    groupOptions.some(([v, t]) => v === 'attendance' && t === 'attendance'), JSON.stringify(groupOptions));

  // Filter by an area and a gender: the URL keeps them, the figures follow.
  const npu = await page.$$eval('#f-npu option', (o) => o.map((x) => x.value).filter(Boolean)[1]);
  check('area options come from the data', Boolean(npu));
  await page.selectOption('#f-npu', npu);
  await page.selectOption('#f-gender', 'female');
  await waitReady(page, () => page.click('#filters button[type=submit]'));
  const url = new URL(page.url());
  check('filters kept in the URL', url.searchParams.get('npu') === npu &&
    url.searchParams.get('gender') === 'female', page.url());
  await compareTiles(page, `npu=${npu}, gender=female`, { ...period, npu, gender: 'female' });

  // The breakdown by age band: one row per cell the API gives, suppression shown as such.
  await waitReady(page, () => page.selectOption('#breakdown-by', 'age_band'));
  const breakdown = await api('/api/v1/stats', { ...period, npu, gender: 'female', group_by: 'age_band' });
  const rows = await page.$$eval('#breakdown table tbody tr', (trs) =>
    trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  check('breakdown rows', rows.length === breakdown.cells.length, `${rows.length} vs ${breakdown.cells.length}`);
  // Age bands read as people say them ('under_18' is the stored value).
  const ageLabel = (band) => (band === 'under_18' ? 'Under 18' : band ?? 'Not recorded');
  for (const cell of breakdown.cells) {
    const key = ageLabel(cell.age_band);
    const row = rows.find((r) => r[0] === key);
    const f = cell.questions.q1;
    check(`breakdown ${key}`, row && (f.suppressed ? row[1] === 'suppressed' : row[1] === String(f.pct_8_10)),
      JSON.stringify(row));
  }

  // Who answers, by age band: every band the API gives, youngest first, not recorded last.
  await waitReady(page, () => page.selectOption('#rep-by', 'age_band'));
  const rep = await api('/api/v1/representativeness', { ...period, npu, gender: 'female', dimension: 'age_band' });
  const repNames = await page.$$eval('#representativeness table tbody tr',
    (trs) => trs.map((tr) => tr.children[0].textContent));
  const ageRank = (band) => (band === 'under_18' ? 0 : band === null ? 1000 : parseInt(band, 10));
  const expected = rep.values.map((v) => v.value).sort((a, b) => ageRank(a) - ageRank(b)).map(ageLabel);
  check('who answers, by age band in order', JSON.stringify(repNames) === JSON.stringify(expected),
    `${JSON.stringify(repNames)} vs ${JSON.stringify(expected)}`);
  check('who answers shows under-18s as such', !repNames.includes('under_18'), JSON.stringify(repNames));

  // Reloading keeps the view (URL) and the sign-in (this tab's session).
  await waitReady(page, () => page.reload());
  check('reload keeps the filters', await page.inputValue('#f-npu') === npu);

  // Comments: searched with stemming, never a number or an address.
  await page.fill('#q', 'waiting');
  await page.click('#search button');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('q') === 'waiting');
  await page.waitForTimeout(500);
  const comments = await page.$$eval('#comments .comment', (p) => p.map((x) => x.textContent));
  check('search finds comments', comments.length > 0);
  check('every comment found is about waiting', comments.every((c) => /wait/i.test(c)), comments.join(' | '));
  const all = await page.textContent('#main');
  check('no phone number on the page', !/07700\s?900/.test(all));
  check('no e-mail address on the page', !/@example\.com/.test(all));

  // Clearing the filters, for the screenshot and the accessibility check of the whole page.
  await waitReady(page, () => page.click('#reset'));
  check('clearing the filters drops them from the URL', !new URL(page.url()).searchParams.get('npu'));

  // The comments' CSV holds every comment of the period, in the API's order, page after page
  // (the API gives at most 1,000 a page; made 40 here, so that the test's comments take several),
  // in one file with one byte-order mark and one header. It held the first page alone.
  const shownView = new URL(page.url()).searchParams;
  const expectedIds = [];
  for (let after = null; ;) {
    const p = await api('/api/v1/comments', { from: shownView.get('from'), to: shownView.get('to'), limit: 1000,
      ...(after ? { after } : {}) });
    expectedIds.push(...p.comments.map((c) => String(c.survey_id)));
    if (!p.next) break;
    after = p.next;
  }
  const csvPage = (url) => url.pathname === '/api/v1/comments' && url.searchParams.get('format') === 'csv';
  let csvPages = 0;
  await page.route(csvPage, (route) => {
    const url = new URL(route.request().url());
    url.searchParams.set('limit', '40');
    csvPages += 1;
    return route.continue({ url: url.toString() });
  });
  const [commentsDownload] = await Promise.all([page.waitForEvent('download'),
    page.click('button[data-csv="comments"]')]);
  const commentsBytes = readFileSync(await commentsDownload.path());
  await page.unroute(csvPage);
  const commentsText = commentsBytes.subarray(3).toString('utf8');
  check('the comments CSV starts with one UTF-8 byte-order mark (for Excel)',
    commentsBytes.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf])) && !commentsText.includes('\uFEFF'));
  const commentRows = parseCsv(commentsText);
  check('the comments CSV has one header', commentRows[0][0] === 'survey_id' &&
    commentRows.filter((r) => r[0] === 'survey_id').length === 1, JSON.stringify(commentRows[0]));
  const downloadedIds = commentRows.slice(1).map((r) => r[0]);
  check('the comments CSV holds every comment of the period, page after page',
    expectedIds.length > 80 && csvPages > 2 && JSON.stringify(downloadedIds) === JSON.stringify(expectedIds),
    `${downloadedIds.length} rows from ${csvPages} pages, ${expectedIds.length} comments`);

  await axe(page, 'figures');

  // On a phone (a supervisor following an alert's e-mail): the page does not scroll sideways
  // (charts and tables scroll in their panels), and the figures pass the same check.
  await page.setViewportSize({ width: 390, height: 844 });
  const phoneWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  const wide = await page.evaluate(() => [...document.querySelectorAll('body *')]
    .filter((e) => e.getBoundingClientRect().right > 391 && e.getClientRects().length && !e.closest('.chart, .table-scroll'))
    .map((e) => `${e.closest('[id]') ? e.closest('[id]').id + '>' : ''}${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${typeof e.className === 'string' && e.className ? '.' + e.className.split(' ')[0] : ''}`)
    .slice(0, 8).join(' '));
  check('nothing scrolls the page sideways at 390 px', phoneWidth <= 390, `${phoneWidth}px wide: ${wide}`);
  await axe(page, 'figures at 390 px');
  await page.setViewportSize({ width: 1280, height: 900 });

  mkdirSync(dirname(args.screenshot), { recursive: true });
  await page.screenshot({ path: args.screenshot, fullPage: true });
  console.log(`screenshot: ${args.screenshot}`);

  // ---- the alerts view, as a supervisor ----
  const alertId = Number(args.alert);
  const row = `#alerts tr[data-alert-row="${alertId}"]`;
  check('the alerts view is offered to a supervisor', await page.isVisible('#to-alerts'));
  await page.click('#to-alerts');
  await page.waitForSelector(row, { timeout: 20000 });
  check('the view is kept in the URL', new URL(page.url()).searchParams.get('view') === 'alerts', page.url());
  check('the figures are hidden in the alerts view', !(await page.isVisible('#tiles')));
  const listed = (await api('/api/v1/alerts', { status: 'open' })).alerts.find((a) => a.id === alertId);
  check('the API lists the alert as open', Boolean(listed));
  const cells = await page.$$eval(`${row} td`, (tds) => tds.map((td) => td.textContent));
  check('the row shows kind, severity and status', cells[1] === 'Safeguarding' && cells[2] === 'urgent' &&
    cells[3] === 'Open', JSON.stringify(cells));
  // By its name in the rules in force (the alerts API gives it with the context), not its id.
  const groupName = (id) => (id === 'force_contact' ? 'Force Contact' : id);
  check('the row shows the survey group', Boolean(listed) && cells[5].includes(groupName(listed.context.group)),
    JSON.stringify(cells));
  check('the row shows the rule and what matched', cells[6].includes('risk_to_safety') &&
    cells[6].includes('fear:scared'), JSON.stringify(cells));
  check('the skip link is named for the view', await page.textContent('a.skip') === 'Skip to the alerts',
    await page.textContent('a.skip'));

  // A complaint raised two days ago, resolved, then reopened (the citizen wrote again) heads the
  // list, marked so with the time, on the force's clock, named.
  const reopenedId = Number(args['reopened-alert']);
  const reopenedRow = `#alerts tr[data-alert-row="${reopenedId}"]`;
  const reopenedAlert = await api(`/api/v1/alerts/${reopenedId}`, {});
  const firstRow = await page.$eval('#alerts tbody tr[data-alert-row]', (tr) => Number(tr.dataset.alertRow));
  check('a reopened alert heads the list', firstRow === reopenedId, `first row: alert ${firstRow}`);
  const reopenedRaised = await textOf(page, `${reopenedRow} td:nth-child(5)`);
  check('... marked reopened, with the time', reopenedRaised.includes(`Reopened`) &&
    reopenedRaised.includes(londonClock(reopenedAlert.reopened_at)), reopenedRaised);
  check('the list says when it was read', /^Updated \d\d:\d\d (GMT|BST)\.$/.test(await textOf(page, '#alerts-updated')));
  // The older alerts a page at a time: each listed once, focus on the first of the new page.
  const everyAlert = (await api('/api/v1/alerts', { limit: 500 })).alerts.map((a) => a.id);
  const firstPage = await page.$$eval('#alerts tbody tr[data-alert-row]', (trs) => trs.length);
  check('a page of 50 alerts, then "Older alerts"', firstPage === 50 && await page.isVisible('#alerts-more'),
    `${firstPage} rows of ${everyAlert.length}`);
  await page.click('#alerts-more');
  await eventually(page, (n) => document.querySelectorAll('#alerts tbody tr[data-alert-row]').length > n, firstPage);
  const listedIds = await page.$$eval('#alerts tbody tr[data-alert-row]', (trs) => trs.map((tr) => Number(tr.dataset.alertRow)));
  check('every alert listed once, in the API\'s order', listedIds.join() === everyAlert.join(),
    `${listedIds.length} rows, ${everyAlert.length} alerts`);
  check('focus moves to the first older alert', await page.evaluate(() => document.activeElement.dataset.alert) ===
    String(everyAlert[firstPage]), await page.evaluate(() => document.activeElement.outerHTML.slice(0, 80)));

  // Filtering by status: not among the resolved ones, back among the open safeguarding ones.
  await page.selectOption('#a-status', 'resolved');
  await page.click('#alert-filters button[type=submit]');
  await page.waitForFunction((sel) => !document.querySelector(sel) &&
    new URL(location.href).searchParams.get('status') === 'resolved', row);
  check('an open alert is not listed as resolved', !(await page.$(row)));
  await page.selectOption('#a-status', 'open');
  await page.selectOption('#a-kind', 'safeguarding');
  await page.click('#alert-filters button[type=submit]');
  await page.waitForSelector(row);
  await page.selectOption('#a-kind', 'complaint');
  await page.click('#alert-filters button[type=submit]');
  await page.waitForFunction((sel) => !document.querySelector(sel), row);
  check('the kind filter applies', !(await page.$(row)));
  await page.selectOption('#a-kind', '');
  await page.selectOption('#a-status', '');
  await page.click('#alert-filters button[type=submit]');
  await page.waitForFunction(() => !new URL(location.href).searchParams.get('status'));
  await page.waitForSelector(row);

  // One alert: its facts and history, never the citizen's words.
  await page.click(`#alerts button[data-alert="${alertId}"]`);
  await page.waitForSelector('#alert-detail:not([hidden]) [data-fact="Status"]');
  const fact = (name) => page.textContent(`#alert-facts [data-fact="${name}"]`);
  check('the alert opens as open', await fact('Status') === 'Open');
  check('the alert shows its survey group',
    Boolean(listed) && await fact('Survey group') === groupName(listed.context.group));
  check('the history starts with its creation',
    (await page.$$eval('#alert-history li', (li) => li.map((x) => x.dataset.action))).join() === 'created');
  check('focus moves to the alert', await page.evaluate(() => document.activeElement.id) === 'alert-h');
  check('a supervisor is not offered the reveal (the safeguarding role alone may)',
    !(await page.isVisible('#reveal')));
  const detail = await api(`/api/v1/alerts/${alertId}`, {});
  const comment = detail.answer && detail.answer.comment;
  check('the alert is on an answer with a comment', Boolean(comment));
  // Whoever acts reads what was said: the comment as the API gives it (masked), and the scores.
  check('the alert shows what they wrote, masked as the API gives it', Boolean(comment) &&
    (await page.textContent('#alert-comment')) === comment);
  check('the alert shows the scores given', ['q1', 'q2', 'q3', 'q4', 'q5'].every((q) => detail.answer[q] === null ||
    detail.answer[q] === undefined) ||
    (await page.$$eval('#alert-scores [data-score]', (dd) => dd.length)) > 0);

  // Resolving needs a note; the page says so without asking the service.
  await page.fill('#alert-note', '');
  await page.click('#alert-resolve');
  await page.waitForSelector('#alert-error:not([hidden])');
  check('resolving without a note is refused', (await page.textContent('#alert-error')).includes('note'));

  // A double tap is one action (the caller checks the history in the database too): two clicks
  // in one go, before the page can hear back.
  const doubleTap = (selector) => page.$eval(selector, (button) => { button.click(); button.click(); });
  await page.fill('#alert-note', 'Looking into it');
  await doubleTap('#alert-ack');
  await page.waitForFunction(() => document.querySelector('#alert-done').textContent.includes('acknowledged'));
  check('acknowledged: the status follows', await fact('Status') === 'Acknowledged');
  check('acknowledged: focus moves to what was done', await page.evaluate(() => document.activeElement.id) === 'alert-done',
    await page.evaluate(() => document.activeElement.tagName));
  check('acknowledged once for a double tap', (await api(`/api/v1/alerts/${alertId}`, {})).history
    .filter((h) => h.action === 'acknowledged').length === 1);
  check('acknowledged: the history says who and why', (await page.textContent('#alert-history')).includes('Looking into it') &&
    (await page.textContent('#alert-history')).includes('browser test'));
  check('acknowledged: acknowledging again is not offered', await page.isDisabled('#alert-ack'));
  check('acknowledged: the list follows', await page.textContent(`${row} td:nth-child(4)`) === 'Acknowledged');
  check('acknowledged: no error shown', !(await page.isVisible('#alert-error')));
  await axe(page, 'alerts');

  await page.fill('#alert-note', 'Called back, safe now; referred to the DA team');
  await doubleTap('#alert-resolve');
  await page.waitForFunction(() => document.querySelector('#alert-done').textContent.includes('resolved'));
  check('resolved: the status follows', await fact('Status') === 'Resolved');
  check('resolved once for a double tap: no error shown', !(await page.isVisible('#alert-error')),
    await page.textContent('#alert-error'));
  check('resolved: focus moves to what was done', await page.evaluate(() => document.activeElement.id) === 'alert-done');
  // Times on the force's clock, named, whatever the browser's zone.
  check('the history\'s times are on the force\'s clock, named', (await page.textContent('#alert-history li[data-action="resolved"] time'))
    .endsWith(londonClock((await api(`/api/v1/alerts/${alertId}`, {})).status_at)));

  // Someone else resolves the reopened complaint: the list follows when the tab is seen again.
  await post(`/api/v1/alerts/${reopenedId}/resolve`, { note: 'Spoke to them: a complaint about the wait' },
    args['safeguarding-token']);
  await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
  check('the list is read again when the tab is seen again', await eventually(page,
    (sel) => document.querySelector(sel)?.children[3].textContent === 'Resolved', reopenedRow));
  check('resolved: the history has three steps',
    (await page.$$eval('#alert-history li', (li) => li.map((x) => x.dataset.action))).join() ===
    'created,acknowledged,resolved');
  check('resolved: no action left', await page.isDisabled('#alert-resolve') && await page.isDisabled('#alert-ack'));
  check('resolved: the list follows', await page.textContent(`${row} td:nth-child(4)`) === 'Resolved');
  await page.selectOption('#a-status', 'open');
  await page.click('#alert-filters button[type=submit]');
  await page.waitForFunction((sel) => !document.querySelector(sel) &&
    new URL(location.href).searchParams.get('status') === 'open', row);
  check('resolved: gone from the open list', !(await page.$(row)));
  const after = await api(`/api/v1/alerts/${alertId}`, {});
  check('the API says resolved', after.status === 'resolved', after.status);

  // A token refused in the middle of resolving (revoked, expired): the page says nothing was
  // saved, and the note comes back with the alert once signed in again.
  const conflictId = Number(args['conflict-alert']);
  const notSaved = 'Left a voicemail; will try again at 6';
  await page.click(`#alerts button[data-alert="${conflictId}"]`);
  await page.waitForSelector('#alert-detail:not([hidden]) [data-fact="Status"]');
  await page.route(`**/api/v1/alerts/${conflictId}/resolve`, (route) => route.fulfill({ status: 401,
    contentType: 'application/json', body: JSON.stringify({ error: 'unauthorized', message: 'invalid token' }) }));
  await page.fill('#alert-note', notSaved);
  await page.click('#alert-resolve');
  await page.waitForSelector('#signin:not([hidden])');
  await page.unroute(`**/api/v1/alerts/${conflictId}/resolve`);
  const refusedSaid = await page.textContent('#message');
  check('a token refused while resolving: nothing saved, said so', refusedSaid.includes(`alert ${conflictId} was not resolved`) &&
    refusedSaid.includes('nothing was saved'), refusedSaid);
  check('... and focus goes to the token', await page.evaluate(() => document.activeElement.id) === 'token');
  await page.fill('#token', args.token);
  await page.click('#signin button');
  check('... signed in again, the note is back', await eventually(page, ([id, note]) =>
    !document.querySelector('#alert-detail').hidden && document.querySelector('#alert-h').textContent.startsWith(`Alert ${id}:`) &&
    document.querySelector('#alert-note').value === note, [conflictId, notSaved]), await page.inputValue('#alert-note'));

  // Someone else resolves it meanwhile: resolving here changes nothing, and the page shows who
  // did and why, the note typed here kept and said not saved.
  await post(`/api/v1/alerts/${conflictId}/resolve`, { note: 'Called back from the hub' }, args['safeguarding-token']);
  await page.click('#alert-resolve');
  await eventually(page, () => !document.querySelector('#alert-error').hidden);
  const conflictSaid = await page.textContent('#alert-error');
  check('resolved by someone else: said who, and that the note was not saved',
    conflictSaid.includes('already resolved by browser safeguarding') && conflictSaid.includes('not saved'), conflictSaid);
  check('... the page shows it resolved, with their note', await fact('Status') === 'Resolved' &&
    (await page.textContent('#alert-history')).includes('Called back from the hub') && await page.isDisabled('#alert-resolve'));
  check('... the note typed is kept', await page.inputValue('#alert-note') === notSaved);
  check('... focus on what went wrong', await page.evaluate(() => document.activeElement.id) === 'alert-error');
  check('... the list follows', await textOf(page, `#alerts tr[data-alert-row="${conflictId}"] td:nth-child(4)`) !== 'Open');
  // (The browser logs the 401 and the 409 of those steps, as it should.)
  problems.splice(0, problems.length, ...problems.filter((p) => !/status of (401|409)/.test(p)));
  const alertsShot = args.screenshot.replace(/\.png$/, '') + '-alerts.png';
  await page.screenshot({ path: alertsShot, fullPage: true });
  console.log(`screenshot: ${alertsShot}`);

  // Praise, for supervisors: per person as GET /api/v1/recognition gives it for the same days
  // (whole days in the force's time zone, as the other panels' figures), and the praise comments.
  async function comparePraise(label, params) {
    const report = await api('/api/v1/recognition', { from: args.from, to: args.to, ...params });
    const shownPeople = report.people.filter((p) => !p.suppressed);
    const rows = await page.$$eval('#people tbody tr[data-person]', (trs) => trs.map((tr) => ({
      person: tr.dataset.person, team: tr.children[2].textContent,
      respondents: tr.querySelector('[data-field="respondents"]').textContent,
      allTop: tr.querySelector('[data-field="all_top_scores"]').textContent,
      praise: tr.querySelector('[data-field="praise_comments"]').textContent,
      q1: tr.querySelector('[data-top="q1"]').textContent })));
    check(`${label}: a row per person shown by the API`, rows.length === shownPeople.length && rows.length > 0,
      `${rows.length} rows, ${shownPeople.length} people`);
    const fmt = (n) => n.toLocaleString('en-GB');
    check(`${label}: each person's counts as the API's`, rows.every((r, i) => shownPeople[i] &&
      r.person === shownPeople[i].person && r.team === shownPeople[i].team &&
      r.respondents === fmt(shownPeople[i].respondents) && r.allTop === fmt(shownPeople[i].all_top_scores) &&
      r.praise === fmt(shownPeople[i].praise_comments) && r.q1 === fmt(shownPeople[i].top_scores.q1)));
    const hidden = await page.isVisible('#praise-hidden') ? await page.textContent('#praise-hidden') : '';
    check(`${label}: the people not shown are counted`, report.suppressed_people === 0 ? hidden === '' :
      hidden.startsWith(`${fmt(report.suppressed_people)} more `), hidden);
    // Twenty at a time: each "More praise" shows the next.
    while (await page.isVisible('#praise-more')) await page.click('#praise-more');
    const comments = await page.$$eval('#praise-comments li[data-survey]', (li) => li.map((x) => x.querySelector('.comment').textContent));
    check(`${label}: the praise comments as the API's`, comments.length === report.praise.length &&
      comments.every((c, i) => c === report.praise[i].comment), `${comments.length} shown, ${report.praise.length} given`);
    return report;
  }
  await waitReady(page, () => page.click('#to-praise'));
  check('the praise view is shown', await page.isVisible('#people') && !(await page.isVisible('#tiles')) &&
    new URL(page.url()).searchParams.get('view') === 'praise');
  await axe(page, 'praise');
  const praiseShot = args.screenshot.replace(/\.png$/, '') + '-praise.png';
  await page.screenshot({ path: praiseShot, fullPage: true });
  console.log(`screenshot: ${praiseShot}`);
  check('twenty praise comments at first', (await page.$$('#praise-comments li[data-survey]')).length <= 20);
  const everyone = await comparePraise('praise', {});
  check('praise comments are shown, masked', everyone.praise.length > 0 &&
    !(await page.textContent('#praise-comments')).match(/07700 ?9\d{5}|@example\.com/));
  // The questions' short names come from the API, one definition with the CLI's report.
  const headings = await page.$$eval('#people button.sort[data-sort^="q"]', (b) => b.map((x) => x.textContent));
  const labels = everyone.questions.map((q) => q.label);
  check('the question headings are the API\'s short names', labels.length === 5 && labels.every(Boolean) &&
    headings.join('|') === labels.join('|'), headings.join('|'));
  const firstMeta = await page.textContent('#praise-comments li[data-survey] .meta');
  check('each praise comment names the questions of its scores', firstMeta.includes(`${labels[0]} `), firstMeta);
  // A heading sorts the table by its column, most first, kept in the URL; again, the API's order.
  const praiseColumn = () => page.$$eval('#people tbody tr[data-person]', (trs) => trs.map((tr) =>
    Number(tr.querySelector('[data-field="praise_comments"]').textContent.replace(/,/g, ''))));
  const personColumn = () => page.$$eval('#people tbody tr[data-person]', (trs) => trs.map((tr) => tr.dataset.person));
  await page.click('#people button[data-sort="praise_comments"]');
  const byPraise = await praiseColumn();
  const mostPraised = everyone.people.filter((p) => !p.suppressed).map((p) => p.praise_comments).sort((a, b) => b - a);
  check('the praise heading sorts the people, most praised first',
    byPraise.length === mostPraised.length && byPraise.every((n, i) => n === mostPraised[i]), byPraise.slice(0, 8).join(' '));
  check('the sort is in the URL and said to screen readers', new URL(page.url()).searchParams.get('sort') === 'praise_comments' &&
    await page.getAttribute('#people th:has(button[data-sort="praise_comments"])', 'aria-sort') === 'descending');
  await page.click('#people button[data-sort="praise_comments"]');
  const apiOrder = everyone.people.filter((p) => !p.suppressed).map((p) => p.person);
  check('the same heading again gives back the API\'s order', (await personColumn()).join() === apiOrder.join() &&
    !new URL(page.url()).searchParams.has('sort'));
  // The people as CSV, as the API gives them (those not shown named, without counts).
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('button[data-csv="people"]')]);
  // After UTF-8's byte-order mark, which every CSV starts with (for Excel).
  const csvLines = readFileSync(await download.path(), 'utf8').replace(/^\uFEFF/, '').trim().split('\r\n');
  check('the CSV is named for what it holds', /^surveyd_people_.*\d{4}-\d\d-\d\d_to_\d{4}-\d\d-\d\d\.csv$/
    .test(download.suggestedFilename()), download.suggestedFilename());
  check('the praise CSV has a row per person', csvLines[0].startsWith('person,role,team,suppressed,respondents') &&
    csvLines.length - 1 === everyone.people.length, `${csvLines.length - 1} rows, ${everyone.people.length} people`);
  // One team, as the team's weekly digest links to it.
  const praisedTeam = everyone.people.find((p) => !p.suppressed).team;
  await page.selectOption('#p-team', praisedTeam);
  await waitReady(page, () => page.click('#praise-filters button[type=submit]'));
  check('the team filter is in the URL', new URL(page.url()).searchParams.get('team') === praisedTeam);
  await comparePraise(`praise of ${praisedTeam}`, { team: praisedTeam });
  // By the days the answers were given, as each team's weekly digest links to it.
  await page.selectOption('#p-dates', 'answered');
  await waitReady(page, () => page.click('#praise-filters button[type=submit]'));
  check('the answers\' dates are in the URL', new URL(page.url()).searchParams.get('dates') === 'answered');
  await comparePraise(`praise of ${praisedTeam} by answer`, { team: praisedTeam, dates: 'answered' });

  // An analyst may not see alerts: no link, and the alerts URL shows the figures.
  const analystContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const analystPage = await analystContext.newPage();
  analystPage.on('pageerror', (e) => problems.push(String(e)));
  const denied = await fetch(`${args.url}/api/v1/alerts`, { headers: { Authorization: `Bearer ${args['analyst-token']}` } });
  check('the API refuses alerts to an analyst', denied.status === 403, String(denied.status));
  await analystPage.goto(`${args.url}/dashboard?from=${args.from}&to=${args.to}&view=alerts`);
  await waitReady(analystPage, async () => {
    await analystPage.fill('#token', args['analyst-token']);
    await analystPage.click('#signin button');
  });
  check('signed in as an analyst', (await analystPage.textContent('#who-role')).includes('analyst'));
  check('no alerts view for an analyst', !(await analystPage.isVisible('#to-alerts')) &&
    !(await analystPage.isVisible('#alerts-view')) && await analystPage.isVisible('#tiles'));
  check('no praise view for an analyst', !(await analystPage.isVisible('#to-praise')) &&
    !(await analystPage.isVisible('#praise-view')));
  // An alert's e-mail link followed with a token that cannot open alerts: said, not dropped.
  await waitReady(analystPage, () => analystPage.goto(`${args.url}/dashboard?view=alerts&alert=${alertId}`));
  const noAlertSaid = await analystPage.textContent('#message');
  check("an alert's link opened by an analyst says why it does not open",
    noAlertSaid.includes(`alert ${alertId}`) && noAlertSaid.includes('cannot open alerts'), noAlertSaid);
  // A supervisor's link by officer, opened by an analyst: the officer is taken out and that is
  // said, not dropped unseen (the force's figures would read as that officer's).
  await waitReady(analystPage, () => analystPage.goto(
    `${args.url}/dashboard?from=${args.from}&to=${args.to}&officer=PC1&breakdown=officer`));
  const notice = await analystPage.textContent('#message');
  check("a link by officer tells an analyst it is not narrowed", notice.includes('needs the supervisor role'), notice);
  check('... and the address names the officer no more', !analystPage.url().includes('officer'), analystPage.url());
  // A panel the service refuses says so in its place; the others are shown.
  await waitReady(analystPage, () => analystPage.goto(
    `${args.url}/dashboard?from=${args.from}&to=${args.to}&rep=no_such_dimension`));
  const repSaid = await analystPage.textContent('#representativeness');
  check('a refused panel says so in its place', repSaid.includes('Not shown: the service said'), repSaid);
  check('... and the others are shown', await analystPage.locator('#tiles [data-field="mean"]').count() > 0);
  // Nobody matching is said so, not "too few answers" (which says a few people are hidden).
  await waitReady(analystPage, () => analystPage.goto(
    `${args.url}/dashboard?from=${args.from}&to=${args.to}&language=zz`));
  const noneSaid = await analystPage.textContent('#tiles');
  check('nobody matching is said so', noneSaid.includes('No answers') && !noneSaid.includes('Too few'), noneSaid);
  await analystContext.close();

  // Safeguarding staff may not see the figures: they get the alerts alone.
  const safeContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const safePage = await safeContext.newPage();
  safePage.on('pageerror', (e) => problems.push(String(e)));
  // As from an alert's e-mail: the link opens that alert once signed in.
  await safePage.goto(`${args.url}/dashboard?view=alerts&alert=${alertId}`);
  await safePage.fill('#token', args['safeguarding-token']);
  await safePage.click('#signin button');
  await safePage.waitForSelector(row.replace('#alerts', '#alerts-view:not([hidden]) #alerts'), { timeout: 20000 });
  await safePage.waitForSelector('#alert-detail:not([hidden]) [data-fact="Status"]', { timeout: 20000 });
  check("an alert's link opens it", (await safePage.textContent('#alert-h')).startsWith(`Alert ${alertId}:`));
  check('signed in for alerts only', (await safePage.textContent('#who-role')).includes('alerts only'));
  check('no figures for safeguarding staff', !(await safePage.isVisible('#to-figures')) &&
    !(await safePage.isVisible('#tiles')));
  check('safeguarding staff see the resolved alert',
    await safePage.textContent(`${row} td:nth-child(4)`) === 'Resolved');
  // They alone may reveal the number to call back, saying why; the reveal is recorded.
  check('safeguarding staff are offered the reveal', await safePage.isVisible('#reveal'));
  await safePage.click('#reveal-go');
  check('a reveal needs a reason', (await safePage.textContent('#reveal-error')).includes('Say why'));
  await safePage.fill('#reveal-reason', 'calling back about the risk disclosed');
  await safePage.click('#reveal-go');
  await eventually(safePage, () => !document.querySelector('#reveal-result').hidden ||
    document.querySelector('#reveal-error').textContent.includes('no longer held'));
  const revealed = await safePage.$eval('#reveal-result', (r) =>
    (r.hidden ? '' : (r.querySelector('[data-revealed=phone]') || {}).textContent) || '');
  const erased = (await safePage.textContent('#reveal-error')).includes('no longer held');
  check('the number is revealed as a number to call, or said to be erased',
    /^\+\d{7,15}$/.test(revealed) || erased, revealed);
  if (revealed) {
    check('the reveal is in the alert\'s history',
      await eventually(safePage, () => Boolean(document.querySelector('#alert-history li[data-action=revealed]'))));
  }
  // The test's answers hold no number (they were loaded, not texted): what a reveal shows is
  // checked with the API's answer given by the browser, as the reveal's API test gives it.
  await safePage.route('**/reveal', (route) => route.fulfill({ status: 200,
    contentType: 'application/json', body: JSON.stringify({ phone: '+447700900123', comment: 'he is back\ncall me' }) }));
  await safePage.click('#reveal-go');
  check('a revealed number is a number to call', await eventually(safePage, () =>
    document.querySelector('#reveal-result [data-revealed=phone]')?.getAttribute('href') === 'tel:+447700900123'));
  check('the revealed words are shown as written',
    (await safePage.textContent('#reveal-result [data-revealed=comment]')) === 'he is back\ncall me');
  check('focus moves to what was revealed', await safePage.evaluate(() => document.activeElement.id) === 'reveal-result');
  await safePage.unroute('**/reveal');
  // Another alert forgets it.
  await safePage.click('#alert-close');
  const other = await safePage.$(`#alerts button[data-alert]:not([data-alert="${alertId}"])`);
  if (other) {
    await other.click();
    await eventually(safePage, (id) => !document.querySelector('#alert-h').textContent.startsWith(`Alert ${id}:`), alertId);
    check('a revealed number goes when another alert is opened',
      (await safePage.$$('#reveal-result [data-revealed]')).length === 0);
  }
  await safeContext.close();

  // On a healthy service, the link's alert is asked for before any of the filters' choices.
  const linkContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const linkPage = await linkContext.newPage();
  const asked = [];
  linkPage.on('request', (r) => asked.push(new URL(r.url()).pathname + new URL(r.url()).search));
  await linkPage.goto(`${args.url}/dashboard?view=alerts&alert=${alertId}`);
  await linkPage.fill('#token', args.token);
  await linkPage.click('#signin button');
  await eventually(linkPage, () => !document.querySelector('#alert-detail').hidden);
  const alertAsked = asked.findIndex((u) => u.startsWith(`/api/v1/alerts/${alertId}`));
  const choicesFirst = asked.slice(0, alertAsked < 0 ? asked.length : alertAsked)
    .filter((u) => u.startsWith('/api/v1/stats') && /group_by=(?!officer)/.test(u));
  check("an alert's link asks for the alert before the figures' filters", alertAsked >= 0 && choicesFirst.length === 0,
    `${choicesFirst.length} stats queries first`);
  await linkContext.close();


  // An alert's e-mail link followed by a supervisor in another time zone while the figures'
  // database (database.analytics_url) is down: the alert opens at once, the figures say they are
  // unavailable, and come when it is back. Times are on the force's clock, named.
  const downContext = await browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId: 'America/New_York' });
  const downPage = await downContext.newPage();
  downPage.on('pageerror', (e) => problems.push(String(e)));
  const statsAsked = [];
  await downPage.route('**/api/v1/stats**', (route) => {
    statsAsked.push(route.request().url());
    return route.fulfill({ status: 503, headers: { 'Retry-After': '1' }, contentType: 'application/json',
      body: JSON.stringify({ error: 'unavailable', message: 'the database is unavailable' }) });
  });
  await downPage.goto(`${args.url}/dashboard?view=alerts&alert=${alertId}`);
  await downPage.fill('#token', args.token);
  await downPage.click('#signin button');
  check("figures down: an alert's link opens the alert", await eventually(downPage, (id) =>
    !document.querySelector('#alert-detail').hidden && document.querySelector('#alert-h').textContent.startsWith(`Alert ${id}:`),
  alertId), await textOf(downPage, '#message'));
  check('figures down: the figures were asked once, not waited for', statsAsked.length === 1, statsAsked.join(' '));
  const raisedShown = await textOf(downPage, '#alert-facts [data-fact="Raised"]');
  check("an alert's times are on the force's clock, named, in a browser elsewhere",
    raisedShown.endsWith(londonClock(after.created_at)), `${raisedShown} vs ${londonClock(after.created_at)}`);
  await downPage.click('#to-figures');
  check('figures down: the Figures view says they are unavailable', await eventually(downPage, () =>
    !document.querySelector('#figures-problem').hidden &&
    document.querySelector('#figures-problem').textContent.includes('unavailable')), await textOf(downPage, '#figures-problem'));
  check('figures down: still signed in', !(await downPage.isVisible('#signin')));
  await downPage.unroute('**/api/v1/stats**');
  await waitReady(downPage, () => downPage.click('#to-figures'));
  check('figures back: shown when asked again', await downPage.locator('#tiles [data-field="mean"]').count() > 0 &&
    !(await downPage.isVisible('#figures-problem')));
  check('figures back: the supervisor is known as such', (await downPage.textContent('#who-role')).includes('supervisor') &&
    await downPage.isVisible('#f-officer'));
  await downContext.close();

  check('no console errors or CSP violations', problems.length === 0, problems.join(' | '));
  check('nothing loaded from elsewhere', elsewhere.length === 0, elsewhere.join(' '));
});
