/* kiosk.js - the job seeker's page: the form, type-ahead, results with a
 * reason each, and the openings-against-applicants chart. Plain JS; it
 * talks only to the kiosk's own /api/ (docs/kiosk.md). */
'use strict';

const TEXT = {
  zh: {
    title: '就业服务自助终端', lang_switch: 'English', district: '所在区县', province: '省份',
    city: '城市', county: '区县', choose: '请选择', about: '关于您', age: '年龄',
    education: '最高学历', wage: '期望月薪（元，可不填）', skills: '技能',
    skill_search: '输入技能名称查找', skill_placeholder: '例如 口头表达、维修、Excel',
    occupation: '想做的工作', occupation_search: '输入职业名称，例如"电工"',
    occupation_placeholder: '例如 电工、厨师、保育员', where: '在哪里找', scope: '范围',
    scope_county: '本区县', scope_city: '本市', scope_province: '本省', scope_all: '全国',
    search: '查找工作', searching: '正在查找…', reset: '重新开始', results: '为您推荐的岗位',
    no_results: '没有找到符合条件的岗位。可以扩大范围或减少条件再试。', openings: '岗位数',
    applicants: '求职人数', chart_empty: '该地区本期暂无统计数据。',
    chart_title: (r, p) => `${r}：各职业岗位数与求职人数（${p}）`,
    level: (l) => `${l} 级`, remove: '删除', employer: '单位', negotiable: '面议', per_month: '元/月',
    score: '匹配度',
    edu: ['不限', '小学', '初中', '高中、中专或职高', '大专', '本科', '硕士', '博士'],
    down: '暂时无法连接求职服务，请稍后再试或联系现场工作人员。',
    failed: '查询没有成功，请稍后再试或联系现场工作人员。',
    field: {
      region: '请选择您所在的区县（省份、城市、区县都要选）。',
      birth_year: '请填写年龄（16 到 80 岁之间的整数）。',
      wage_min: '期望月薪须是 0 到 1000000 之间的整数，也可以不填。',
      education: '请选择学历。', skills: '技能有误，请删除后重新选择。',
      occupations: '想做的工作有误，请删除后重新选择。', scope: '请选择查找范围。',
      body: '提交的内容有误，请刷新页面后再试。',
      service: '暂时无法查询，请稍后再试或联系现场工作人员。',
    },
    reason: {
      skills: (names) => `您的技能${names.map((n) => `「${n}」`).join('')}正是岗位所需`,
      below: (n, need, have) => `「${n}」岗位要求 ${need} 级，您是 ${have} 级`,
      full: (o) => `正是您想做的工作「${o}」`,
      minor: (o) => `和您想做的「${o}」属于同一小类职业`,
      middle: (o) => `和您想做的「${o}」属于同一中类职业`,
      major: (o) => `和您想做的「${o}」属于同一大类职业`,
      county: '就在您所在的区县', priority: '优先招用像您这样的求职者',
      none: '符合您的基本条件', join: '；', end: '。',
    },
  },
  en: {
    title: 'Job kiosk', lang_switch: '中文', district: 'Your district', province: 'Province',
    city: 'City', county: 'District', choose: 'Please choose', about: 'About you', age: 'Age',
    education: 'Education', wage: 'Monthly wage wished (yuan, optional)', skills: 'Skills',
    skill_search: 'Type a skill to find it', skill_placeholder: 'e.g. Speaking, Repairing, Excel',
    occupation: 'Work you want', occupation_search: 'Type an occupation, e.g. "电工" (electrician)',
    occupation_placeholder: 'e.g. 电工, 厨师, 保育员', where: 'Where to look', scope: 'Area',
    scope_county: 'My district', scope_city: 'My city', scope_province: 'My province',
    scope_all: 'Whole country', search: 'Find jobs', searching: 'Searching…', reset: 'Start over',
    results: 'Openings for you',
    no_results: 'No openings fit. Try a wider area or fewer conditions.', openings: 'Openings',
    applicants: 'Applicants', chart_empty: 'No figures for this area and period yet.',
    chart_title: (r, p) => `${r}: openings and applicants by occupation (${p})`,
    level: (l) => `level ${l}`, remove: 'Remove', employer: 'Employer', negotiable: 'negotiable',
    per_month: 'yuan/month', score: 'match',
    edu: ['none', 'primary school', 'junior secondary', 'senior secondary or vocational',
      'junior college', 'bachelor', 'master', 'doctorate'],
    down: 'The job service cannot be reached just now. Please try again later or ask the staff.',
    failed: 'The search did not work. Please try again later or ask the staff.',
    field: {
      region: 'Please choose your district (province, city and district).',
      birth_year: 'Please enter your age (a whole number from 16 to 80).',
      wage_min: 'The wage wished must be a whole number from 0 to 1000000, or left empty.',
      education: 'Please choose your education.', skills: 'A skill is wrong: remove it and choose again.',
      occupations: 'An occupation is wrong: remove it and choose again.',
      scope: 'Please choose the area.', body: 'The form was not understood. Please reload the page.',
      service: 'The search cannot be done just now. Please try again later or ask the staff.',
    },
    reason: {
      skills: (names) => `your skills ${names.join(', ')} are what the job needs`,
      below: (n, need, have) => `it asks ${n} at level ${need}, you have ${have}`,
      full: (o) => `it is the work you want (${o})`,
      minor: (o) => `it is close to the work you want (${o}): same minor group`,
      middle: (o) => `it is related to the work you want (${o}): same middle group`,
      major: (o) => `it is in the same broad field as the work you want (${o})`,
      county: 'it is in your own district', priority: 'it gives priority to job seekers like you',
      none: 'it fits your basic conditions', join: '; ', end: '.',
    },
  },
};

