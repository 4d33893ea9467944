// End to end: the official @straddlecom/bridge-react component on a host
// page, pointed at a real `straddle` server with `appUrl`, in headless
// Chromium. Screenshots of every step land in artifacts/<run>/.
//
//   npm ci && npm test      (after `cargo build`; STRADDLE_BIN and
//                            CHROMIUM_PATH override the binary paths)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  api, bridgeToken, createCustomer, expiredCopy, launchBrowser, openHost, startHost,
  startStraddle, tabTo, widgetFrame,
} from './support.mjs';

const NARROW = { width: 390, height: 844 };
const WIDE = { width: 1280, height: 800 };

let server;
let host;
let browser;
let usedToken;

before(async () => {
  server = await startStraddle();
  host = await startHost();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await host?.stop();
  await server?.stop();
});

function hostQuery(token, manual) {
  return { token, appUrl: server.origin, manual: String(manual) };
}

/** Every request stayed on the two local origins, and CSP blocked nothing. */
function assertSelfContained(session) {
  const foreign = session.requests.filter((url) => !url.startsWith(server.origin) && !url.startsWith(host.origin));
  assert.deepEqual(foreign, [], 'no request leaves localhost');
  const blocked = session.consoleErrors.filter((text) => /Content Security Policy|Refused to/i.test(text));
  assert.deepEqual(blocked, [], 'the Content-Security-Policy blocked nothing');
}

/** The API returns the paykey the host's onSuccess received. */
async function assertPaykeyStored(response, expected) {
  assert.equal(response.response_type, 'object');
  assert.ok(response.meta.api_request_id);
  const stored = await api(server, 'GET', `/v1/paykeys/${response.data.id}`);
  assert.equal(stored.status, 200);
  for (const [field, value] of Object.entries(expected)) {
    assert.equal(response.data[field], value, `onSuccess ${field}`);
    assert.equal(stored.body.data[field], value, `stored ${field}`);
  }
  return stored.body.data;
}

test('manual entry in a narrow frame links a paykey that the API returns', async () => {
  const customerId = await createCustomer(server, 'Ron Swanson');
  const token = await bridgeToken(server, customerId, { external_id: 'e2e-manual-1' });
  const session = await openHost(browser, host, { run: 'manual-entry', viewport: NARROW, query: hostQuery(token, true) });
  const { widget } = session;

  await widget.getByRole('heading', { name: 'Link your bank account' }).waitFor();
  await session.shot('welcome');
  await widget.getByRole('button', { name: 'Enter bank details manually' }).click();
  await session.waitForEvent('manualEntry');
  await widget.getByLabel('Routing number').waitFor();
  await session.shot('manual-empty');

  await widget.getByRole('button', { name: 'Link account' }).click();
  await widget.getByText('Enter the 9-digit routing number.').waitFor();
  await session.shot('manual-required-fields');

  await widget.getByLabel('Routing number').fill('026009594');
  await widget.getByLabel('Account number', { exact: true }).fill('004417253381');
  await widget.getByLabel('Confirm account number').fill('004417253318');
  await widget.getByRole('button', { name: 'Link account' }).click();
  await widget.getByText('The account numbers don’t match.').waitFor();
  await session.shot('manual-mismatch');

  await widget.getByLabel('Confirm account number').fill('004417253381');
  await widget.getByRole('button', { name: 'Link account' }).click();
  await widget.getByText('Routing number check digit is invalid.').waitFor();
  await session.shot('manual-bad-check-digit');

  await widget.getByLabel('Routing number').fill('026009593');
  await widget.getByRole('radio', { name: 'Savings' }).check();
  await session.shot('manual-filled');
  await widget.getByRole('button', { name: 'Link account' }).click();

  const response = await session.waitForEvent('success');
  await widget.getByRole('heading', { name: 'Account linked' }).waitFor();
  await session.shot('manual-success');
  const paykey = await assertPaykeyStored(response, {
    source: 'bank_account',
    status: 'active',
    customer_id: customerId,
    external_id: 'e2e-manual-1',
    label: 'BANK OF AMERICA, N.A. - *3381',
  });
  assert.equal(paykey.bank_data.account_type, 'savings');
  assert.match(response.data.paykey, /^[0-9a-f]{8}\.02\.[0-9a-f]{7}$/);

  await widget.getByRole('button', { name: 'Done' }).click();
  await session.waitForEvent('successCTAClicked');
  await session.page.waitForSelector('#Straddle-widget-iframe', { state: 'detached' });
  await session.shot('host-after-done');
  assertSelfContained(session);
  usedToken = token;
  await session.close();
});

