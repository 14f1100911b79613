// kiosk.test.mjs - jobmatch-kiosk end to end in headless Chromium.
//
// Usage: node tests/browser/kiosk.test.mjs BUILD_DIR
//
// Generates a demo data set (jmgen), loads it into a fresh jobmatchd, starts
// jobmatch-kiosk beside it, and uses the page as a job seeker would: picks
// the district, age, education, skills and desired occupation by typing,
// gets ranked openings and checks them against the daemon's own answer
// (match.vacancies through the jobmatch CLI), reads the chart, switches to
// English, tries bad input and a stopped daemon. Screenshots go to
// BUILD_DIR/kiosk-*.png. Chromium is Debian's (/usr/bin/chromium, or
// $CHROMIUM); playwright-core only drives it.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const build = resolve(process.argv[2] || join(root, 'build'));
const bin = (name) => join(build, name);
const browserPath = process.env.CHROMIUM || '/usr/bin/chromium';
const started = Date.now();
const children = [];
const dir = mkdtempSync(join(tmpdir(), 'jobmatch-kiosk-browser-'));
// Whatever ends this process, the daemon and the kiosk end with it.
process.on('exit', () => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL'); });

function step(what) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${what}`);
}

async function waitForFile(path, child, what) {
  for (let i = 0; i < 300; i++) {
    if (existsSync(path) && readFileSync(path, 'utf8').trim()) return readFileSync(path, 'utf8').trim().split('\n')[0];
    if (child.exitCode !== null) throw new Error(`${what} exited (status ${child.exitCode}) before it was ready`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} was not ready after 30 s`);
}

function start(exe, args, what) {
  const child = spawn(exe, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  children.push(child);
  child.what = what;
  return child;
}

function stop(child) {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); });
}

function cli(addr, args, input) {
  return execFileSync(bin('jobmatch'), ['-a', addr, ...args], { input, encoding: 'utf8' });
}

// Reference data, to type names as a person would.
function csv(file) {
  return readFileSync(join(root, 'data', file), 'utf8').trim().split('\n').slice(1).map((line) => {
    const out = []; let cur = ''; let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i];
      if (quoted) {
        if (ch === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (ch === '"') quoted = false; else cur += ch;
      } else if (ch === '"') quoted = true; else if (ch === ',') { out.push(cur); cur = ''; } else cur += ch;
    }
    out.push(cur);
    return out;
  });
}