const state = {
  lang: 'zh', regions: [], names: new Map(), skills: [], occupations: [],
  matches: null, chart: null, banner: null,
};
const $ = (id) => document.getElementById(id);
const t = (key) => TEXT[state.lang][key];
/* Skill names are O*NET's, in English; the general ones have a Chinese name. */
const skillName = (s) => (state.lang === 'zh' && s.name_zh) || s.name || s.id;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

async function api(path, body) {
  let res;
  try {
    res = await fetch('/api/' + path, body === undefined ? {} : {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
  } catch (e) {
    throw { code: 'kiosk_down', message: String(e) };
  }
  let data = null;
  try { data = await res.json(); } catch (e) { /* not JSON: reported below */ }
  if (!res.ok || !data) throw (data && data.error) || { code: 'http_' + res.status, message: res.statusText };
  return data;
}

/* ---- messages ----------------------------------------------------------- */

function showBanner(err) {
  state.banner = err;
  const b = $('banner');
  b.replaceChildren();
  if (!err) { b.hidden = true; return; }
  const down = ['daemon_down', 'kiosk_down', 'wrong_role', 'unauthorized', 'overloaded'].includes(err.code);
  b.append(down ? t('down') : t('failed'), el('small', {}, err.message || ''));
  b.hidden = false;
}

function showFieldError(field, detail) {
  const box = $('form-error');
  for (const e of document.querySelectorAll('[aria-invalid]')) e.removeAttribute('aria-invalid');
  if (!field) { box.hidden = true; box.replaceChildren(); return; }
  const target = { region: 'county', birth_year: 'age', wage_min: 'wage', education: 'education',
    skills: 'skill-input', occupations: 'occ-input', scope: 'scope' }[field];
  box.replaceChildren(t('field')[field] || detail, ...(detail ? [el('small', {}, ' (' + detail + ')')] : []));
  box.hidden = false;
  box.dataset.field = field;
  if (target) {
    const input = field === 'region' ? firstEmptyRegion() : $(target);
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
}

/* ---- the region picker -------------------------------------------------- */

function regionChildren(code) {
  /* Children of a province are its prefectures plus the county-level
   * units that have no prefecture row (municipalities' districts,
   * province-administered counties); children of a prefecture its
   * counties. */
  if (code.endsWith('0000')) {
    const p = code.slice(0, 2);
    const inProv = state.regions.filter(([c]) => c.startsWith(p) && c !== code);
    return inProv.filter(([c]) => c.endsWith('00') || !state.names.has(c.slice(0, 4) + '00'));
  }
  if (code.endsWith('00')) return state.regions.filter(([c]) => c.startsWith(code.slice(0, 4)) && c !== code);
  return [];
}

function fillSelect(sel, items) {
  sel.replaceChildren(el('option', { value: '' }, t('choose')));
  for (const [code, name] of items) sel.append(el('option', { value: code }, name));
  sel.disabled = items.length === 0;
}

function district() {
  for (const id of ['county', 'city', 'province']) {
    const v = $(id).value;
    if (v) {
      if (id === 'province') return '';
      if (id === 'city' && regionChildren(v).length > 0) return '';
      return v;
    }
  }
  return '';
}

function firstEmptyRegion() {
  for (const id of ['province', 'city', 'county']) if (!$(id).disabled && !$(id).value) return $(id);
  return $('county');
}

function setupRegions() {
  fillSelect($('province'), state.regions.filter(([c]) => c.endsWith('0000')));
  fillSelect($('city'), []);
  fillSelect($('county'), []);
  $('province').addEventListener('change', () => {
    fillSelect($('city'), $('province').value ? regionChildren($('province').value) : []);
    fillSelect($('county'), []);
  });
  $('city').addEventListener('change', () => {
    const c = $('city').value;
    fillSelect($('county'), c ? regionChildren(c) : []);
  });
}

/* ---- type-ahead --------------------------------------------------------- */

function typeahead(input, list, fetcher, pick) {
  let timer = null, seq = 0;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const q = input.value.trim();
      const mine = ++seq;
      if (!q) { list.replaceChildren(); return; }
      try {
        const items = await fetcher(q);
        if (mine !== seq) return;
        list.replaceChildren(...items.map((it) => el('li', {}, el('button', {
          type: 'button', 'data-code': it.code,
          onclick: () => { pick(it); input.value = ''; list.replaceChildren(); },
        }, it.label))));
      } catch (e) { showBanner(e); }
    }, 150);
  });
}