test('sandbox open banking in a wide frame, keyboard only, links a straddle paykey', async () => {
  const customerId = await createCustomer(server, 'Alberta Bobbeth Charleson');
  const token = await bridgeToken(server, customerId, {
    external_id: 'e2e-open-banking-1',
    config: { sandbox_outcome: 'standard' },
  });
  const session = await openHost(browser, host, { run: 'open-banking', viewport: WIDE, query: hostQuery(token, true) });
  const { page, widget } = session;
  const frame = await widgetFrame(page);

  await widget.getByRole('heading', { name: 'Link your bank account' }).waitFor();
  await session.shot('welcome');
  await tabTo(page, frame, 'Continue');
  await page.keyboard.press('Enter');
  await widget.getByRole('heading', { name: 'Select your bank' }).waitFor();
  await session.shot('institutions');

  await tabTo(page, frame, 'Search banks');
  await page.keyboard.type('platypus');
  await session.shot('institutions-search');
  await tabTo(page, frame, 'First Platypus Bank');
  await page.keyboard.press('Enter');
  await widget.getByRole('heading', { name: 'Sign in to First Platypus Bank' }).waitFor();
  await session.shot('sign-in');

  await tabTo(page, frame, 'Username');
  await page.keyboard.type('user_good');
  await tabTo(page, frame, 'Password');
  await page.keyboard.type('wrong-password');
  await page.keyboard.press('Enter');
  await widget.getByText('The username or password is incorrect.').waitFor();
  await session.shot('sign-in-wrong-password');

  await tabTo(page, frame, 'Password');
  await page.keyboard.type('pass_good');
  await page.keyboard.press('Enter');
  await widget.getByRole('heading', { name: 'Choose an account' }).waitFor();
  await session.shot('accounts');

  await tabTo(page, frame, 'Plaid Checking');
  await page.keyboard.press('Space');
  await tabTo(page, frame, 'Link account');
  await session.shot('account-chosen');
  await page.keyboard.press('Enter');

  const response = await session.waitForEvent('success');
  await widget.getByRole('heading', { name: 'Account linked' }).waitFor();
  await session.shot('success');
  const paykey = await assertPaykeyStored(response, {
    source: 'straddle',
    status: 'active',
    customer_id: customerId,
    external_id: 'e2e-open-banking-1',
    institution_name: 'FIRST PLATYPUS BANK',
    label: 'FIRST PLATYPUS BANK - *9606',
  });
  assert.equal(paykey.status_details.message, 'Successfully matched account holder with customer.');

  await tabTo(page, frame, 'Done');
  await page.keyboard.press('Enter');
  await session.waitForEvent('successCTAClicked');
  await page.waitForSelector('#Straddle-widget-iframe', { state: 'detached' });
  assertSelfContained(session);
  await session.close();
});

test('a reused token reaches onLoadError and the widget can be closed', async () => {
  assert.ok(usedToken, 'the manual-entry run used a token');
  const session = await openHost(browser, host, { run: 'reused-token', viewport: NARROW, query: hostQuery(usedToken, true) });
  const error = await session.waitForEvent('loadError');
  assert.equal(error.error_code, 'used_token');
  assert.equal(error.origin, server.origin);
  await session.widget.getByRole('heading', { name: 'This session is complete' }).waitFor();
  await session.shot('used-token');
  await session.widget.getByRole('button', { name: 'Close' }).click();
  await session.waitForEvent('close');
  await session.page.waitForSelector('#Straddle-widget-iframe', { state: 'detached' });
  assert.deepEqual(await session.events(), ['loadError', 'close']);
  await session.close();
});

test('an expired token reaches onLoadError', async () => {
  const customerId = await createCustomer(server, 'Leslie Knope');
  const token = expiredCopy(server, await bridgeToken(server, customerId));
  const session = await openHost(browser, host, { run: 'expired-token', viewport: WIDE, query: hostQuery(token, false) });
  const error = await session.waitForEvent('loadError');
  assert.equal(error.error_code, 'expired_token');
  await session.widget.getByRole('heading', { name: 'This session has expired' }).waitFor();
  await session.shot('expired-token');
  const reply = await api(server, 'GET', `/v1/paykeys?customer_id=${customerId}`);
  assert.deepEqual(reply.body.data, []);
  await session.close();
});

test('without allowManualEntry only bank sign-in is offered', async () => {
  const customerId = await createCustomer(server, 'Ann Perkins');
  const token = await bridgeToken(server, customerId);
  const session = await openHost(browser, host, { run: 'no-manual-entry', viewport: NARROW, query: hostQuery(token, false) });
  await session.widget.getByRole('heading', { name: 'Link your bank account' }).waitFor();
  await session.widget.getByRole('button', { name: 'Continue' }).click();
  await session.widget.getByRole('heading', { name: 'Select your bank' }).waitFor();
  await session.shot('institutions-without-manual-entry');
  assert.equal(await session.widget.getByRole('button', { name: 'Enter bank details manually' }).count(), 0);
  await session.widget.getByRole('button', { name: 'Close' }).click();
  await session.waitForEvent('close');
  await session.close();
});
