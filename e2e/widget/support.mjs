// Test support: the real `straddle` binary on a scratch SQLite database, the
// host page bundled with esbuild and served from a second localhost origin, a
// small API client, and headless Chromium (Debian's, through playwright-core).
import { spawn, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';

const here = fileURLToPath(new URL('.', import.meta.url));
export const ARTIFACTS = join(here, 'artifacts');
const BINARY = process.env.STRADDLE_BIN || join(here, '..', '..', 'target', 'debug', 'straddle');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** The straddle server on 127.0.0.1:<free port> with a fresh platform account. */
export async function startStraddle() {
  const dir = mkdtempSync(join(tmpdir(), 'straddle-widget-e2e-'));
  const databaseUrl = `sqlite://${dir}/straddle.db`;
  const env = { ...process.env, STRADDLE_SECRETS_FILE: join(dir, 'secrets.json'), RUST_LOG: 'warn' };
  const created = JSON.parse(execFileSync(BINARY, [
    'admin', 'bootstrap', '--database-url', databaseUrl, '--name', 'Acme Tutoring', '--output', 'json',
  ], { env, encoding: 'utf8' }));
  const child = spawn(BINARY, ['serve', '--addr', '127.0.0.1:0', '--database-url', databaseUrl], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const origin = await new Promise((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const match = output.match(/listening on (http:\/\/\S+)/);
      if (match) resolve(match[1]);
    });
    child.on('exit', (code) => reject(new Error(`straddle serve exited with ${code}: ${output}`)));
  });
  return {
    origin,
    apiKey: created.api_key,
    secretsFile: env.STRADDLE_SECRETS_FILE,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Calls the platform API with the account's key; returns {status, body}. */
export async function api(server, method, path, body) {
  const response = await fetch(server.origin + path, {
    method,
    headers: { Authorization: `Bearer ${server.apiKey}`, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: await response.json() };
}

/** A new customer named `name`; returns its id. */
export async function createCustomer(server, name) {
  const unique = `${Date.now()}-${Math.random().toString(16).slice(2)}`;
  const reply = await api(server, 'POST', '/v1/customers', {
    name,
    type: 'individual',
    email: `e2e-${unique}@example.com`,
    phone: '+12128675309',
    device: { ip_address: '203.0.113.7' },
  });
  if (reply.status !== 201) throw new Error(`customer: ${JSON.stringify(reply.body)}`);
  return reply.body.data.id;
}

/** A bridge token from POST /v1/bridge/initialize. */
export async function bridgeToken(server, customerId, extra = {}) {
  const reply = await api(server, 'POST', '/v1/bridge/initialize', { customer_id: customerId, ...extra });
  if (reply.status !== 200) throw new Error(`initialize: ${JSON.stringify(reply.body)}`);
  return reply.body.data.bridge_token;
}

/**
 * The same token re-signed with its `exp` in the past. The signing key is
 * derived from the server's secrets file the way the server derives it
 * (`Secrets::bridge_key`), so only the expiry is wrong.
 */
export function expiredCopy(server, token) {
  const secrets = JSON.parse(readFileSync(server.secretsFile, 'utf8'));
  const key = createHmac('sha256', Buffer.from(secrets.jwt_key, 'base64'))
    .update('straddle bridge token key v1')
    .digest();
  const [header, payload] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  const now = Math.floor(Date.now() / 1000);
  Object.assign(claims, { iat: now - 5 * 3600, exp: now - 3600 });
  const body = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

/** Bundles the host page (React, the host component, JSX) into dist/. */
async function buildHost(dist) {
  rmSync(dist, { recursive: true, force: true });
  await build({
    entryPoints: [join(here, 'host', 'main.jsx')],
    bundle: true,
    outdir: dist,
    jsx: 'automatic',
    minify: true,
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  copyFileSync(join(here, 'host', 'index.html'), join(dist, 'index.html'));
}

/** Builds the host page and serves it from its own origin. */
export async function startHost() {
  const dist = join(here, 'dist');
  await buildHost(dist);
  const server = createServer((request, response) => {
    const path = new URL(request.url, 'http://host').pathname;
    const file = normalize(join(dist, path === '/' ? 'index.html' : path));
    if (!file.startsWith(dist)) {
      response.writeHead(403).end();
      return;
    }
    try {
      const body = readFileSync(file);
      response.writeHead(200, { 'Content-Type': TYPES[extname(file)] || 'application/octet-stream' }).end(body);
    } catch {
      response.writeHead(404).end('not found');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Headless Debian Chromium. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/**
 * A page of the host app, with every request and console message recorded
 * and screenshots numbered under artifacts/<run>/.
 */
export async function openHost(browser, host, { run, viewport, query }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const requests = [];
  const consoleErrors = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  const directory = join(ARTIFACTS, run);
  rmSync(directory, { recursive: true, force: true });
  mkdirSync(directory, { recursive: true });
  let step = 0;
  await page.goto(`${host.origin}/?${new URLSearchParams(query)}`);
  return {
    page,
    requests,
    consoleErrors,
    widget: page.frameLocator('#Straddle-widget-iframe'),
    async shot(name) {
      step += 1;
      await page.screenshot({ path: join(directory, `${String(step).padStart(2, '0')}-${name}.png`) });
    },
    events: () => page.evaluate(() => window.__bridgeEvents.map((e) => e.name)),
    async waitForEvent(name) {
      await page.waitForFunction((n) => window.__bridgeEvents.some((e) => e.name === n), name, { timeout: 15000 });
      return page.evaluate((n) => window.__bridgeEvents.find((e) => e.name === n).payload, name);
    },
    close: () => context.close(),
  };
}

/** The widget's frame (for keyboard checks inside it). */
export async function widgetFrame(page) {
  const handle = await page.waitForSelector('#Straddle-widget-iframe');
  return handle.contentFrame();
}

/**
 * Keyboard only: presses Tab until the focused control in the widget is
 * named `name` (its aria-label, label or text starts with it), then
 * returns. Fails when Tab never reaches it.
 */
export async function tabTo(page, frame, name) {
  for (let presses = 0; presses < 40; presses += 1) {
    const focused = await frame.evaluate(() => {
      const element = document.activeElement;
      if (!document.hasFocus() || !element || element === document.body) return '';
      const visible = (node) => {
        const copy = node.cloneNode(true);
        copy.querySelectorAll('[aria-hidden="true"]').forEach((hidden) => hidden.remove());
        return copy.textContent;
      };
      const label = element.labels && element.labels[0];
      return (element.getAttribute('aria-label') || (label ? visible(label) : visible(element)))
        .replace(/\s+/g, ' ').trim();
    });
    if (focused.startsWith(name)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached "${name}"`);
}
