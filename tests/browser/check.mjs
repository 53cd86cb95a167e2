// Opens a ci-dashboard site in Debian's headless Chromium (never a downloaded browser) and checks
// that it is self-contained and safe:
//   - every page (the index and each run page it links) loads over file:// with no console
//     error, no page error, no dialog, and no request other than the page itself;
//   - no page has a <script> element;
//   - a run page shows evidence and a diff, and the log line `<script>alert(1)</script>` is
//     visible as text;
//   - at a phone's width (390 px) in dark mode nothing makes the page scroll sideways.
//
// Usage: node tests/browser/check.mjs <site>/index.html [--screenshot out.png]
// Exit code 0 when every check passes, 1 with one line per failed check otherwise, 2 on usage.
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const MARKER = '<script>alert(1)</script>';

const argv = process.argv.slice(2);
let index = null;
let screenshot = null;
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--screenshot') screenshot = argv[++i];
  else if (!index) index = argv[i];
  else {
    console.error(`unexpected argument: ${argv[i]}`);
    process.exit(2);
  }
}
if (!index || (screenshot === undefined)) {
  console.error('usage: node check.mjs <site>/index.html [--screenshot out.png]');
  process.exit(2);
}
if (!existsSync(CHROMIUM)) {
  console.error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
  process.exit(1);
}

const failures = [];
const fail = (msg) => failures.push(msg);
const profile = mkdtempSync(join(tmpdir(), 'ci-remedy-chromium-'));
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1200, height: 900 },
    colorScheme: 'light',
    timeout: 20000,
  });
  const indexUrl = pathToFileURL(resolve(index)).href;

  // Loads `url` in a fresh tab and records everything that is not allowed.
  async function open(url, label) {
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') fail(`${label}: console error: ${m.text()}`);
    });
    page.on('pageerror', (err) => fail(`${label}: page error: ${err.message}`));
    page.on('dialog', async (d) => {
      fail(`${label}: a dialog opened (${d.type()}: ${d.message()})`);
      await d.dismiss();
    });
    page.on('request', (r) => {
      const u = r.url();
      if (u !== url && !u.startsWith('data:')) fail(`${label}: request to ${u}`);
    });
    const resp = await page.goto(url, { waitUntil: 'load', timeout: 10000 });
    if (resp && !resp.ok()) fail(`${label}: status ${resp.status()}`);
    const scripts = await page.locator('script').count();
    if (scripts !== 0) fail(`${label}: ${scripts} <script> element(s) in the page`);
    return page;
  }

  const home = await open(indexUrl, 'index');
  if ((await home.locator('svg').count()) < 1) fail('index: no history chart (inline SVG)');
  const hrefs = await home.locator('a[href^="runs/"]').evaluateAll((as) => as.map((a) => a.href));
  if (hrefs.length === 0) fail('index: no links to run pages');
  await home.close();

  let shown = null;
  for (const href of hrefs) {
    const label = href.split('/runs/')[1] || href;
    const page = await open(href, label);
    const evidence = page.locator('pre.evidence');
    const diffAdds = page.locator('pre.diff .ln.add');
    const marker = evidence.filter({ hasText: MARKER });
    if ((await marker.count()) > 0) {
      if ((await evidence.count()) === 0) fail(`${label}: no evidence block`);
      if ((await diffAdds.count()) === 0) fail(`${label}: no diff with added lines`);
      const line = page.locator('pre.evidence .ln', { hasText: MARKER }).first();
      if (!(await line.isVisible())) fail(`${label}: the <script> log line is not visible`);
      const text = await line.textContent();
      if (!text.includes(MARKER)) fail(`${label}: the <script> log line is not shown as text`);
      shown = { page, label };
    } else {
      await page.close();
    }
  }
  if (!shown) {
    fail(`no run page shows an evidence line containing ${MARKER} as text`);
  } else {
    // A phone in dark mode: nothing may make the page scroll sideways.
    await shown.page.emulateMedia({ colorScheme: 'dark' });
    await shown.page.setViewportSize({ width: 390, height: 844 });
    const { sw, w, bg } = await shown.page.evaluate(() => ({
      sw: document.documentElement.scrollWidth,
      w: window.innerWidth,
      bg: getComputedStyle(document.body).backgroundColor,
    }));
    if (sw > w) fail(`${shown.label}: at 390 px the page is ${sw} px wide (scrolls sideways)`);
    if (bg === 'rgb(255, 255, 255)') fail(`${shown.label}: dark mode leaves a white background`);
    if (screenshot) {
      await shown.page.emulateMedia({ colorScheme: 'light' });
      await shown.page.setViewportSize({ width: 1100, height: 900 });
      await shown.page.screenshot({ path: screenshot, fullPage: false });
    }
  }
} catch (err) {
  fail(`browser: ${err && err.message ? err.message : err}`);
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}

if (failures.length) {
  for (const f of failures) console.error(`FAIL ${f}`);
  process.exit(1);
}
console.log('ok: pages load offline with no console errors or requests; evidence, diff and the <script> line as text');