function renderSkills() {
  $('skills-chosen').replaceChildren(...state.skills.map((s, i) => {
    const level = el('select', { 'aria-label': skillName(s), 'data-skill': s.id,
      onchange: (e) => { s.level = Number(e.target.value); } });
    for (let l = 1; l <= 5; l++) level.append(el('option', { value: String(l) }, t('level')(l)));
    level.value = String(s.level);
    return el('li', { 'data-skill': s.id }, skillName(s), level,
      el('button', { type: 'button', class: 'remove', 'aria-label': t('remove') + ' ' + skillName(s),
        onclick: () => { state.skills.splice(i, 1); renderSkills(); } }, '✕'));
  }));
}

function renderOccupations() {
  $('occ-chosen').replaceChildren(...state.occupations.map((o, i) => el('li', { 'data-code': o.code },
    o.name, el('button', { type: 'button', class: 'remove', 'aria-label': t('remove') + ' ' + o.name,
      onclick: () => { state.occupations.splice(i, 1); renderOccupations(); } }, '✕'))));
}

/* ---- results ------------------------------------------------------------ */

function reason(ex) {
  const R = t('reason');
  const parts = [];
  if (!ex) return R.none + R.end;
  const skills = ex.skills || [];
  if (skills.length) {
    parts.push(R.skills(skills.map(skillName)));
    for (const s of skills) {
      if (s.worker_level < s.vacancy_level) parts.push(R.below(skillName(s), s.vacancy_level, s.worker_level));
    }
  }
  const occ = ex.occupation;
  if (occ && occ.level && occ.level !== 'none' && R[occ.level]) parts.push(R[occ.level](occ.desired_name || occ.desired));
  if (ex.county_bonus > 0) parts.push(R.county);
  if (ex.priority_bonus > 0) parts.push(R.priority);
  if (!parts.length) parts.push(R.none);
  let text = parts.join(R.join) + R.end;
  if (state.lang === 'en') text = text.charAt(0).toUpperCase() + text.slice(1);
  return text;
}

function wageText(v) {
  if (!v.wage_max) return v.wage_min ? `${v.wage_min}+ ${t('per_month')}` : t('negotiable');
  return `${v.wage_min}–${v.wage_max} ${t('per_month')}`;
}

function renderResults() {
  if (!state.matches) return;
  $('results-section').hidden = false;
  $('results-empty').hidden = state.matches.length > 0;
  $('results').replaceChildren(...state.matches.map((m) => {
    const v = m.vacancy;
    return el('li', { class: 'match', 'data-id': m.id, 'data-score': String(m.score) },
      el('h3', {}, v.title),
      el('p', { class: 'meta' }, `${v.employer} · ${v.region_name || v.region} · ${v.occupation_name || v.occupation}`),
      el('p', { class: 'wage' }, wageText(v)),
      el('p', { class: 'reason' }, reason(m.explain)));
  }));
}

function renderChart() {
  const c = state.chart;
  if (!c) return;
  $('chart-section').hidden = false;
  $('chart-title').textContent = t('chart_title')(c.region_name || c.region, c.period);
  $('chart-empty').hidden = c.groups.length > 0;
  const max = Math.max(1, ...c.groups.flatMap((g) => [g.openings, g.applicants]));
  const bar = (cls, n) => {
    const b = el('div', { class: cls }, String(n));
    b.style.width = `${(100 * n / max).toFixed(1)}%`; /* CSSOM: the page's CSP allows no inline styles */
    return b;
  };
  $('chart').replaceChildren(...c.groups.flatMap((g) => [
    el('div', { class: 'name', 'data-group': g.group }, g.name || g.group),
    el('div', { class: 'bars', 'data-group': g.group, 'data-openings': String(g.openings),
      'data-applicants': String(g.applicants) }, bar('openings', g.openings), bar('applicants', g.applicants)),
  ]));
}

/* ---- the form ----------------------------------------------------------- */

