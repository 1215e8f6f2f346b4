// The surveyd dashboard: plain JavaScript, charts drawn as inline SVG, every figure from the
// analysts' API of the daemon that serves this file (nothing is loaded from anywhere else).
// The token stays in this tab's sessionStorage; the filters live in the URL, so a view can be
// shared (without the token).
'use strict';

(() => {
  const SVG = 'http://www.w3.org/2000/svg';
  const FILTERS = ['survey_group', 'npu', 'team', 'officer', 'operator', 'department',
    'incident_type', 'language', 'gender', 'age_band', 'days_to_survey'];
  const SUPERVISOR_ONLY = ['officer', 'operator'];
  const LABELS = {
    survey_group: 'Survey group', npu: 'Area', beat: 'Beat', team: 'Team', officer: 'Officer',
    operator: 'Operator', department: 'Department', gender: 'Gender', age_band: 'Age band',
    ethnicity: 'Ethnicity', channel: 'Channel', category: 'Incident category', grade: 'Grade',
    incident_type: 'Incident type', language: 'Language', days_to_survey: 'Days to survey',
    day_of_week: 'Day of the week', hour: 'Hour of the day',
  };
  const BREAKDOWNS = ['npu', 'team', 'officer', 'operator', 'department', 'incident_type',
    'channel', 'category', 'grade', 'language', 'gender', 'age_band', 'ethnicity', 'days_to_survey',
    'day_of_week', 'hour', 'survey_group'];
  // Breakdowns with an order of their own: shown in it, never ranked by their figures.
  const ORDERED = ['age_band', 'days_to_survey', 'day_of_week', 'hour'];
  // The callers' languages as they name them.
  const LANGUAGES = { en: 'English', pl: 'Polski', cy: 'Cymraeg', ur: 'Urdu', pa: 'Punjabi',
    ro: 'Română', ar: 'Arabic', so: 'Somali', bn: 'Bengali', gu: 'Gujarati', lt: 'Lietuvių' };
  const WEEKDAYS = ['', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
  // The praise table's columns that sort it (its headings' data-sort).
  const PRAISE_SORTS = ['person', 'team', 'respondents', 'q1', 'q2', 'q3', 'q4', 'q5', 'all_top_scores',
    'praise_comments'];

  const $ = (id) => document.getElementById(id);
  const state = { token: null, supervisor: false, notice: '', questions: [], praiseQuestions: [], groupNames: new Map(), commentsNext: null,
    praise: [], people: [], figures: true, figuresProblem: '', alerts: false, figuresShown: false,
    optionsFilled: new Set(), alertsNext: null, alertId: null };

  // ---- talking to the API -------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  // At most two requests at a time: the daemon runs analysts' queries on a few threads of their
  // own and answers 503 "busy" past that; a busy answer is tried again after Retry-After.
  const MAX_IN_FLIGHT = 2;
  let inFlight = 0;
  const waiting = [];
  async function slot() {
    if (inFlight < MAX_IN_FLIGHT) { inFlight += 1; return; }
    await new Promise((resolve) => waiting.push(resolve));
  }
  function release() {
    const next = waiting.shift();
    if (next) next(); else inFlight -= 1;
  }
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function call(path, params, accept) {
    return request(path, { params, accept, retries: 5 });
  }

  // One request: GETs answered 503 "busy" are tried again (up to `retries` attempts); a POST is
  // sent once, so an action is never repeated behind the user's back.
  async function request(path, { params, accept, method, body, retries }) {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== undefined && v !== null && v !== '') query.append(k, v);
    }
    const url = path + (query.toString() ? '?' + query : '');
    const headers = { Authorization: 'Bearer ' + state.token, Accept: accept || 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    for (let attempt = 1; ; attempt += 1) {
      await slot();
      let response;
      try {
        response = await fetch(url, {
          method: method || 'GET', headers, cache: 'no-store',
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } finally {
        release();
      }
      if (response.status === 503 && attempt < (retries || 1)) {
        await sleep(1000 * Math.min(5, Number(response.headers.get('Retry-After')) || 1));
        continue;
      }
      if (!response.ok) {
        let message = response.statusText;
        try { message = (await response.json()).message || message; } catch (e) { /* not JSON */ }
        throw new ApiError(response.status, message);
      }
      // A CSV comes with the cursor of its next page, if any (the comments are paged).
      if (accept === 'text/csv') return { blob: await response.blob(), next: response.headers.get('X-Next-Cursor') };
      return response.json();
    }
  }

  // ---- the view's parameters, kept in the URL -----------------------------------------------

  function isoDay(date) {
    const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
    return local.toISOString().slice(0, 10);
  }

  function readView() {
    const url = new URLSearchParams(location.search);
    const today = new Date();
    const view = {
      from: url.get('from') || isoDay(new Date(today.getTime() - 29 * 86400000)),
      to: url.get('to') || isoDay(today),
      question: url.get('question') || 'q1',
      breakdown: url.get('breakdown') || 'npu',
      rep: url.get('rep') || 'age_band',
      q: url.get('q') || '',
      mode: ['alerts', 'praise'].includes(url.get('view')) ? url.get('view') : 'figures',
      alertStatus: url.get('status') || '',
      alertKind: url.get('kind') || '',
      alert: /^[0-9]+$/.test(url.get('alert') || '') ? Number(url.get('alert')) : null,
      person: url.get('person') || '',
      // The Praise view's dates are of the contacts, or (a digest's link) of the answers given.
      dates: url.get('dates') === 'answered' ? 'answered' : 'contact',
      sort: PRAISE_SORTS.includes(url.get('sort')) ? url.get('sort') : '',
      filters: {},
    };
    for (const f of FILTERS) if (url.get(f)) view.filters[f] = url.get(f);
    return view;
  }

  function writeView(view) {
    const url = new URLSearchParams();
    url.set('from', view.from);
    url.set('to', view.to);
    for (const [k, v] of Object.entries(view.filters)) if (v) url.set(k, v);
    if (view.question !== 'q1') url.set('question', view.question);
    if (view.breakdown !== 'npu') url.set('breakdown', view.breakdown);
    if (view.rep !== 'age_band') url.set('rep', view.rep);
    if (view.q) url.set('q', view.q);
    if (view.mode !== 'figures') url.set('view', view.mode);
    if (view.alertStatus) url.set('status', view.alertStatus);
    if (view.alertKind) url.set('kind', view.alertKind);
    if (view.mode === 'alerts' && view.alert) url.set('alert', view.alert);
    if (view.mode === 'praise' && view.person) url.set('person', view.person);
    if (view.mode === 'praise' && view.sort) url.set('sort', view.sort);
    if (view.mode === 'praise' && view.dates === 'answered') url.set('dates', view.dates);
    history.replaceState(null, '', location.pathname + '?' + url);
  }

  function filterParams(view) {
    const params = { from: view.from, to: view.to };
    for (const [k, v] of Object.entries(view.filters)) {
      if (v && (state.supervisor || !SUPERVISOR_ONLY.includes(k))) params[k] = v;
    }
    return params;
  }

  // The whole weeks (Monday to Sunday) within a period: a trend by week plots no part-week as a
  // week (a last week of one day is too small to show, and hiding it hides a neighbour too).
  function wholeWeeks(from, to) {
    const DAY = 86400000;
    const start = Date.parse(from); const end = Date.parse(to);
    const monday = start + ((8 - new Date(start).getUTCDay()) % 7) * DAY;
    const sunday = end - new Date(end).getUTCDay() * DAY;
    const day = (t) => new Date(t).toISOString().slice(0, 10);
    return { from: day(monday), to: day(sunday) };
  }

  // The requests behind each panel; the CSV buttons ask for the same with format=csv.
  function requests(view) {
    const filters = filterParams(view);
    const days = (Date.parse(view.to) - Date.parse(view.from)) / 86400000;
    return {
      tiles: ['/api/v1/stats', filters],
      trend: ['/api/v1/stats', days > 31 ? { ...filters, ...wholeWeeks(view.from, view.to), group_by: 'week' }
        : { ...filters, group_by: 'day' }],
      breakdown: ['/api/v1/stats', { ...filters, group_by: view.breakdown }],
      funnel: ['/api/v1/funnel', { from: view.from, to: view.to,
        survey_group: view.filters.survey_group }],
      representativeness: ['/api/v1/representativeness', { ...filters, dimension: view.rep }],
      comments: ['/api/v1/comments', { ...filters, q: view.q, limit: 20 }],
      // The Praise view's, by whole days in the force's time zone, as the other panels'.
      people: ['/api/v1/recognition', praiseParams(view)],
      praise: ['/api/v1/recognition', { ...praiseParams(view), table: 'praise' }],
    };
  }

  function praiseParams(view) {
    return { from: view.from, to: view.to, dates: view.dates === 'answered' ? 'answered' : undefined,
      team: view.filters.team, officer: view.person };
  }

  // ---- small helpers ------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') node.textContent = v; else if (v !== false && v !== null) node.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') node.textContent = v; else node.setAttribute(k, v);
    }
    for (const c of children) if (c) node.append(c);
    return node;
  }

  const number = (n) => (n === null || n === undefined ? '–' : n.toLocaleString('en-GB'));

  // The stored value of a dimension as a person reads it; the API and the CSV keep the value.
  function keyLabel(dimension, key) {
    if (key === null || key === undefined) {
      // Not a gap in the data: a call's survey has no attending officer, an officer's visit no
      // call handler.
      if (dimension === 'officer' || dimension === 'department') return 'None: a call, or not given';
      if (dimension === 'team' || dimension === 'operator') return 'None: a visit, or not given';
      return 'Not recorded';
    }
    if (dimension === 'language') return LANGUAGES[key] ? `${LANGUAGES[key]} (${key})` : key;
    if (dimension === 'day_of_week') return WEEKDAYS[Number(key)] || key;
    if (dimension === 'hour') return key + ':00';
    if (dimension === 'age_band' && key === 'under_18') return 'Under 18';
    if (dimension === 'survey_group') return groupName(key);
    if (dimension === 'channel') return channelLabel(key);
    return String(key);
  }

  const CHANNELS = { in_person: 'In person', live_chat: 'Live chat', online: 'Online' };
  const channelLabel = (channel) => CHANNELS[channel] || channel;
  const humanised = (id) => {
    const words = String(id).replace(/_/g, ' ');
    return words.charAt(0).toUpperCase() + words.slice(1);
  };

  // Why a contact was not surveyed, as the funnel's reasons say it: the rules' own exclusions by
  // their ids in words ("exclusion:domestic_abuse" is "Domestic abuse"), the built-in reasons as
  // an analyst would put them. The API and the CSV keep the reason as stored.
  const REASONS = {
    phone_landline: 'Landline number', phone_withheld: 'Number withheld', phone_invalid: 'Number not valid',
    phone_missing: 'No number', phone_unclear: 'Number unclear', phone_international: 'International number',
    phone_not_mobile: 'Not a mobile number', frequency_cap: 'Surveyed recently',
    under_minimum_age: 'Under the minimum age', consent_declined: 'Declined to be contacted',
    vulnerable: 'Flagged vulnerable', opted_out: 'Opted out', not_sampled: 'Not sampled',
  };
  function reasonLabel(reason) {
    if (reason === '(other)') return 'Other reasons';
    const [kind, ...rest] = String(reason).split(':');
    if (kind === 'exclusion' && rest.length) return humanised(rest.join(':'));
    if (kind === 'insufficient_data') return rest.length ? `Missing data (${rest.join(':').replace(/_/g, ' ')})` : 'Missing data';
    return REASONS[reason] || humanised(reason);
  }

  // A survey group by its name in the rules in force, as each /api/v1/stats answer gives them;
  // one no longer in the rules (or none) as it is.
  const groupName = (id) => state.groupNames.get(id) || id;
  function noteGroupNames(stats) {
    for (const g of stats.survey_groups || []) state.groupNames.set(g.id, g.name);
  }

  // Values in the order people expect them: ages and times ascending (the youngest band first,
  // though 'under_18' sorts after '75+' as text), others alphabetically; not recorded last.
  function keyOrder(dimension) {
    const rank = (key) => {
      if (dimension === 'age_band') return key === 'under_18' ? 0 : parseInt(key, 10);
      if (dimension === 'day_of_week' || dimension === 'hour' || dimension === 'days_to_survey') {
        return parseInt(key, 10);
      }
      return NaN;
    };
    return (a, b) => {
      const missingA = a === null || a === undefined;
      const missingB = b === null || b === undefined;
      if (missingA || missingB) return missingA - missingB;
      const ra = rank(a); const rb = rank(b);
      if (!Number.isNaN(ra) && !Number.isNaN(rb) && ra !== rb) return ra - rb;
      return String(a).localeCompare(String(b), 'en-GB');
    };
  }

  function questionText(key) {
    const q = state.questions.find((x) => x.key === key);
    return q && q.text ? q.text : key;
  }

  // A visually hidden table with the same figures as a chart, for screen readers.
  function dataTable(caption, head, rows) {
    // In a hidden box: a table hidden itself still widens the page on a phone.
    const table = el('table', {}, el('caption', { text: caption }));
    table.append(el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col', text: h })))));
    const body = el('tbody');
    for (const r of rows) body.append(el('tr', {}, ...r.map((c) => el('td', { text: c }))));
    table.append(body);
    return el('div', { class: 'sr-only' }, table);
  }

  // ---- panels -------------------------------------------------------------------------------

  // `nobody`: no survey matches at all (the ungrouped figures are one hidden cell either way; the
  // breakdown has no group), which is not "too few answers".
  function renderTiles(stats, nobody) {
    const list = $('tiles');
    list.replaceChildren();
    state.questions = stats.questions;
    for (const node of document.querySelectorAll('.min-cell')) node.textContent = stats.min_cell_size;
    if (stats.min_cell_size <= 1) {
      $('min-cell-note').textContent = 'Every group is shown (the minimum is set to 1): a group with few ' +
        'respondents may be told apart by those who know the contacts.';
    }
    // Said where the figures are read: noise keeps two overlapping selections from being
    // subtracted, and makes totals differ a little from the sum of their parts.
    const d = stats.disclosure || {};
    $('noise-note').textContent = d.noise ? ` Counts are within ${d.count_within} of the true ones, and a mean ` +
      `within ${d.score_sum_within + 0.5} divided by its respondents, its interval widened to hold the true mean ` +
      '(the same however asked), so that overlapping selections cannot be subtracted to show a few people\'s ' +
      'answers: totals need not add up exactly.' : '';
    const cell = stats.cells[0] || { suppressed: true, questions: {} };
    const tile = (attrs, title, ...lines) =>
      list.append(el('li', { class: 'tile', ...attrs }, el('h3', { text: title }), ...lines));
    for (const q of stats.questions) {
      const f = (cell.questions || {})[q.key] || { suppressed: true };
      if (nobody) {
        tile({ 'data-question': q.key }, q.text || q.key,
          el('p', { class: 'big muted', text: 'No answers' }),
          el('p', { class: 'small', text: 'no surveys match these filters in this period' }));
        continue;
      }
      if (f.suppressed) {
        tile({ 'data-question': q.key }, q.text || q.key,
          el('p', { class: 'big muted', text: 'Too few answers' }),
          el('p', { class: 'small', text: `fewer than ${stats.min_cell_size} respondents` }));
        continue;
      }
      tile({ 'data-question': q.key }, q.text || q.key,
        el('p', { class: 'big' }, el('span', { 'data-field': 'mean', text: String(f.mean) }),
          el('span', { class: 'unit', text: ' / 10' })),
        el('p', { class: 'small' }, 'average, 95% interval ',
          el('span', { class: 'ci', 'data-field': 'mean_ci95', text: `${f.mean_ci95[0]}–${f.mean_ci95[1]}` })),
        el('p', {}, el('span', { 'data-field': 'pct_8_10', class: 'strong', text: String(f.pct_8_10) }),
          '% scored 8–10 ',
          el('span', { class: 'ci', text: `(${f.pct_8_10_ci95[0]}–${f.pct_8_10_ci95[1]}%)` })),
        el('p', { class: 'small' }, el('span', { 'data-field': 'respondents', text: number(f.respondents) }),
          ' respondents'));
    }
    if (cell.suppressed) {
      const none = nobody ? 'None' : 'Too few';
      tile({ 'data-tile': 'answered' }, 'Surveys answered',
        el('p', { class: 'big muted', text: none }));
      tile({ 'data-tile': 'response_rate' }, 'Response rate',
        el('p', { class: 'big muted', text: none }));
    } else {
      tile({ 'data-tile': 'answered' }, 'Surveys answered',
        el('p', { class: 'big' }, el('span', { 'data-field': 'answered', text: number(cell.answered) })),
        el('p', { class: 'small', text: `of ${number(cell.reached)} texts that reached someone`,
          title: 'Delivered, or taken by the gateway where it reports no delivery either way (or answered, ' +
            'whatever the gateway said): what the response rate divides by. A survey counts as answered ' +
            'with one question answered: every question is optional' }));
      tile({ 'data-tile': 'response_rate' }, 'Response rate',
        el('p', { class: 'big' },
          el('span', { 'data-field': 'response_rate_pct', text: String(cell.response_rate_pct) }),
          el('span', { class: 'unit', text: '%' })),
        el('p', { class: 'ci', text: cell.response_rate_ci95 ?
          `(${cell.response_rate_ci95[0]}–${cell.response_rate_ci95[1]}%)` : '' }));
    }
    list.setAttribute('aria-busy', 'false');

    const select = $('trend-question');
    const chosen = select.value || readView().question;
    select.replaceChildren(...stats.questions.map((q) =>
      el('option', { value: q.key, text: q.text || q.key })));
    if (stats.questions.some((q) => q.key === chosen)) select.value = chosen;
  }

  // Days and weeks on a time axis over the period chosen: a day or a week without answers is a
  // gap, not a neighbour, so a thin series does not read as a steady one.
  function renderTrend(stats, question) {
    const box = $('trend');
    box.replaceChildren();
    const dimension = stats.group_by[0];
    const DAY = 86400000;
    const period = dimension === 'week' ? 7 * DAY : DAY;
    const points = stats.cells.map((c) => ({ key: c[dimension], t: Date.parse(c[dimension]),
      f: (c.questions || {})[question] || { suppressed: true } }));
    if (!points.length) { box.append(el('p', { class: 'muted', text: 'No surveys match these filters in this period.' })); return; }
    const view = readView();
    const span = dimension === 'week' ? wholeWeeks(view.from, view.to) : view;
    const t0 = Math.min(points[0].t, Date.parse(span.from));
    const t1 = Math.max(points[points.length - 1].t, Date.parse(span.to) - (period - DAY));
    const W = 640; const H = 240; const left = 40; const bottom = 28; const top = 10;
    const x = (t) => left + 6 + (t1 === t0 ? (W - left - 16) / 2 : ((t - t0) * (W - left - 16)) / (t1 - t0));
    const y = (pct) => top + (H - top - bottom) * (1 - pct / 100);
    const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'svg',
      'aria-label': `Percentage scoring 8 to 10 by ${dimension}: ${questionText(question)}` });
    for (const pct of [0, 25, 50, 75, 100]) {
      chart.append(svg('line', { x1: left, x2: W, y1: y(pct), y2: y(pct), class: 'grid' }));
      chart.append(svg('text', { x: left - 6, y: y(pct) + 4, class: 'axis', 'text-anchor': 'end', text: pct + '%' }));
    }
    // The line joins neighbouring periods only: a suppressed or missing one breaks it.
    let d = '';
    let last = null;
    for (const p of points) {
      if (p.f.suppressed) { last = null; continue; }
      d += (last !== null && p.t - last <= period * 1.5 ? ' L' : ' M') + x(p.t) + ',' + y(p.f.pct_8_10);
      last = p.t;
    }
    if (d) chart.append(svg('path', { d: d.trim(), class: 'line' }));
    // Up to eight dates along the axis, whole periods apart.
    const steps = Math.round((t1 - t0) / period);
    const every = Math.max(1, Math.ceil((steps + 1) / 8));
    for (let i = 0; i <= steps; i += every) {
      const t = t0 + i * period;
      chart.append(svg('text', { x: x(t), y: H - 8, class: 'axis', 'text-anchor': 'middle',
        text: new Date(t).toISOString().slice(5, 10) }));
    }
    for (const p of points) {
      if (p.f.suppressed) {
        chart.append(svg('rect', { x: x(p.t) - 3, y: y(0) - 6, width: 6, height: 6, class: 'suppressed' },
          svg('title', { text: `${p.key}: not shown (too few respondents, here or beside it)` })));
      } else {
        chart.append(svg('line', { x1: x(p.t), x2: x(p.t), y1: y(p.f.pct_8_10_ci95[0]), y2: y(p.f.pct_8_10_ci95[1]), class: 'whisker' }));
        chart.append(svg('circle', { cx: x(p.t), cy: y(p.f.pct_8_10), r: 3.5, class: 'dot', 'data-key': p.key },
          svg('title', { text: `${p.key}: ${p.f.pct_8_10}% (${p.f.respondents} respondents)` })));
      }
    }
    const weeks = dimension === 'week'
      ? el('p', { class: 'muted', text: `By whole weeks, Monday to Sunday: ${span.from} to ${span.to}.` }) : null;
    box.append(chart, ...(weeks ? [weeks] : []), dataTable(`% scoring 8–10 by ${dimension}`, [dimension, '% scoring 8–10', 'respondents'],
      points.map((p) => [String(p.key), p.f.suppressed ? 'suppressed' : String(p.f.pct_8_10),
        p.f.suppressed ? '' : String(p.f.respondents)])));
  }

  function renderBreakdown(stats, dimension, question) {
    const box = $('breakdown');
    box.replaceChildren();
    const rows = stats.cells.map((c) => ({ key: c[dimension], cell: c, f: (c.questions || {})[question] || { suppressed: true } }));
    if (!rows.length) { box.append(el('p', { class: 'muted', text: 'No surveys match these filters in this period.' })); return; }
    // In their own order, or by name: never ranked by the figure, which would set a small group's
    // chance high or low above a large one's (the intervals say how far each can be trusted).
    const byKey = keyOrder(dimension);
    rows.sort((a, b) => (ORDERED.includes(dimension) ? 0 : a.f.suppressed - b.f.suppressed) ||
      byKey(a.key, b.key));
    // Many groups too small to show (incident types): one line for them all, not a bar each.
    const hidden = rows.filter((r) => r.f.suppressed);
    const drawn = !ORDERED.includes(dimension) && hidden.length > 5 ? rows.filter((r) => !r.f.suppressed) : rows;
    const rowH = 26; const labelW = 170; const W = 640; const H = drawn.length * rowH + 20;
    const valueW = 120;  // "63.1% (n=149)"
    const scale = (pct) => labelW + ((W - labelW - valueW) * pct) / 100;
    const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'svg',
      'aria-label': `Percentage scoring 8 to 10 by ${LABELS[dimension] || dimension}: ${questionText(question)}` });
    drawn.forEach((r, i) => {
      const top = i * rowH + 4;
      const name = keyLabel(dimension, r.key);
      chart.append(svg('text', { x: labelW - 8, y: top + 16, class: 'label', 'text-anchor': 'end',
        text: name.length > 27 ? name.slice(0, 26) + '…' : name }, svg('title', { text: name })));
      if (r.f.suppressed) {
        chart.append(svg('rect', { x: labelW, y: top + 4, width: W - labelW - valueW, height: rowH - 10, class: 'suppressed-bar' }));
        chart.append(svg('text', { x: labelW + 8, y: top + 16, class: 'label muted-text',
          text: 'not shown: too few respondents, here or beside it' }));
        return;
      }
      chart.append(svg('rect', { x: labelW, y: top + 4, width: Math.max(1, scale(r.f.pct_8_10) - labelW),
        height: rowH - 10, class: 'bar' }, svg('title', { text: `${name}: ${r.f.pct_8_10}% (${r.f.respondents} respondents)` })));
      // The interval on a white halo: seen on the bar and beside it alike.
      for (const cls of ['whisker-halo', 'whisker']) {
        chart.append(svg('line', { x1: scale(r.f.pct_8_10_ci95[0]), x2: scale(r.f.pct_8_10_ci95[1]),
          y1: top + rowH / 2, y2: top + rowH / 2, class: cls }));
      }
      chart.append(svg('text', { x: W - valueW + 8, y: top + 16, class: 'label',
        text: `${r.f.pct_8_10}% (n=${number(r.f.respondents)})` }));
    });
    const folded = drawn.length < rows.length
      ? el('p', { class: 'muted', text: `${number(hidden.length)} more not shown: too few respondents, ` +
        'here or beside them (in the table for screen readers and the CSV, as suppressed).' }) : null;
    box.append(chart, ...(folded ? [folded] : []), dataTable(`% scoring 8–10 by ${LABELS[dimension] || dimension}`,
      [LABELS[dimension] || dimension, '% scoring 8–10', '95% interval', 'respondents'],
      rows.map((r) => [keyLabel(dimension, r.key), r.f.suppressed ? 'suppressed' : String(r.f.pct_8_10),
        r.f.suppressed ? '' : `${r.f.pct_8_10_ci95[0]}–${r.f.pct_8_10_ci95[1]}`,
        r.f.suppressed ? '' : String(r.f.respondents)])));
  }

  function renderFunnel(funnel) {
    const box = $('funnel');
    box.replaceChildren();
    const t = funnel.total;
    const stages = [['Contacts received', t.received], ['Surveys queued', t.surveys],
      ['Texts sent', t.sent], ['Delivered', t.delivered], ['Opened', t.opened], ['Answered', t.answered]];
    const max = Math.max(1, ...stages.map((s) => s[1]));
    const W = 640; const rowH = 30; const labelW = 150;
    const chart = svg('svg', { viewBox: `0 0 ${W} ${stages.length * rowH + 6}`, role: 'img', class: 'svg',
      'aria-label': 'Funnel: ' + stages.map((s) => `${s[0]} ${s[1]}`).join(', ') });
    stages.forEach(([name, value], i) => {
      const top = i * rowH + 3;
      chart.append(svg('text', { x: labelW - 8, y: top + 19, class: 'label', 'text-anchor': 'end', text: name }));
      chart.append(svg('rect', { x: labelW, y: top + 4, width: Math.max(1, ((W - labelW - 80) * value) / max),
        height: rowH - 8, class: 'bar' }));
      chart.append(svg('text', { x: W - 72, y: top + 19, class: 'label', 'data-stage': name, text: number(value) }));
    });
    box.append(chart);
    const side = [['Excluded by a rule', t.excluded], ['No survey group', t.ignored],
      ['Cancelled before sending', t.cancelled], ['Held by quiet hours', t.deferred],
      ['Failed', t.failed], ['Expired unanswered', t.expired], ['Opted out', t.opted_out]];
    box.append(el('ul', { class: 'facts' }, ...side.map(([k, v]) =>
      el('li', {}, el('span', { text: k + ': ' }), el('strong', { text: number(v) })))));
    // Reasons hidden as small (null) come last; those too rare to name are "(other)".
    const rules = Object.entries(t.excluded_by_rule || {})
      .sort((a, b) => (a[1] === null) - (b[1] === null) || b[1] - a[1]).slice(0, 6);
    if (rules.length) {
      box.append(el('p', { class: 'small', text: 'Most common exclusions: ' +
        rules.map(([r, n]) => `${reasonLabel(r)} (${number(n)})`).join(', ') }));
    }
    const d = funnel.disclosure || {};
    if (d.reasons === 'suppressed') {
      // The noise keeps two funnels a day apart from telling what a contact that day concerned,
      // and makes the reasons add up to the excluded count only nearly.
      const noise = d.noise ? ` The reasons' counts are within ${d.count_within} of the true ones (the same ` +
        'however asked), so that two funnels a day apart cannot be subtracted to tell what a contact concerned.' : '';
      const hidden = d.min_cell_size <= 1 ? 'Every reason is counted (the minimum is set to 1).'
        : `A reason for fewer than ${d.min_cell_size} contacts is not counted here (–), nor one beside it that ` +
          `the totals would give it away by; reasons for fewer than ${d.min_cell_size} in all are counted ` +
          'together as other reasons.';
      box.append(el('p', { class: 'small muted', id: 'funnel-note', text: hidden + noise }));
    }
  }

  function renderRepresentativeness(rep) {
    const box = $('representativeness');
    box.replaceChildren();
    if (!rep.values.length) { box.append(el('p', { class: 'muted', text: 'No surveys match these filters in this period.' })); return; }
    const W = 640; const rowH = 34; const labelW = 120; const H = rep.values.length * rowH + 30;
    const max = Math.max(1, ...rep.values.map((v) => Math.max(v.share_surveyed_pct || 0, v.share_respondents_pct || 0)));
    const scale = (pct) => ((W - labelW - 110) * pct) / max;
    const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'svg',
      'aria-label': `Share of surveyed contacts and of respondents by ${LABELS[rep.dimension]}` });
    chart.append(svg('rect', { x: labelW, y: 4, width: 12, height: 10, class: 'asked' }));
    chart.append(svg('text', { x: labelW + 18, y: 13, class: 'axis', text: 'asked' }));
    chart.append(svg('rect', { x: labelW + 70, y: 4, width: 12, height: 10, class: 'bar' }));
    chart.append(svg('text', { x: labelW + 88, y: 13, class: 'axis', text: 'answered' }));
    const order = keyOrder(rep.dimension);
    const values = [...rep.values].sort((a, b) => order(a.value, b.value));
    const name = (v) => keyLabel(rep.dimension, v.value);
    values.forEach((v, i) => {
      const top = 24 + i * rowH;
      chart.append(svg('text', { x: labelW - 8, y: top + 18, class: 'label', 'text-anchor': 'end', text: name(v) }));
      const asked = v.share_surveyed_pct === null ? 'too few asked to show' : `${v.share_surveyed_pct}% of those asked`;
      chart.append(svg('rect', { x: labelW, y: top + 2, width: Math.max(1, scale(v.share_surveyed_pct || 0)), height: 12, class: 'asked' },
        svg('title', { text: `${name(v)}: ${asked}` })));
      if (v.suppressed) {
        chart.append(svg('text', { x: labelW + 4, y: top + 28, class: 'axis muted-text', text: 'too few answers to show' }));
      } else {
        chart.append(svg('rect', { x: labelW, y: top + 16, width: Math.max(1, scale(v.share_respondents_pct)), height: 12, class: 'bar' },
          svg('title', { text: `${name(v)}: ${v.share_respondents_pct}% of those who answered` })));
        // Fewer or more than asked only where the share answering's interval leaves out the share
        // asked: a small group's ratio swings by chance, and red alone would say otherwise.
        const ci = v.share_respondents_ci95;
        const asked = v.share_surveyed_pct;
        const side = !ci || asked === null ? '' : ci[1] < asked ? ' fewer' : ci[0] > asked ? ' more' : '';
        chart.append(svg('text', { x: W - 104, y: top + 18, class: 'label' + (side === ' fewer' ? ' warn' : ''),
          text: v.representation === null ? '' : `×${v.representation}${side}` },
        svg('title', { text: `${name(v)}: ${v.share_respondents_pct}% of answers (${number(v.respondents)}; ` +
          `${ci ? ci[0] + '–' + ci[1] : '?'}%) against ${asked === null ? '?' : asked}% of those asked` })));
      }
    });
    const key = el('p', { class: 'muted', text: '×: the share of those who answered over the share ' +
      'of those asked (×1: answering as often as asked). "fewer" or "more" only where the 95% interval ' +
      'of the share answering leaves out the share asked.' });
    // The API gives shares of the counts it shows (a hidden one is not the total less the others).
    const note = values.some((v) => v.suppressed || v.share_surveyed_pct === null)
      ? el('p', { class: 'muted', text: 'Shares are of the groups shown: those too small to show ' +
        'are left out of both, so that their counts cannot be worked out.' })
      : null;
    box.append(chart, key, ...(note ? [note] : []), dataTable(`Who answers, by ${LABELS[rep.dimension]}`,
      [LABELS[rep.dimension], '% of those asked', '% of those who answered', '95% interval',
        'respondents', 'ratio'],
      values.map((v) => [name(v), v.share_surveyed_pct === null ? 'suppressed' : String(v.share_surveyed_pct),
        v.suppressed ? 'suppressed' : String(v.share_respondents_pct),
        v.suppressed || !v.share_respondents_ci95 ? '' : v.share_respondents_ci95.join('–'),
        v.suppressed ? '' : String(v.respondents),
        v.suppressed ? '' : String(v.representation)])));
  }

  function renderComments(page, append) {
    const list = $('comments');
    if (!append) list.replaceChildren();
    for (const c of page.comments) {
      const meta = [c.contact_day, groupName(c.survey_group), c.npu].filter(Boolean).join(' · ');
      list.append(el('li', {}, el('p', { class: 'comment', text: c.comment }),
        el('p', { class: 'meta', text: meta })));
    }
    if (!append && !page.comments.length) list.append(el('li', { class: 'muted', text: 'No comments.' }));
    state.commentsNext = page.next;
    $('more').hidden = !page.next;
  }


  // ---- alerts -------------------------------------------------------------------------------
  // The queue of alerts raised by answers, for supervisors and safeguarding staff. The list shows
  // what raised each (rule ids, the lexicon's own words or the scores); one alert also shows the
  // contact's context and the answer as the API gives it to them, its comment and texts with the
  // numbers and addresses the citizen typed masked: whoever acts must read what was said (the
  // e-mail sends them here to). The number to call back is shown only to a safeguarding token,
  // which alone may reveal it, when asked with a reason (the API's audited reveal: recorded in the
  // alert's history), and is forgotten when another alert is opened or the token signs out.

  const KINDS = { safeguarding: 'Safeguarding', complaint: 'Complaint', low_scores: 'Low scores' };
  const STATUSES = { open: 'Open', acknowledged: 'Acknowledged', resolved: 'Resolved' };
  const ACTIONS = { created: 'Raised', acknowledged: 'Acknowledged', resolved: 'Resolved',
    revealed: 'Number revealed', reopened: 'Reopened' };

  // Times on the force's clock, named (GMT or BST), as its e-mails give them: an inspector's
  // laptop on another zone, or a browser set to UTC, reads the same time as the e-mail.
  const ZONE = 'Europe/London';
  function when(iso) {
    if (!iso) return '–';
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return iso;
    return date.toLocaleString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit',
      minute: '2-digit', timeZone: ZONE, timeZoneName: 'short' });
  }
  // The time of day alone ("14:05 BST").
  const clock = (date) => date.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', timeZone: ZONE,
    timeZoneName: 'short' });

  const time = (iso) => el('time', { datetime: iso || false, text: when(iso) });
  const badge = (value, text) => el('span', { class: 'badge ' + value, text: text || value });
  const list = (values) => (values && values.length ? values.join(', ') : '–');

  // An alert's survey group by the name the alerts API gives (the rules in force), else as the
  // figures named it, else its id.
  const contextGroup = (c) => c.group_name || groupName(c.group);

  function contextText(c) {
    if (!c) return '–';
    const team = c.handler_team ? `team ${c.handler_team}` : null;
    return [contextGroup(c), c.npu, team, c.department].filter(Boolean).join(' · ') || '–';
  }

  // What the alerts API's answers mean to the person at the screen.
  function alertProblem(e) {
    if (!(e instanceof ApiError)) return 'The service could not be reached. Try again in a moment.';
    switch (e.status) {
      case 401: return null;  // handled by signing out
      case 403: return 'This token may not see or act on alerts (it needs the supervisor or safeguarding role).';
      case 404: return 'That alert does not exist (any more).';
      case 409: return 'That alert is already resolved: nothing was changed.';
      case 503: return `Alerts are not available at the moment: ${e.message} (503). Try again later.`;
      default: return `The service said: ${e.message} (${e.status}).`;
    }
  }

  // An action's failure is said in `box` (focused), with what the alert as read again (`alert`)
  // says now, and whether the note typed was saved (`note`: it was not, and is still there).
  function alertFailed(e, box, alert, note) {
    let text = alertProblem(e);
    if (text === null) { handleError(e); return; }
    if (alert && alert.status === 'resolved' && e instanceof ApiError && e.status === 409) {
      text = `Alert ${alert.id} was already resolved${alert.status_by ? ' by ' + alert.status_by : ''}` +
        `${alert.status_at ? ' at ' + when(alert.status_at) : ''}: nothing was changed.`;
    }
    if (note) text += ' Your note was not saved: it is still in the box.';
    if (box) {
      box.textContent = text;
      box.hidden = false;
      box.focus();
    } else {
      showMessage(text);
    }
    document.body.dataset.state = 'error';
  }

  // The list in the API's order: most recently raised or reopened first, so that an alert the
  // citizen reopened comes back to the top, marked so. Returns the first row added.
  function renderAlertRows(page, append) {
    const body = $('alerts').tBodies[0];
    // Read again under someone tabbing through the list: focus stays on the alert it was on.
    const focused = body.contains(document.activeElement) ? document.activeElement.dataset.alert : undefined;
    if (!append) body.replaceChildren();
    let first = null;
    for (const a of page.alerts) {
      if (append && body.querySelector(`tr[data-alert-row="${a.id}"]`)) continue;
      const open = el('button', { type: 'button', class: 'secondary', 'data-alert': a.id,
        text: `Alert ${a.id}` });
      open.addEventListener('click', () => openAlert(a.id));
      const row = el('tr', { 'data-alert-row': a.id, 'data-status': a.status },
        el('td', {}, open), el('td', { text: KINDS[a.kind] || a.kind }),
        el('td', {}, badge(a.severity)), el('td', {}, badge(a.status, STATUSES[a.status])),
        el('td', {}, time(a.created_at), a.reopened_at ? el('span', { class: 'reopened' }, badge('reopened', 'Reopened'),
          ' ', time(a.reopened_at)) : null), el('td', { text: contextText(a.context) }),
        el('td', {}, el('span', { text: list(a.rules) }),
          el('span', { class: 'small', text: a.matched && a.matched.length ? ` (${list(a.matched)})` : '' })));
      if (a.id === state.alertId) row.classList.add('current');
      body.append(row);
      first = first || row;
    }
    if (!append && !page.alerts.length) {
      body.append(el('tr', {}, el('td', { colspan: 7, class: 'muted', text: 'No alerts.' })));
    }
    state.alertsNext = page.next_before || null;
    $('alerts-more').hidden = !state.alertsNext;
    const again = focused && body.querySelector(`button[data-alert="${focused}"]`);
    if (again) again.focus();
    return first;
  }

  // The first page (as many rows as are shown, when read again: older pages stay), or the next
  // (`append`: focus goes to its first row, the button pressed being gone or further down).
  // `quiet`: a refresh, which says when it was read and leaves the page's message alone.
  async function loadAlerts(append, quiet) {
    const view = readView();
    const shown = $('alerts').querySelectorAll('tr[data-alert-row]').length;
    const params = { status: view.alertStatus, kind: view.alertKind,
      limit: append ? 50 : Math.min(500, Math.max(50, shown)),
      before: append ? state.alertsNext : undefined };
    try {
      const first = renderAlertRows(await request('/api/v1/alerts', { params }), append);
      $('alerts-updated').textContent = `Updated ${clock(new Date())}.`;
      if (append && first) first.querySelector('button').focus();
      if (!quiet) showMessage('');
      document.body.dataset.state = 'ready';
    } catch (e) {
      if (quiet && !(e instanceof ApiError && e.status === 401)) {
        $('alerts-updated').textContent = `Not updated at ${clock(new Date())}: ${alertProblem(e)}`;
        return;
      }
      alertFailed(e);
    }
  }

  // The queue changes while it is on the screen (new alerts, reopened ones, others' actions): it
  // is read again every minute while the tab is seen, and when the tab is seen again; so is the
  // alert open, its note left as typed. Not while an action is being sent.
  const REFRESH_MS = 60000;
  async function refreshAlerts() {
    if (!state.token || !state.alerts || $('alerts-view').hidden || document.hidden || state.acting) return;
    await loadAlerts(false, true);
    const id = state.alertId;
    if (id === null || $('alert-detail').hidden || state.acting) return;
    try {
      const alert = await request(`/api/v1/alerts/${encodeURIComponent(id)}`, {});
      if (state.alertId === id && !state.acting) renderAlert(alert);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) handleError(e);
    }
  }

  function renderAlert(a) {
    state.alertId = a.id;
    $('alert-h').textContent = `Alert ${a.id}: ${KINDS[a.kind] || a.kind}`;
    const c = a.context || {};
    const pairs = [
      ['Status', STATUSES[a.status] || a.status], ['Severity', a.severity],
      ['Raised', when(a.created_at)], ...(a.reopened_at ? [['Reopened', when(a.reopened_at)]] : []),
      ['Rules', list(a.rules)], ['What matched', list(a.matched)],
      ['Survey group', contextGroup(c)], ['Contact', when(c.contact_at)], ['Channel', c.channel && channelLabel(c.channel)],
      ['Incident', [c.incident_id, c.incident_category, c.incident_grade].filter(Boolean).join(', ')],
      ['Area', [c.npu, c.beat].filter(Boolean).join(' / ')], ['Team', c.handler_team],
      ['Officer', c.officer_id], ['Department', c.department], ['Language', c.language],
      ['Notices sent', String(a.notices_sent)],
    ];
    if (a.status_at) {
      pairs.push(['Last change', `${when(a.status_at)}${a.status_by ? ' by ' + a.status_by : ''}`]);
    }
    const facts = $('alert-facts');
    facts.replaceChildren();
    for (const [k, v] of pairs) {
      facts.append(el('dt', { text: k }), el('dd', { 'data-fact': k, text: v || '–' }));
    }
    // The answer: each score given, then what they wrote (the comment and any texts after it).
    const answer = a.answer || {};
    const scores = $('alert-scores');
    scores.replaceChildren();
    for (const q of TOP_QUESTIONS) {
      if (answer[q] === null || answer[q] === undefined) continue;
      scores.append(el('dt', { text: alertQuestionLabel(q) }),
        el('dd', { 'data-score': q, text: `${answer[q]} out of 10` }));
    }
    if (!scores.children.length) scores.append(el('dt', { text: 'Scores' }), el('dd', { text: 'none given' }));
    $('alert-comment').textContent = answer.comment ? answer.comment : 'They wrote nothing.';
    // Safeguarding staff (alerts, no figures) may reveal the number; nobody else may.
    const mayReveal = state.alerts && !state.figures;
    $('reveal').hidden = !mayReveal;
    if (state.revealedFor !== a.id) forgetReveal();
    $('alert-history').replaceChildren(...(a.history || []).map((h) => el('li', { 'data-action': h.action },
      time(h.at), ` ${ACTIONS[h.action] || h.action}`,
      h.by ? ` by ${h.by}${h.role ? ' (' + h.role + ')' : ''}` : '',
      h.note ? el('span', { class: 'small', text: ` – “${h.note}”` }) : '')));
    state.alertStatus = a.status;
    renderAlertButtons();
    for (const row of $('alerts').querySelectorAll('tr[data-alert-row]')) {
      row.classList.toggle('current', Number(row.dataset.alertRow) === a.id);
    }
  }

  // A number revealed is shown for its alert only, and goes when another is opened.
  function forgetReveal() {
    state.revealedFor = null;
    $('reveal-result').replaceChildren();
    $('reveal-result').hidden = true;
    $('reveal-error').hidden = true;
    $('reveal-reason').value = '';
  }

  async function reveal() {
    const box = $('reveal-error');
    box.hidden = true;
    const reason = $('reveal-reason').value.trim();
    if (!reason) {
      box.textContent = 'Say why you need the number: it is recorded with the reveal.';
      box.hidden = false;
      $('reveal-reason').focus();
      return;
    }
    const id = state.alertId;
    $('reveal-go').disabled = true;
    try {
      const shown = await request(`/api/v1/alerts/${encodeURIComponent(id)}/reveal`,
        { method: 'POST', body: { reason } });
      if (state.alertId !== id) return;
      const result = $('reveal-result');
      result.replaceChildren(
        el('dt', { text: 'Number' }),
        el('dd', {}, el('a', { href: `tel:${shown.phone}`, 'data-revealed': 'phone', text: shown.phone })),
        el('dt', { text: 'What they wrote, as written' }),
        el('dd', { class: 'said', 'data-revealed': 'comment', text: shown.comment || 'They wrote nothing.' }));
      result.hidden = false;
      state.revealedFor = id;
      result.focus();
      // The reveal is in the history now.
      const alert = await request(`/api/v1/alerts/${encodeURIComponent(id)}`, {});
      if (state.alertId === id) renderAlert(alert);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        signOut('That token was not accepted: the number was not revealed. Check the token and sign in again.');
        return;
      }
      box.textContent = e instanceof ApiError && e.status === 410
        ? 'The number is no longer held: it was erased once the survey was over, as the retention rules say.'
        : e instanceof ApiError && e.status === 403
          ? 'Only the safeguarding role may reveal a number.'
          : `The number was not revealed: ${e.message}.`;
      box.hidden = false;
      box.focus();
    } finally {
      $('reveal-go').disabled = false;
    }
  }

  // The actions the alert's status allows; none while one is being sent.
  function renderAlertButtons() {
    const status = state.alertStatus;
    $('alert-ack').disabled = state.acting || status !== 'open';
    $('alert-resolve').disabled = state.acting || status === 'resolved';
    // A resolved alert takes no note, but one typed and not saved stays where it can be copied.
    $('alert-note').disabled = status === 'resolved' && !$('alert-note').value;
  }

  async function openAlert(id) {
    $('alert-error').hidden = true;
    $('alert-done').textContent = '';
    // A note typed for this alert before the token was refused comes back (state.unsaved).
    const kept = state.unsaved && state.unsaved.id === id ? state.unsaved : null;
    $('alert-note').value = kept ? kept.note : '';
    try {
      renderAlert(await request(`/api/v1/alerts/${encodeURIComponent(id)}`, {}));
      const view = readView();
      view.alert = id;
      writeView(view);
      $('alert-detail').hidden = false;
      $('alert-h').focus();
      if (kept) {
        state.unsaved = null;
        $('alert-done').textContent = `Your note is back in the box: it was not saved, and alert ${id} was not ${kept.done}.`;
      }
      document.body.dataset.state = 'ready';
    } catch (e) {
      alertFailed(e);
    }
  }

  // Acknowledge or resolve the alert shown, once: both buttons are disabled from the press until
  // the answer (a double tap is one action), and the POST is never repeated. Whatever the
  // answer, the alert and the list are read again, so that the page shows what is now true (who
  // resolved it first, and why); a note not saved stays in the box, and that is said.
  async function actOnAlert(action) {
    if (state.acting) return;
    const box = $('alert-error');
    box.hidden = true;
    $('alert-done').textContent = '';
    const note = $('alert-note').value.trim();
    const done = action === 'resolve' ? 'resolved' : 'acknowledged';
    if (action === 'resolve' && !note) {
      box.textContent = 'Say in the note what was done before resolving the alert.';
      box.hidden = false;
      $('alert-note').focus();
      return;
    }
    const id = state.alertId;
    const path = `/api/v1/alerts/${encodeURIComponent(id)}`;
    state.acting = true;
    $('alert-ack').disabled = true;
    $('alert-resolve').disabled = true;
    let failure = null;
    try {
      await request(`${path}/${action}`, { method: 'POST', body: { note } });
      $('alert-note').value = '';
    } catch (e) {
      failure = e;
    }
    if (failure instanceof ApiError && failure.status === 401) {
      // Signed out: the note is kept for this alert, and put back when it is opened again.
      state.acting = false;
      if (note) state.unsaved = { id, note, done };
      signOut(`That token was not accepted, so alert ${id} was not ${done}: nothing was saved. ` +
        `Check the token and sign in again${note ? ' (your note is kept)' : ''}.`);
      document.body.dataset.state = 'error';
      return;
    }
    try {
      const alert = await request(path, {});
      if (state.alertId === id) renderAlert(alert);
      await loadAlerts(false);
      if (failure) {
        alertFailed(failure, box, alert, note);
      } else {
        // Said last, once the list shows the change too; focus goes to it (the button pressed
        // may be disabled now).
        $('alert-done').textContent = `Alert ${id} ${done}.`;
        $('alert-done').focus();
      }
    } catch (e) {
      alertFailed(failure || e, box, null, failure ? note : '');
    } finally {
      state.acting = false;
      // Read again or not, the buttons are those of the status last known.
      renderAlertButtons();
    }
  }

  // ---- praise -------------------------------------------------------------------------------
  // For supervisors (GET /api/v1/recognition): per person, the answers about their contacts and
  // how many gave 10 out of 10; the praise comments, numbers and e-mail addresses masked by the
  // API. Each team's weekly digest e-mail links here. People with fewer answers than the
  // recognition's minimum, and whoever a total would give their counts away by, are named without
  // figures by the API and only counted here, as the digest does. The answers counted are those
  // about the people shown (the API's `respondents`), never everyone's: the difference would be
  // what is hidden.

  const ROLES = { officer: 'Officer', operator: 'Call handler' };
  const TOP_QUESTIONS = ['q1', 'q2', 'q3', 'q4', 'q5'];
  // Each question's short name, as the API gives it ("Polite and respectful"), for the table's
  // headings and the scores under each praise comment; the key until then.
  const questionLabel = (key) => (state.praiseQuestions.find((q) => q.key === key) || {}).label || key;
  // The same for an alert's answer, which a safeguarding token reads without the praise view.
  const SHORT_QUESTIONS = { q1: 'Polite and respectful', q2: 'Understanding and knowledge',
    q3: 'Happy with time taken', q4: 'Clear on further action', q5: 'Helped with the issue' };
  const alertQuestionLabel = (key) => {
    const label = questionLabel(key);
    return label !== key ? label : SHORT_QUESTIONS[key] || key;
  };

  // Names sort alphabetically, counts most first.
  const ascends = (key) => key === 'person' || key === 'team';

  // The table's order: the API's (team, then person) unless a heading was chosen; ties keep the
  // API's order (sort is stable).
  function sortPeople(people, key) {
    if (!key) return people;
    const value = (p) => (TOP_QUESTIONS.includes(key) ? p.top_scores[key] : p[key]);
    return [...people].sort((a, b) => (ascends(key)
      ? String(value(a)).localeCompare(String(value(b)), 'en', { numeric: true })
      : value(b) - value(a)));
  }

  function showPraiseSort(key) {
    for (const button of document.querySelectorAll('#people button.sort')) {
      const th = button.closest('th');
      if (button.dataset.sort === key) th.setAttribute('aria-sort', ascends(key) ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
  }

  // A person's team is the call handler's team, or the officer's department: the choices are
  // both lists of the figures' filters, and whatever the API named.
  function fillPraiseOptions(view, report) {
    const teams = $('p-team');
    const wantedTeam = view.filters.team || '';
    const teamKeys = [...new Set([...$('f-team').options, ...$('f-department').options]
      .map((o) => o.value).concat((report ? report.people : []).map((p) => p.team), [wantedTeam])
      .filter(Boolean))];
    teams.replaceChildren(el('option', { value: '', text: 'All' }),
      ...teamKeys.sort(keyOrder('team')).map((k) => el('option', { value: k, text: k })));
    teams.value = wantedTeam;
    const people = $('p-person');
    const names = [...new Set((report ? report.people : []).filter((p) => !p.suppressed).map((p) => p.person))];
    if (view.person && !names.includes(view.person)) names.push(view.person);
    people.replaceChildren(el('option', { value: '', text: 'All' }),
      ...names.sort(keyOrder('person')).map((k) => el('option', { value: k, text: k })));
    people.value = view.person;
  }

  function renderPraise(report) {
    state.praiseQuestions = report.questions || [];
    for (const q of state.praiseQuestions) {
      const heading = document.querySelector(`#people button.sort[data-sort="${q.key}"]`);
      if (heading && q.label) heading.textContent = q.label;
      if (heading && q.text) heading.title = q.text;
    }
    for (const node of document.querySelectorAll('.praise-min-cell')) node.textContent = report.min_cell_size;
    if (report.min_cell_size <= 1) {
      $('praise-min-note').textContent = 'Everyone with an answer is shown (the minimum is set to 1): ' +
        'someone with few answers may be told apart by those who know the contact.';
    }
    const shown = report.people.filter((p) => !p.suppressed);
    $('praise-summary').textContent = report.suppressed
      ? `Fewer than ${report.min_cell_size} answers in this selection: nothing is shown, so that nobody who answered can be told apart.`
      : `${number(report.respondents)} answers about contacts with ${shown.length === 1 ? 'one person' : number(shown.length) + ' people'} shown.`;
    state.people = shown;
    showPeople();
    const hidden = $('praise-hidden');
    hidden.hidden = report.suppressed || !report.suppressed_people;
    hidden.textContent = `${number(report.suppressed_people)} more ${report.suppressed_people === 1 ? 'person' : 'people'} ` +
      `not shown: fewer than ${report.min_cell_size} answers, or hidden beside someone who had.`;
    state.praise = report.praise;
    state.praiseHidden = !report.suppressed && report.suppressed_people > 0;
    state.praiseNobodyShown = shown.length === 0;
    $('praise-comments').replaceChildren();
    showMorePraise();
  }

  // The rows of the people shown, in the order chosen (kept in the URL).
  function showPeople() {
    const key = readView().sort;
    showPraiseSort(key);
    const body = $('people').tBodies[0];
    body.replaceChildren();
    for (const p of sortPeople(state.people, key)) {
      const tops = TOP_QUESTIONS.map((q) => el('td', { class: 'num', 'data-top': q, text: number(p.top_scores[q]) }));
      body.append(el('tr', { 'data-person': p.person },
        el('th', { scope: 'row', text: p.person }), el('td', { text: ROLES[p.role] || p.role }),
        el('td', { text: p.team }), el('td', { class: 'num', 'data-field': 'respondents', text: number(p.respondents) }),
        ...tops, el('td', { class: 'num', 'data-field': 'all_top_scores', text: number(p.all_top_scores) }),
        el('td', { class: 'num', 'data-field': 'praise_comments', text: number(p.praise_comments) })));
    }
    if (!state.people.length) {
      body.append(el('tr', {}, el('td', { colspan: 11, class: 'muted', text: 'Nobody to show for this selection.' })));
    }
  }

  // The praise comments twenty at a time (the API gives the newest hundred).
  function showMorePraise() {
    const comments = $('praise-comments');
    const from = comments.querySelectorAll('li[data-survey]').length;
    for (const c of state.praise.slice(from, from + 20)) {
      const scores = TOP_QUESTIONS.map((q) => `${questionLabel(q)} ${c.scores[q] === null ? '–' : c.scores[q]}`).join(', ');
      const meta = [when(c.contact_at), `${ROLES[c.role] || c.role} ${c.person}`, c.team].filter(Boolean).join(' · ');
      comments.append(el('li', { 'data-survey': c.survey_id }, el('p', { class: 'comment', text: c.comment }),
        el('p', { class: 'meta', text: `${meta} · scores: ${scores}` })));
    }
    if (!state.praise.length) {
      const text = !state.praiseHidden ? 'No praise comments.'
        : state.praiseNobodyShown ? 'Praise comments are hidden with the people they are about.'
          : 'No praise comments about the people shown: those about people not shown are hidden too.';
      comments.append(el('li', { class: 'muted', text }));
    }
    $('praise-more').hidden = comments.querySelectorAll('li[data-survey]').length >= state.praise.length;
  }

  async function loadPraise() {
    const view = readView();
    $('p-from').value = view.from;
    $('p-to').value = view.to;
    $('p-dates').value = view.dates;
    try {
      // The teams and departments of the figures are the choices of a team here.
      await fillFilterOptions(view, ['team', 'department']);
      fillPraiseOptions(view, null);
      const report = await call(...requests(view).people);
      fillPraiseOptions(view, report);
      renderPraise(report);
      showMessage('');
      document.body.dataset.state = 'ready';
    } catch (e) {
      handleError(e);
    }
  }

  // Figures, alerts or praise; the choice is kept in the URL like the filters.
  async function showMode(mode) {
    let shown = 'figures';
    if ((mode === 'alerts' || !state.figures) && state.alerts) shown = 'alerts';
    else if (mode === 'praise' && state.supervisor) shown = 'praise';
    $('figures').hidden = shown !== 'figures';
    $('alerts-view').hidden = shown !== 'alerts';
    $('praise-view').hidden = shown !== 'praise';
    for (const name of ['figures', 'alerts', 'praise']) {
      $('to-' + name).setAttribute('aria-current', name === shown ? 'page' : 'false');
    }
    $('skip').textContent = `Skip to the ${shown === 'figures' ? 'figures' : shown}`;
    const view = readView();
    view.mode = shown;
    writeView(view);
    if (shown === 'alerts') {
      $('a-status').value = view.alertStatus;
      $('a-kind').value = view.alertKind;
      await loadAlerts(false);
      // A link to one alert (the e-mail's, the webhook's) opens it.
      if (view.alert && state.alertId !== view.alert) await openAlert(view.alert);
    } else if (shown === 'praise') {
      await loadPraise();
    } else if (!state.figuresShown) {
      await showFigures(view);
    }
  }

  // The figures, the first time they are shown (or again when they were unavailable): the
  // filters' choices are asked for here, not at sign-in, so that an alert's link opens the
  // alert without waiting for a dozen figures' queries first.
  async function showFigures(view) {
    const problem = $('figures-problem');
    try {
      if (state.figuresProblem) {
        await probeFigures(view, 5);
        showSignedIn();
        // Only now known: whether this token may narrow the figures to a person.
        const dropped = state.figuresProblem ? '' : dropForbidden(view);
        if (dropped) {
          state.notice = [state.notice, dropped].filter(Boolean).join(' ');
          writeView(view);
        }
      }
      if (state.figuresProblem) {
        problem.textContent = `The figures are unavailable at the moment: ${state.figuresProblem}. ` +
          'The alerts are not affected. Choose Figures again to try again.';
        problem.hidden = false;
        document.body.dataset.state = 'ready';
        return;
      }
      problem.hidden = true;
      state.figuresShown = true;
      applyViewToForm(view);
      await fillFilterOptions(view, FILTERS);
    } catch (e) {
      handleError(e);
      return;
    }
    await render();
  }

  // ---- loading ------------------------------------------------------------------------------

  function showMessage(text) {
    const box = $('message');
    box.textContent = text || '';
    box.hidden = !text;
  }

  // The choices of the filters `which` not yet filled since signing in, each from the figures
  // grouped by it. One that cannot be read keeps "All" (and the value asked for): the figures
  // are still shown. A 401 is thrown.
  async function fillFilterOptions(view, which) {
    const period = { from: view.from, to: view.to };
    const results = await Promise.allSettled(which.map(async (f) => {
      if (SUPERVISOR_ONLY.includes(f) && !state.supervisor) return;
      if (state.optionsFilled.has(f)) return;
      const select = $('f-' + f);
      const stats = await call('/api/v1/stats', { ...period, group_by: f });
      state.optionsFilled.add(f);
      noteGroupNames(stats);
      const keys = stats.cells.map((c) => c[f]).filter((k) => k !== null && k !== undefined);
      const wanted = view.filters[f];
      if (wanted && !keys.includes(wanted)) keys.push(wanted);
      select.replaceChildren(el('option', { value: '', text: 'All' }),
        ...keys.sort(keyOrder(f)).map((k) => el('option', { value: k, text: keyLabel(f, k) })));
      select.value = wanted || '';
    }));
    const refused = results.find((r) => r.status === 'rejected' && r.reason instanceof ApiError && r.reason.status === 401);
    if (refused) throw refused.reason;
  }

  // Ops may hold every text to the public (a critical incident, a wrong template): the figures of
  // that time have fewer texts sent, and this says why. Saying nothing is the answer when it
  // cannot be read: it is never a reason not to show the figures.
  async function showHold() {
    const banner = $('hold');
    try {
      const status = await request('/api/v1/sends/hold', { retries: 1 });
      if (!status.held) { banner.hidden = true; return; }
      banner.textContent = `Texts to the public are held by ops since ${when(status.hold.held_at)}: ` +
        `${status.hold.reason}. No survey is sent until they are released.`;
      banner.hidden = false;
    } catch (e) {
      banner.hidden = true;
    }
  }

  async function render() {
    showHold();
    const view = readView();
    const r = requests(view);
    document.getElementById('main').setAttribute('aria-busy', 'true');
    try {
      // Each panel on its own: one the service refuses (a role, a filter) says so in its place,
      // and the others are shown. A sign-in refused (401) signs out.
      const panels = ['tiles', 'trend', 'breakdown', 'funnel', 'representativeness', 'comments'];
      const results = await Promise.allSettled(panels.map((p) => call(...r[p])));
      const refused = results.find((x) => x.status === 'rejected' &&
        (!(x.reason instanceof ApiError) || x.reason.status === 401));
      if (refused) throw refused.reason;
      const question = $('trend-question').value || view.question;
      const show = {
        tiles: (d) => {
          noteGroupNames(d);
          const breakdown = results[panels.indexOf('breakdown')];
          renderTiles(d, breakdown.status === 'fulfilled' && breakdown.value.cells.length === 0);
        },
        trend: (d) => renderTrend(d, question),
        breakdown: (d) => renderBreakdown(d, view.breakdown, question),
        funnel: renderFunnel,
        representativeness: renderRepresentativeness,
        comments: (d) => renderComments(d, false),
      };
      const failed = [];
      panels.forEach((p, i) => {
        if (results[i].status === 'fulfilled') { show[p](results[i].value); return; }
        failed.push(`${results[i].reason.message} (${results[i].reason.status})`);
        $(p).replaceChildren(el(p === 'tiles' || p === 'comments' ? 'li' : 'p',
          { class: 'muted', text: `Not shown: the service said ${results[i].reason.message}.` }));
      });
      showMessage([state.notice, failed.length ? `The service said: ${[...new Set(failed)].join('; ')}.` : '']
        .filter(Boolean).join(' '));
      document.body.dataset.state = 'ready';
    } catch (e) {
      handleError(e);
    } finally {
      document.getElementById('main').setAttribute('aria-busy', 'false');
    }
  }

  function handleError(e) {
    if (e instanceof ApiError && e.status === 401) {
      signOut('That token was not accepted. Check it and sign in again.');
    } else if (e instanceof ApiError) {
      showMessage(`The service said: ${e.message} (${e.status}).`);
    } else {
      showMessage('The service could not be reached. Try again in a moment.');
    }
    document.body.dataset.state = 'error';
  }

  // A supervisor's link opened with a token that may not narrow figures to a person: the officer
  // or operator it names is taken out of the view and the address, and that is said, rather than
  // dropped unseen (the figures would read as that person's and be everyone's).
  function dropForbidden(view) {
    if (state.supervisor) return '';
    const asked = SUPERVISOR_ONLY.filter((f) => view.filters[f])
      .map((f) => `a filter by ${LABELS[f].toLowerCase()}`);
    for (const f of SUPERVISOR_ONLY) delete view.filters[f];
    if (SUPERVISOR_ONLY.includes(view.breakdown)) {
      asked.push(`a breakdown by ${LABELS[view.breakdown].toLowerCase()}`);
      view.breakdown = 'npu';
    }
    if (!asked.length) return '';
    return `This link asked for ${asked.join(' and ')}, which needs the supervisor role: ` +
      'the figures shown are not narrowed so.';
  }

  function applyViewToForm(view) {
    $('f-from').value = view.from;
    $('f-to').value = view.to;
    for (const f of FILTERS) $('f-' + f).value = view.filters[f] || '';
    $('q').value = view.q;
    $('rep-by').value = view.rep;
    const by = $('breakdown-by');
    by.replaceChildren(...BREAKDOWNS.filter((d) => state.supervisor || !SUPERVISOR_ONLY.includes(d))
      .map((d) => el('option', { value: d, text: LABELS[d] })));
    by.value = view.breakdown;
  }

  function viewFromForm() {
    const view = readView();
    view.from = $('f-from').value;
    view.to = $('f-to').value;
    view.filters = {};
    for (const f of FILTERS) if ($('f-' + f).value) view.filters[f] = $('f-' + f).value;
    view.q = $('q').value.trim();
    view.rep = $('rep-by').value;
    view.breakdown = $('breakdown-by').value;
    view.question = $('trend-question').value || view.question;
    return view;
  }

  // Whether this token may list alerts: a 403 says no; any other answer (503 when alerts are
  // not configured) says yes, and the view then says what is wrong. A 401 is thrown.
  // `failed` is told of any failure but a 403.
  async function mayListAlerts(failed) {
    try {
      await request('/api/v1/alerts', { params: { limit: 1 } });
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) throw e;
      if (e instanceof ApiError && e.status === 403) return false;
      failed(e);
      return true;
    }
  }

  // Whether this token may see the figures (a 403 says no: safeguarding staff see the alerts
  // alone), whether it may narrow them to a person (a supervisor's), and whether they can be read
  // now. The figures may come from a database of their own (database.analytics_url) that is down
  // or busy while the alerts answer: that is "figures unavailable" (state.figuresProblem), said in
  // the Figures view and asked again when it is shown, never a failed sign-in. Only a 401 (a
  // wrong or revoked token) is thrown. Asked `retries` times: once at sign-in, so that an alert's
  // link is not kept waiting behind figures that will not come.
  async function probeFigures(view, retries) {
    const day = { from: view.from, to: view.from };
    const problem = (e) => (e instanceof ApiError ? `the service said ${e.message} (${e.status})`
      : 'the service could not be reached');
    state.figuresProblem = '';
    try {
      await request('/api/v1/stats', { params: day, retries });
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) throw e;
      state.figures = !(e instanceof ApiError && e.status === 403);
      if (state.figures) state.figuresProblem = problem(e);
      return;
    }
    state.figures = true;
    try {
      await request('/api/v1/stats', { params: { ...day, group_by: 'officer' }, retries });
      state.supervisor = true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) throw e;
      state.supervisor = false;
      if (!(e instanceof ApiError && e.status === 403)) state.figuresProblem = problem(e);
    }
  }

  // The header and the views offered, as the probes found them.
  function showSignedIn() {
    $('who-role').textContent = !state.figures ? 'Signed in (alerts only)' :
      state.figuresProblem ? 'Signed in (figures unavailable)' :
        state.supervisor ? 'Signed in (supervisor)' : 'Signed in (analyst)';
    for (const node of document.querySelectorAll('.supervisor')) node.hidden = !state.supervisor;
    $('to-figures').hidden = !state.figures;
    $('to-alerts').hidden = !state.alerts;
    $('to-praise').hidden = !state.supervisor;
  }

  async function signIn(token) {
    state.token = token;
    showMessage('');
    const view = readView();
    let alertsProblem = null;
    try {
      state.supervisor = false;
      await probeFigures(view, 1);
      state.alerts = await mayListAlerts((e) => { alertsProblem = e; });
    } catch (e) {
      handleError(e);
      return;
    }
    // Neither the figures nor the alerts answered: nothing could be shown, and whether the
    // token is good is not known either.
    if (state.figuresProblem && alertsProblem) {
      state.token = null;
      handleError(alertsProblem);
      return;
    }
    if (!state.figures && !state.alerts) {
      signOut('This token may not see the figures (it needs the analyst or supervisor role) ' +
        'nor the alerts (supervisor or safeguarding).');
      return;
    }
    sessionStorage.setItem('surveyd-token', token);
    $('signin').hidden = true;
    $('who').hidden = false;
    showSignedIn();
    $('main').hidden = false;
    // The sign-in form is gone: focus goes where the figures are, not back to the page's top.
    $('main').focus();
    state.figuresShown = false;
    state.optionsFilled = new Set();
    showHold();
    if (!state.figures) {
      await showMode('alerts');
      return;
    }
    // An alert's link opened with a token that may not see alerts lands on the figures: said,
    // rather than the alert dropped unseen.
    const noAlert = view.alert && !state.alerts
      ? `This link opens alert ${view.alert}, but your token cannot open alerts (it needs the supervisor or safeguarding role).` : '';
    // (Figures unavailable: whether it may narrow them is not known yet; showFigures says.)
    state.notice = [noAlert, state.figuresProblem ? '' : dropForbidden(view)].filter(Boolean).join(' ');
    applyViewToForm(view);
    writeView(view);
    await showMode(view.mode);
  }

  function signOut(message) {
    state.token = null;
    sessionStorage.removeItem('surveyd-token');
    $('signin').hidden = false;
    $('who').hidden = true;
    $('main').hidden = true;
    $('alert-detail').hidden = true;
    $('hold').hidden = true;
    $('alerts').tBodies[0].replaceChildren();
    $('people').tBodies[0].replaceChildren();
    $('praise-comments').replaceChildren();
    state.alertId = null;
    forgetReveal();
    $('alert-note').value = '';
    $('token').value = '';
    showMessage(message || '');
    // The form is back: focus goes to it, not to the page's top.
    $('token').focus();
  }

  // A CSV page's rows: what follows its header line (and the byte-order mark before it).
  async function rowsOf(blob) {
    const bytes = new Uint8Array(await blob.arrayBuffer());
    for (let i = 0; i + 1 < bytes.length; i += 1) {
      if (bytes[i] === 13 && bytes[i + 1] === 10) return bytes.subarray(i + 2);
    }
    return new Uint8Array(0);
  }

  async function downloadCsv(which) {
    const [path, params] = requests(readView())[which];
    try {
      // The comments come a page at a time (at most 1,000): every page, following the cursor the
      // API gives, goes into the one file, its byte-order mark and header once. The first page
      // alone was saved before, named for the whole period: the newest 1,000 of 1,502.
      const paged = which === 'comments';
      const pages = [];
      let after;
      for (;;) {
        const page = await call(path, { ...params, format: 'csv', limit: paged ? 1000 : undefined, after }, 'text/csv');
        pages.push(pages.length ? await rowsOf(page.blob) : page.blob);
        if (!paged || !page.next) break;
        after = page.next;
      }
      const blob = new Blob(pages, { type: 'text/csv; charset=utf-8' });
      const url = URL.createObjectURL(blob);
      // Named for what it holds, so that two downloads of a day are told apart: the panel, its
      // grouping, the filters and the period (a week's trend: its whole weeks).
      const parts = ['surveyd', which, params.group_by || params.dimension,
        ...Object.entries(params).filter(([k, v]) => v && FILTERS.includes(k)).map(([k, v]) => `${k}-${v}`),
        params.from, 'to', params.to].filter(Boolean);
      const name = parts.join('_').replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 150);
      const a = el('a', { href: url, download: `${name}.csv` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (e) {
      handleError(e);
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('signin').addEventListener('submit', (event) => {
      event.preventDefault();
      signIn($('token').value.trim());
    });
    $('signout').addEventListener('click', () => { state.unsaved = null; signOut(''); });
    $('filters').addEventListener('submit', (event) => {
      event.preventDefault();
      const view = viewFromForm();
      if (view.from > view.to) { showMessage('The start date is after the end date.'); return; }
      state.notice = '';
      writeView(view);
      render();
    });
    $('reset').addEventListener('click', (event) => {
      event.preventDefault();
      const view = readView();
      view.filters = {};
      view.q = '';
      state.notice = '';
      writeView(view);
      applyViewToForm(view);
      render();
    });
    for (const id of ['trend-question', 'breakdown-by', 'rep-by']) {
      $(id).addEventListener('change', () => { writeView(viewFromForm()); render(); });
    }
    $('search').addEventListener('submit', async (event) => {
      event.preventDefault();
      const view = viewFromForm();
      writeView(view);
      try {
        renderComments(await call(...requests(view).comments), false);
      } catch (e) { handleError(e); }
    });
    $('more').addEventListener('click', async () => {
      const [path, params] = requests(readView()).comments;
      try {
        renderComments(await call(path, { ...params, after: state.commentsNext }), true);
      } catch (e) { handleError(e); }
    });
    for (const [link, mode] of [['to-figures', 'figures'], ['to-alerts', 'alerts'], ['to-praise', 'praise']]) {
      $(link).addEventListener('click', (event) => { event.preventDefault(); showMode(mode); });
    }
    $('alert-filters').addEventListener('submit', (event) => {
      event.preventDefault();
      const view = readView();
      view.alertStatus = $('a-status').value;
      view.alertKind = $('a-kind').value;
      writeView(view);
      loadAlerts(false);
    });
    $('alerts-more').addEventListener('click', () => loadAlerts(true));
    setInterval(refreshAlerts, REFRESH_MS);
    document.addEventListener('visibilitychange', refreshAlerts);
    $('praise-more').addEventListener('click', showMorePraise);
    // A heading sorts the table by its column; the same heading again, back to the API's order.
    for (const button of document.querySelectorAll('#people button.sort')) {
      button.addEventListener('click', () => {
        const view = readView();
        view.sort = view.sort === button.dataset.sort ? '' : button.dataset.sort;
        writeView(view);
        showPeople();
      });
    }
    $('praise-filters').addEventListener('submit', (event) => {
      event.preventDefault();
      const view = readView();
      if ($('p-from').value > $('p-to').value) { showMessage('The start date is after the end date.'); return; }
      view.from = $('p-from').value;
      view.to = $('p-to').value;
      view.dates = $('p-dates').value;
      view.filters.team = $('p-team').value;
      view.person = $('p-person').value;
      writeView(view);
      state.figuresShown = false;  // the figures' period and team changed with these
      loadPraise();
    });
    $('alert-close').addEventListener('click', () => {
      const id = state.alertId;
      $('alert-detail').hidden = true;
      state.alertId = null;
      const view = readView();
      view.alert = null;
      writeView(view);
      const button = document.querySelector(`#alerts button[data-alert="${id}"]`);
      if (button) button.focus();
    });
    $('alert-ack').addEventListener('click', () => actOnAlert('acknowledge'));
    $('alert-resolve').addEventListener('click', () => actOnAlert('resolve'));
    $('reveal').addEventListener('submit', (e) => { e.preventDefault(); reveal(); });
    for (const button of document.querySelectorAll('button.csv')) {
      // Disabled until the file is saved: the comments' may take several pages.
      button.addEventListener('click', () => {
        button.disabled = true;
        downloadCsv(button.dataset.csv).finally(() => { button.disabled = false; });
      });
    }
    const saved = sessionStorage.getItem('surveyd-token');
    if (saved) signIn(saved);
  });
})();