async function main() {
  for (const exe of ['jobmatchd', 'jobmatch', 'jmgen', 'jobmatch-kiosk']) {
    if (!existsSync(bin(exe))) throw new Error(`${bin(exe)} is missing: build first`);
  }
  if (!existsSync(browserPath)) throw new Error(`${browserPath} is missing: apt-get install chromium`);

  step('demo data and daemon');
  const now = Math.floor(Date.now() / 1000);
  execFileSync(bin('jmgen'), ['--data', join(root, 'data'), '--seed', '20240601', '--now', String(now),
    '--vacancies', '3000', '--out-vacancies', join(dir, 'vacancies.jsonl'),
    '--workers', '3000', '--out-workers', join(dir, 'workers.jsonl')]);
  const daemonArgs = ['--listen', '127.0.0.1:0', '--data', join(dir, 'var'), '--ready-file', join(dir, 'ready'),
    '--secret-key-file', join(dir, 'secret.key'), '--log-level', 'warn'];
  execFileSync(bin('jobmatchd'), ['--gen-secret-key', join(dir, 'secret.key')]);
  process.env.JOBMATCH_ADMIN_KEY = 'browser-test-admin-key';
  const daemon = start(bin('jobmatchd'), daemonArgs, 'jobmatchd');
  const addr = await waitForFile(join(dir, 'ready'), daemon, 'jobmatchd');
  const admin = ['-k', process.env.JOBMATCH_ADMIN_KEY];
  cli(addr, [...admin, 'import', 'vacancies', join(dir, 'vacancies.jsonl')]);
  cli(addr, [...admin, 'import', 'workers', join(dir, 'workers.jsonl')]);

  const kiosk = start(bin('jobmatch-kiosk'), ['--listen', '127.0.0.1:0', '--daemon', addr,
    '--ready-file', join(dir, 'kiosk-ready')], 'jobmatch-kiosk');
  const url = await waitForFile(join(dir, 'kiosk-ready'), kiosk, 'jobmatch-kiosk');

  // A job seeker shaped after an open vacancy, so there is something to find.
  const regions = new Map(csv('cn_admin_divisions_mca_2024.csv'));
  const skillNames = new Map(csv('skills.csv'));
  const skillNamesZh = new Map(csv('skills_zh.csv'));
  const occupationNames = new Map(csv('cn_occupation_classification_2022.csv').map((r) => [r[1], r[2]]));
  const target = readFileSync(join(dir, 'vacancies.jsonl'), 'utf8').trim().split('\n').map(JSON.parse)
    .find((v) => v.status === 'open' && (!v.expires || v.expires > now + 86400) && v.skills.length >= 2
      && v.skills[0].id.startsWith('onet:') // a skill with a Chinese name, typed in Chinese below
      && (!v.age_min || v.age_min <= 35) && (!v.age_max || v.age_max >= 35)
      && (v.education_min || 0) <= 7);
  const age = 35;
  const seeker = {
    region: target.region, age, education: 7, wage: target.wage_max ? Math.min(3000, target.wage_max) : 3000,
    skills: target.skills.slice(0, 2), occupation: target.occupation,
  };
  const province = seeker.region.slice(0, 2) + '0000';
  const prefecture = seeker.region.slice(0, 4) + '00';
  const cityChoice = regions.has(prefecture) ? prefecture : seeker.region;

  step(`browser: ${url}`);
  const browser = await chromium.launch({ executablePath: browserPath, headless: true,
    args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1080, height: 1920 } });
    const requests = [];
    page.on('request', (r) => requests.push(r.url()));
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.locator('h1').textContent(), '就业服务自助终端', 'Chinese by default');
    assert.ok(await page.locator('#banner').isHidden(), 'no warning while the daemon is up');

    step('bad input: no district, no age');
    await page.click('#search');
    assert.match(await page.locator('#form-error').textContent(), /区县/);
    await page.selectOption('#province', province);
    await page.selectOption('#city', cityChoice);
    if (cityChoice !== seeker.region) await page.selectOption('#county', seeker.region);
    await page.fill('#age', '7');
    await page.click('#search');
    assert.match(await page.locator('#form-error').textContent(), /年龄/);
    assert.equal(await page.locator('#age').getAttribute('aria-invalid'), 'true');

    step('fill the form');
    await page.fill('#age', String(seeker.age));
    await page.selectOption('#education', String(seeker.education));
    await page.fill('#wage', String(seeker.wage));
    for (const [i, s] of seeker.skills.entries()) {
      // The first by its Chinese name where it has one, as a job seeker would type it.
      await page.fill('#skill-input', (i === 0 && skillNamesZh.get(s.id)) || skillNames.get(s.id));
      await page.click(`#skill-suggestions button[data-code="${s.id}"]`);
      await page.selectOption(`#skills-chosen select[data-skill="${s.id}"]`, String(s.level));
    }
    const occName = occupationNames.get(seeker.occupation).replace(/(L\/S|S|L)$/, '');
    await page.fill('#occ-input', occName);
    await page.click(`#occ-suggestions button[data-code="${seeker.occupation}"]`);
    assert.equal(await page.locator('#occ-chosen li').count(), 1);
    await page.selectOption('#scope', 'city');

    step('search');
    await page.click('#search');
    await page.waitForSelector('#results li.match');
    await page.waitForSelector('#chart .bars');
    const shown = await page.$$eval('#results li.match', (lis) => lis.map((li) => ({
      id: li.dataset.id, score: Number(li.dataset.score), reason: li.querySelector('.reason').textContent,
      title: li.querySelector('h3').textContent })));

    // The daemon's own answer to the same profile.
    const profile = {
      region: seeker.region, birth_year: new Date().getUTCFullYear() - seeker.age, education: seeker.education,
      wage_min: seeker.wage, skills: seeker.skills, desired_occupations: [seeker.occupation],
    };
    const own = JSON.parse(cli(addr, ['match', 'vacancies', '--profile', '-', '--scope', 'city', '--limit', '10',
      '--json'], JSON.stringify(profile))).matches;
    assert.ok(own.length > 0, 'the daemon finds matches for the profile');
    assert.deepEqual(shown.map((m) => m.id), own.map((m) => m.id), 'the page shows the daemon\'s ranking');
    shown.forEach((m, i) => assert.ok(Math.abs(m.score - own[i].score) < 1e-9, `score of ${m.id}`));
    assert.ok(shown.map((m) => m.id).includes(target.id), 'the vacancy the seeker was shaped after is found');
    const top = shown.find((m) => m.id === target.id);
    assert.match(top.reason, /正是您想做的工作/, 'the reason names the occupation');
    const shownSkill = skillNamesZh.get(seeker.skills[0].id) || skillNames.get(seeker.skills[0].id);
    assert.match(top.reason, new RegExp(shownSkill.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
      'the reason names a shared skill');
    const vacancy = JSON.parse(cli(addr, ['get', 'vacancy', target.id]));
    assert.equal(top.title, (vacancy.vacancy || vacancy).title, 'the title is the stored one');

    step('chart against stats.supply_demand');
    const bars = await page.$$eval('#chart .bars', (bs) => bs.map((b) => ({
      group: b.dataset.group, openings: Number(b.dataset.openings), applicants: Number(b.dataset.applicants) })));
    const stats = JSON.parse(cli(addr, ['stats', 'supply-demand', '--period', String(new Date().getUTCFullYear()),
      '--region', seeker.region.slice(0, 4), '--by', 'middle', '--json']));
    assert.ok(bars.length > 0, 'the chart has bars');
    for (const b of bars) {
      const g = stats.groups.find((x) => x.group === b.group);
      assert.ok(g, `group ${b.group} is in the daemon's figures`);
      assert.equal(b.openings, g.openings);
      assert.equal(b.applicants, g.applicants);
    }
    await page.screenshot({ path: join(build, 'kiosk-zh.png'), fullPage: true });

    step('English');
    await page.click('#lang');
    assert.equal(await page.locator('h1').textContent(), 'Job kiosk');
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    const reasonEn = await page.locator(`#results li.match[data-id="${target.id}"] .reason`).textContent();
    assert.match(reasonEn, /it is the work you want/i);
    assert.match(await page.locator('#chart-title').textContent(), /openings and applicants/);
    await page.screenshot({ path: join(build, 'kiosk-en.png'), fullPage: true });

    step('daemon down');
    await stop(daemon);
    await page.click('#search');
    await page.waitForSelector('#banner:not([hidden])');
    assert.match(await page.locator('#banner').textContent(), /cannot be reached/);
    assert.match(await page.locator('#form-error').textContent(), /cannot be done just now/);
    assert.ok(await page.locator('#results-section').isHidden(), 'no stale results beside the warning');

    step('start over');
    await page.click('#start-over');
    assert.equal(await page.inputValue('#age'), '');
    assert.equal(await page.inputValue('#province'), '');
    assert.equal(await page.locator('#skills-chosen li').count(), 0);
    assert.equal(await page.locator('#occ-chosen li').count(), 0);
    assert.ok(await page.locator('#results-section').isHidden());
    assert.ok(await page.locator('#form-error').isHidden());
    assert.equal(await page.locator('h1').textContent(), 'Job kiosk', 'the language stays');

    const foreign = requests.filter((r) => !r.startsWith(url));
    assert.deepEqual(foreign, [], 'the page loads nothing from elsewhere');
    assert.deepEqual(pageErrors, [], 'no script error on the page');
    await page.screenshot({ path: join(build, 'kiosk-down.png'), fullPage: true });
  } finally {
    await browser.close();
  }
  await stop(kiosk);
  assert.equal(kiosk.exitCode, 0, 'the kiosk stops cleanly on SIGTERM (and, in a sanitizer build, without a report)');
  step(`passed; screenshots in ${build}/kiosk-{zh,en,down}.png`);
}

let status = 0;
try {
  await main();
} catch (e) {
  console.error('kiosk browser test FAILED:', e);
  status = 1;
} finally {
  await Promise.all(children.map(stop));
  rmSync(dir, { recursive: true, force: true });
}
process.exit(status);