function readForm() {
  const form = { region: district(), scope: $('scope').value, education: Number($('education').value),
    skills: state.skills.map((s) => ({ id: s.id, level: s.level })),
    occupations: state.occupations.map((o) => o.code) };
  if (!form.region) return { field: 'region' };
  const age = $('age').value.trim();
  if (!/^\d+$/.test(age) || Number(age) < 16 || Number(age) > 80) return { field: 'birth_year' };
  form.birth_year = new Date().getUTCFullYear() - Number(age);
  const wage = $('wage').value.trim();
  if (wage !== '' && (!/^\d+$/.test(wage) || Number(wage) > 1000000)) return { field: 'wage_min' };
  form.wage_min = wage === '' ? 0 : Number(wage);
  return { form };
}

async function search(ev) {
  ev.preventDefault();
  const { form, field } = readForm();
  if (field) { showFieldError(field); return; }
  showFieldError(null);
  const button = $('search');
  button.disabled = true;
  button.textContent = t('searching');
  try {
    const res = await api('match', form);
    state.matches = res.matches;
    showBanner(null);
    renderResults();
    const prefix = { county: 6, city: 4, province: 2, all: 2 }[form.scope];
    /* The openings stand without the chart: a failed chart is only said. */
    try {
      state.chart = await api('supply_demand?region=' + form.region.slice(0, prefix));
      renderChart();
    } catch (e) {
      state.chart = null;
      $('chart-section').hidden = true;
      showBanner(e);
    }
  } catch (e) {
    /* Old results must not pass for an answer to this search. */
    state.matches = null;
    state.chart = null;
    $('results-section').hidden = true;
    $('chart-section').hidden = true;
    if (e.field) {
      showFieldError(e.field, e.message);
    } else {
      showBanner(e);
      showFieldError('service', e.message);
    }
  } finally {
    button.disabled = false;
    button.textContent = t('search');
  }
}

/* A public screen: the next person must not find the last one's answers,
 * so the form clears on request and after IDLE_MS without a touch. */
const IDLE_MS = 180000;
let idleTimer = null;

function resetForm() {
  $('form').reset();
  for (const id of ['city', 'county']) fillSelect($(id), []);
  state.skills = [];
  state.occupations = [];
  state.matches = null;
  state.chart = null;
  renderSkills();
  renderOccupations();
  for (const id of ['skill-suggestions', 'occ-suggestions', 'results', 'chart']) $(id).replaceChildren();
  $('results-section').hidden = true;
  $('chart-section').hidden = true;
  showFieldError(null);
  window.scrollTo(0, 0);
}

function touched() {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(resetForm, IDLE_MS);
}

function applyLanguage() {
  document.documentElement.lang = state.lang === 'zh' ? 'zh-CN' : 'en';
  document.title = t('title');
  for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
  for (const e of document.querySelectorAll('[data-i18n-placeholder]')) e.placeholder = t(e.dataset.i18nPlaceholder);
  $('lang').textContent = t('lang_switch');
  $('lang').lang = state.lang === 'zh' ? 'en' : 'zh-CN';
  const edu = $('education'), keep = edu.value || '0';
  edu.replaceChildren(...t('edu').map((name, i) => el('option', { value: String(i) }, name)));
  edu.value = keep;
  for (const id of ['province', 'city', 'county']) if ($(id).options.length) $(id).options[0].textContent = t('choose');
  renderSkills();
  renderResults();
  renderChart();
  if (state.banner) showBanner(state.banner);
  const box = $('form-error');
  if (!box.hidden && box.dataset.field) box.firstChild.textContent = t('field')[box.dataset.field];
}

async function start() {
  applyLanguage();
  $('lang').addEventListener('click', () => { state.lang = state.lang === 'zh' ? 'en' : 'zh'; applyLanguage(); });
  $('form').addEventListener('submit', search);
  $('start-over').addEventListener('click', resetForm);
  for (const ev of ['pointerdown', 'keydown', 'input']) document.addEventListener(ev, touched, { passive: true });
  typeahead($('skill-input'), $('skill-suggestions'),
    async (q) => (await api('skills?q=' + encodeURIComponent(q))).skills.map((s) => ({ code: s.id, label: skillName(s), ...s })),
    (s) => { if (!state.skills.some((x) => x.id === s.id) && state.skills.length < 64) state.skills.push({ id: s.id, name: s.name, name_zh: s.name_zh, level: 3 }); renderSkills(); });
  typeahead($('occ-input'), $('occ-suggestions'),
    async (q) => (await api('occupations?q=' + encodeURIComponent(q))).suggestions.map((o) => ({ ...o, label: o.name || o.code })),
    (o) => { if (!state.occupations.some((x) => x.code === o.code) && state.occupations.length < 16) state.occupations.push({ code: o.code, name: o.name || o.code }); renderOccupations(); });
  try {
    const r = await api('regions');
    state.regions = r.regions;
    state.names = new Map(r.regions);
    setupRegions();
  } catch (e) { showBanner(e); }
  try { await api('status'); } catch (e) { showBanner(e); }
  document.body.dataset.ready = 'true';
}

document.addEventListener('DOMContentLoaded', start);
