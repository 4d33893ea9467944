// The Bridge widget page. It talks to the host page through the
// `@straddlecom/js-bridge/*` postMessage protocol (spec §B.10) and to this
// server's widget API with the bridge token the host sends in `initialize`.
// Messages go only to the parent origin named in the page's URL, and only
// messages from that origin's parent window are read.
'use strict';

(function () {
  const PREFIX = '@straddlecom/js-bridge/';
  const LEGACY_PREFIX = '@straddleio/js-bridge/';
  const START_TIMEOUT_MS = 15000;

  const query = new URLSearchParams(window.location.search);
  const parentOrigin = `${query.get('parentOriginProtocol')}://${query.get('parentOriginURL')}`;
  const allowManualEntry = query.get('allowManualEntry') === 'true';
  const embedded = window.parent !== window;

  const ui = {
    screen: document.getElementById('screen'),
    back: document.getElementById('back'),
    close: document.getElementById('close'),
    brand: document.getElementById('brand-name'),
    badge: document.getElementById('sandbox-badge'),
  };

  const session = {
    token: null,
    info: null,
    institutions: null,
    institution: null,
    credentials: null,
    accounts: [],
    debug: false,
    startTimer: null,
    backAction: null,
  };

  const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });

  // ---- Protocol ----------------------------------------------------------

  function send(type, fields) {
    if (!embedded) return;
    window.parent.postMessage(Object.assign({ type: PREFIX + type }, fields), parentOrigin);
  }

  function debugLog(...values) {
    if (session.debug) {
      send('console', { method: 'log', payload: values.map((v) => JSON.stringify(v)) });
    }
  }

  function onMessage(event) {
    if (event.origin !== parentOrigin || event.source !== window.parent) return;
    const data = event.data || {};
    const type = typeof data.type === 'string' ? data.type.replace(LEGACY_PREFIX, PREFIX) : '';
    if (type === `${PREFIX}initialize` && typeof data.token === 'string') {
      start(data.token);
    } else if (type === `${PREFIX}debug`) {
      session.debug = data.enable === true;
      debugLog('debug', session.debug);
    }
  }

  function mount() {
    send('mounted');
    session.startTimer = window.setTimeout(() => {
      if (!session.token) show(stalledScreen());
    }, START_TIMEOUT_MS);
  }

  async function start(token) {
    if (session.token) return;
    window.clearTimeout(session.startTimer);
    session.token = token;
    send('initializing');
    await loadSession();
  }

  async function loadSession() {
    show(busyScreen('Connecting securely…'));
    try {
      session.info = (await api('GET', 'session')).data;
    } catch (failure) {
      fail(failure);
      return;
    }
    send('initialized');
    ui.brand.textContent = session.info.account_name;
    ui.badge.hidden = session.info.environment !== 'sandbox';
    debugLog('session', session.info);
    show(welcomeScreen());
  }

  // ---- Widget API --------------------------------------------------------

  class Failure extends Error {
    constructor(status, body) {
      super((body && body.error && body.error.detail) || 'Request failed');
      this.status = status;
      this.items = (body && body.error && body.error.items) || [];
    }

    get tokenCode() {
      const item = this.items.find((i) => i.reference === 'bridge_token');
      return item ? item.detail : null;
    }

    fieldErrors() {
      return Object.fromEntries(this.items.map((i) => [i.reference, i.detail]));
    }
  }

  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${session.token}` };
    if (body) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(`/widget/api/${path}`, {
        method,
        headers,
        body: body ? JSON.stringify(body) : undefined,
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch (error) {
      throw new Failure(0, null);
    }
    const json = await response.json().catch(() => null);
    if (!response.ok) throw new Failure(response.status, json);
    return json;
  }

  // A refused token ends the session (and reaches the host's onLoadError);
  // anything else offers a retry.
  function fail(failure) {
    const code = failure instanceof Failure ? failure.tokenCode : null;
    if (code) {
      send('error', { payload: { error_code: code, message: failure.message } });
      show(tokenScreen(code));
    } else {
      show(problemScreen(failure));
    }
  }

  // ---- Rendering ---------------------------------------------------------

  const ICONS = {
    alert: '<circle cx="12" cy="12" r="9"/><path d="M12 7.5v5.5M12 16.5v.01"/>',
    bank: '<path d="M3 10h18M5 10v8M9.5 10v8M14.5 10v8M19 10v8M3 21h18M12 3l9 5H3z"/>',
    check: '<path d="M5 12.5l4.5 4.5L19 7.5"/>',
    chevron: '<path d="M9 5l7 7-7 7"/>',
    clock: '<circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 2"/>',
    eye: '<path d="M3 3l18 18M10.6 5.1A10.5 10.5 0 0 1 12 5c5 0 9 4.5 10 7-.4 1-1.2 2.3-2.3 3.5M6.6 6.6C4.4 8 2.8 10.2 2 12c1 2.5 5 7 10 7 1.8 0 3.4-.6 4.8-1.4M9.9 9.9a3 3 0 0 0 4.2 4.2"/>',
    link: '<path d="M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1"/>',
    lock: '<rect x="5" y="11" width="14" height="10" rx="2"/><path d="M8 11V8a4 4 0 0 1 8 0v3"/>',
    search: '<circle cx="11" cy="11" r="7"/><path d="M20 20l-4-4"/>',
    shield: '<path d="M12 3l8 3v6c0 4.5-3.4 8.3-8 9-4.6-.7-8-4.5-8-9V6z"/><path d="M8.5 12l2.5 2.5 4.5-5"/>',
    store: '<path d="M4 10v10h16V10M3 4h18l-1 6H4zM9 20v-6h6v6"/>',
  };

  function icon(name) {
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    // The markup is one of the constant strings above, never data.
    svg.innerHTML = ICONS[name];
    return svg;
  }

  // h('p', {class: 'x', onclick: fn}, 'text', child): an element whose text
  // is always set as text, never parsed as markup.
  function h(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === false || value === null || value === undefined) continue;
      if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? '' : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // A screen is {title, lead?, body: [nodes], back?: fn, closable?: bool,
  // focus?: element}. The title gets focus so screen readers announce it.
  function show(screen) {
    const title = h('h1', { id: 'screen-title', tabindex: '-1', class: screen.titleClass }, screen.title);
    const lead = screen.lead ? h('p', { class: 'lead' }, screen.lead) : null;
    const nodes = [...(screen.before || []), title, lead, ...screen.body].filter(Boolean);
    if (screen.wrap) ui.screen.replaceChildren(h('div', { class: 'centered' }, nodes));
    else ui.screen.replaceChildren(...nodes);
    session.backAction = screen.back || null;
    ui.back.hidden = !screen.back;
    ui.close.hidden = screen.closable === false;
    (screen.focus || title).focus();
  }

  function button(label, onclick, kind) {
    return h('button', { type: 'button', class: `btn btn-${kind || 'primary'}`, onclick }, label);
  }

  function submitButton(label) {
    return h('button', { type: 'submit', class: 'btn btn-primary' }, label);
  }

  function setBusy(form, busyLabel) {
    const submit = form.querySelector('button[type="submit"]');
    const label = submit.textContent;
    form.querySelectorAll('input, button').forEach((control) => { control.disabled = true; });
    submit.replaceChildren(h('span', { class: 'spinner', 'aria-hidden': 'true' }), busyLabel);
    return () => {
      form.querySelectorAll('input, button').forEach((control) => { control.disabled = false; });
      submit.replaceChildren(label);
    };
  }

  function alertBox(message) {
    return h('p', { class: 'alert', role: 'alert' }, icon('alert'), h('span', {}, message));
  }

  // A labelled text input with an optional hint and an error slot.
  function field({ id, label, hint, type, inputmode, autocomplete, maxlength, mono }) {
    const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
    const hintNode = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
    const input = h('input', {
      id,
      name: id,
      type: type || 'text',
      inputmode,
      autocomplete: autocomplete || 'off',
      maxlength,
      spellcheck: 'false',
      autocapitalize: 'off',
      class: mono ? 'mono' : null,
      'aria-describedby': hint ? `${id}-hint` : null,
    });
    const wrapper = h('div', { class: 'field' }, h('label', { for: id }, label), hintNode, input, error);
    const setError = (message) => {
      error.hidden = !message;
      error.replaceChildren(...(message ? [icon('alert'), h('span', {}, message)] : []));
      input.setAttribute('aria-invalid', message ? 'true' : 'false');
      const described = [hint ? `${id}-hint` : null, message ? `${id}-error` : null].filter(Boolean);
      if (described.length) input.setAttribute('aria-describedby', described.join(' '));
    };
    return { wrapper, input, setError };
  }

  function radio(name, value, label, checked, extra) {
    return h(
      'label',
      { class: `choice${extra ? ' account-choice' : ''}` },
      h('input', { type: 'radio', name, value, checked }),
      extra ? extra : h('span', {}, label),
    );
  }

  function initials(name) {
    return name.split(/\s+/).filter((w) => /^[A-Z]/.test(w)).slice(0, 2).map((w) => w[0]).join('');
  }

  function avatar(name, index, large) {
    return h('span', { class: `avatar tone-${index % 5}${large ? ' large' : ''}`, 'aria-hidden': 'true' }, initials(name));
  }

  function appName() {
    return session.info ? session.info.account_name : 'the app';
  }

  function accountTypeName(type) {
    return type === 'savings' ? 'Savings' : 'Checking';
  }

  // ---- Screens -----------------------------------------------------------

  function busyScreen(message) {
    return {
      title: message,
      titleClass: 'subtle-title',
      before: [h('span', { class: 'spinner', 'aria-hidden': 'true' })],
      body: [],
      wrap: true,
    };
  }

  function welcomeScreen() {
    const canSignIn = session.info.open_banking;
    const actions = [
      canSignIn ? button('Continue', openInstitutions) : null,
      allowManualEntry ? button('Enter bank details manually', openManualEntry, canSignIn ? 'secondary' : 'primary') : null,
    ];
    const none = !canSignIn && !allowManualEntry;
    return {
      before: [h('div', { class: 'hero' },
        h('span', { class: 'hero-icon' }, icon('store')),
        h('span', { class: 'hero-link' }, icon('link')),
        h('span', { class: 'hero-icon' }, icon('bank')))],
      title: 'Link your bank account',
      lead: `${appName()} uses this secure connection to verify your bank account for payments.`,
      body: [
        h('ul', { class: 'points' },
          h('li', {}, h('span', { class: 'point-icon' }, icon('shield')),
            h('div', {}, h('strong', {}, 'Secure'), h('span', {}, 'Your details are encrypted and used only to verify this account.'))),
          h('li', {}, h('span', { class: 'point-icon' }, icon('eye')),
            h('div', {}, h('strong', {}, 'Private'), h('span', {}, `${appName()} never sees your bank sign-in details.`)))),
        none ? alertBox(`No way to link an account is available here. Please contact ${appName()}.`) : null,
        h('div', { class: 'actions' }, ...actions,
          h('p', { class: 'fine-print' }, 'By continuing you agree that your account ownership may be verified with your bank.')),
      ],
    };
  }

  function openManualEntry() {
    send('on-manual-entry');
    show(manualScreen());
  }

  async function openInstitutions() {
    if (!session.institutions) {
      show(busyScreen('Loading banks…'));
      try {
        session.institutions = (await api('GET', 'institutions')).data;
      } catch (failure) {
        fail(failure);
        return;
      }
    }
    show(institutionsScreen());
  }

  function institutionsScreen() {
    const list = h('ul', { class: 'banks', 'aria-label': 'Banks' });
    const search = h('input', { type: 'search', id: 'bank-search', placeholder: 'Search banks', autocomplete: 'off' });
    const render = () => {
      const term = search.value.trim().toLowerCase();
      const matches = session.institutions.filter((i) => i.name.toLowerCase().includes(term));
      list.replaceChildren(...matches.map((institution) => h('li', {},
        h('button', { type: 'button', class: 'bank', onclick: () => show(signInScreen(institution)) },
          avatar(institution.name, session.institutions.indexOf(institution)),
          h('span', { class: 'bank-name' }, institution.name),
          icon('chevron')))));
      if (!matches.length) list.append(h('li', { class: 'empty' }, `No banks match “${search.value.trim()}”.`));
    };
    search.addEventListener('input', render);
    render();
    return {
      title: 'Select your bank',
      back: () => show(welcomeScreen()),
      body: [
        h('div', { class: 'search' }, h('label', { for: 'bank-search', class: 'visually-hidden' }, 'Search banks'), icon('search'), search),
        list,
        allowManualEntry ? h('div', { class: 'actions' },
          h('p', { class: 'link-note' }, 'Don’t see your bank?'),
          button('Enter bank details manually', openManualEntry, 'secondary')) : null,
      ],
    };
  }

  function signInScreen(institution) {
    session.institution = institution;
    const username = field({ id: 'username', label: 'Username', autocomplete: 'username' });
    const password = field({ id: 'password', label: 'Password', type: 'password', autocomplete: 'current-password' });
    const errorSlot = h('div', {});
    const sandbox = session.info.environment === 'sandbox';
    const form = h('form', { novalidate: true },
      errorSlot,
      sandbox ? h('p', { class: 'note' }, icon('alert'), h('span', {},
        'Sandbox: sign in with ', h('code', {}, 'user_good'), ' / ', h('code', {}, 'pass_good'), '.')) : null,
      username.wrapper,
      password.wrapper,
      h('div', { class: 'actions' }, submitButton('Continue')));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const credentials = { username: username.input.value, password: password.input.value };
      const done = setBusy(form, 'Signing in…');
      let reply;
      try {
        reply = await api('POST', 'open_banking/accounts', Object.assign({ institution_id: institution.id }, credentials));
      } catch (failure) {
        done();
        const refused = failure instanceof Failure && !failure.tokenCode && failure.fieldErrors().credentials;
        if (!refused) {
          fail(failure);
          return;
        }
        errorSlot.replaceChildren(alertBox(refused));
        password.input.value = '';
        username.input.focus();
        return;
      }
      session.credentials = credentials;
      session.accounts = reply.data;
      show(accountsScreen());
    });
    return {
      before: [avatar(institution.name, session.institutions.indexOf(institution), true)],
      title: `Sign in to ${institution.name}`,
      lead: `Enter your ${institution.name} online banking credentials.`,
      back: () => show(institutionsScreen()),
      body: [form],
      focus: username.input,
    };
  }

  function accountsScreen() {
    const institution = session.institution;
    const errorSlot = h('div', {});
    const options = session.accounts.map((account) => radio('account', account.id, account.name, false,
      [h('span', { class: 'account-main' }, h('span', {}, account.name),
        h('small', {}, `${accountTypeName(account.account_type)} •••• ${account.mask}`)),
      h('span', { class: 'account-balance' }, money.format(account.balance_cents / 100))]));
    const form = h('form', { novalidate: true },
      errorSlot,
      h('fieldset', {}, h('legend', { class: 'visually-hidden' }, `Accounts at ${institution.name}`), ...options),
      h('div', { class: 'actions' }, submitButton('Link account')));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const chosen = form.querySelector('input[name="account"]:checked');
      if (!chosen) {
        errorSlot.replaceChildren(alertBox('Choose an account to continue.'));
        form.querySelector('input[name="account"]').focus();
        return;
      }
      const done = setBusy(form, 'Linking account…');
      const body = Object.assign({ institution_id: institution.id, account_id: chosen.value }, session.credentials);
      await linkWith('open_banking/paykey', body, done);
    });
    return {
      title: 'Choose an account',
      lead: `Select the account at ${institution.name} to use with ${appName()}.`,
      back: () => show(signInScreen(institution)),
      body: [form],
    };
  }

  function manualScreen() {
    const routing = field({ id: 'routing_number', label: 'Routing number', hint: '9 digits, printed at the bottom left of a check', inputmode: 'numeric', maxlength: '9', mono: true });
    const account = field({ id: 'account_number', label: 'Account number', hint: '4 to 17 digits', inputmode: 'numeric', maxlength: '17', mono: true });
    const confirm = field({ id: 'confirm_account_number', label: 'Confirm account number', inputmode: 'numeric', maxlength: '17', mono: true });
    const form = h('form', { novalidate: true },
      routing.wrapper,
      account.wrapper,
      confirm.wrapper,
      h('fieldset', {}, h('legend', {}, 'Account type'),
        h('div', { class: 'segmented' },
          radio('account_type', 'checking', 'Checking', true),
          radio('account_type', 'savings', 'Savings', false))),
      h('div', { class: 'actions' }, submitButton('Link account')));
    const fields = { routing_number: routing, account_number: account, confirm_account_number: confirm };
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const values = {
        routing_number: routing.input.value.trim(),
        account_number: account.input.value.trim(),
        account_type: form.querySelector('input[name="account_type"]:checked').value,
      };
      const problems = checkManual(values, confirm.input.value.trim());
      if (showFieldErrors(fields, problems)) return;
      const done = setBusy(form, 'Linking account…');
      await linkWith('bank_account', values, done, fields);
    });
    return {
      title: 'Enter your bank details',
      lead: 'You can find these numbers on a check or in your bank’s app.',
      back: () => show(welcomeScreen()),
      body: [form],
    };
  }

  // The format checks the API applies too; the API also checks the routing
  // number's check digit and reports it against the field.
  function checkManual(values, confirmation) {
    const problems = {};
    if (!/^\d{9}$/.test(values.routing_number)) problems.routing_number = 'Enter the 9-digit routing number.';
    if (!/^\d{4,17}$/.test(values.account_number)) problems.account_number = 'Enter 4 to 17 digits.';
    if (!confirmation) problems.confirm_account_number = 'Enter the account number again.';
    else if (confirmation !== values.account_number) problems.confirm_account_number = 'The account numbers don’t match.';
    return problems;
  }

  // Shows each field's problem (or clears it); true when any was shown.
  function showFieldErrors(fields, problems) {
    let first = null;
    for (const [name, entry] of Object.entries(fields)) {
      entry.setError(problems[name] || '');
      if (problems[name] && !first) first = entry.input;
    }
    if (first) first.focus();
    return Boolean(first);
  }

  // Creates the session's paykey. Problems with the form's own `fields`
  // go back to the form; everything else ends in fail().
  async function linkWith(path, body, done, fields) {
    let reply;
    try {
      reply = await api('POST', path, body);
    } catch (failure) {
      done();
      const problems = failure instanceof Failure && !failure.tokenCode ? failure.fieldErrors() : {};
      const ownProblem = fields && Object.keys(problems).some((name) => name in fields);
      if (ownProblem) showFieldErrors(fields, problems);
      else fail(failure);
      return;
    }
    send('on-paykey', { paykeyResponse: reply });
    debugLog('paykey', reply.data.id);
    show(successScreen(reply.data));
  }

  const OUTCOMES = {
    active: { tone: 'ok', icon: 'check', title: 'Account linked', text: (app) => `${app} can now use this account for payments.` },
    pending: { tone: 'ok', icon: 'check', title: 'Account linked', text: () => 'We’re confirming that you own this account. This usually takes a moment.' },
    review: { tone: 'wait', icon: 'clock', title: 'Account submitted for review', text: (app) => `${app} will let you know when the review is complete.` },
    rejected: { tone: 'bad', icon: 'alert', title: 'We couldn’t verify this account', text: (app) => `The account holder’s name didn’t match. ${app} will tell you what to do next.` },
  };

  function successScreen(paykey) {
    const outcome = OUTCOMES[paykey.status] || OUTCOMES.review;
    const bank = paykey.bank_data || {};
    const last4 = (bank.account_number || '').slice(-4);
    return {
      before: [h('span', { class: `status-icon ${outcome.tone}` }, icon(outcome.icon))],
      title: outcome.title,
      wrap: true,
      closable: false,
      body: [
        h('p', { class: 'lead' }, outcome.text(appName())),
        h('div', { class: 'summary' }, h('span', { class: 'avatar tone-0', 'aria-hidden': 'true' }, icon('bank')),
          h('div', {}, h('strong', {}, paykey.institution_name || 'Bank account'),
            h('small', {}, `${accountTypeName(bank.account_type)} •••• ${last4}`))),
        h('div', { class: 'actions' }, button('Done', () => send('on-success-cta-clicked'))),
      ],
    };
  }

  const TOKEN_PROBLEMS = {
    invalid_token: { tone: 'bad', icon: 'alert', title: 'This link isn’t valid', text: (app) => `Return to ${app} and start again.` },
    expired_token: { tone: 'wait', icon: 'clock', title: 'This session has expired', text: (app) => `For your security, sessions end after a while. Return to ${app} and start again.` },
    used_token: { tone: 'ok', icon: 'check', title: 'This session is complete', text: (app) => `A bank account was already linked in this session. Return to ${app} to continue.` },
  };

  function tokenScreen(code) {
    const problem = TOKEN_PROBLEMS[code] || TOKEN_PROBLEMS.invalid_token;
    return {
      before: [h('span', { class: `status-icon ${problem.tone}` }, icon(problem.icon))],
      title: problem.title,
      wrap: true,
      closable: false,
      body: [
        h('p', { class: 'lead' }, problem.text(appName())),
        h('div', { class: 'actions' }, button('Close', () => send('on-close'))),
      ],
    };
  }

  function problemScreen(failure) {
    const offline = !failure || failure.status === 0 || failure.status >= 500;
    return {
      before: [h('span', { class: 'status-icon wait' }, icon('alert'))],
      title: 'Something went wrong',
      wrap: true,
      body: [
        h('p', { class: 'lead' }, offline
          ? 'We couldn’t complete the connection. Check your internet connection and try again.'
          : `We couldn’t link an account in this session. If this keeps happening, contact ${appName()}.`),
        h('div', { class: 'actions' }, button('Try again', retry)),
      ],
    };
  }

  function stalledScreen() {
    return {
      before: [h('span', { class: 'status-icon wait' }, icon('clock'))],
      title: 'Still connecting…',
      wrap: true,
      body: [
        h('p', { class: 'lead' }, 'The app that opened this window hasn’t responded yet.'),
        h('div', { class: 'actions' }, button('Try again', () => {
          send('on-retry');
          show(busyScreen('Connecting securely…'));
          mount();
        })),
      ],
    };
  }

  function retry() {
    send('on-retry');
    if (session.info) show(welcomeScreen());
    else loadSession();
  }

  function standaloneScreen() {
    return {
      title: 'Open Bridge from your app',
      wrap: true,
      closable: false,
      body: [h('p', { class: 'lead' }, 'This secure window links a bank account. It opens from the app you were using.')],
    };
  }

  // ---- Start -------------------------------------------------------------

  ui.close.addEventListener('click', () => send('on-close'));
  ui.back.addEventListener('click', () => { if (session.backAction) session.backAction(); });
  if (embedded) {
    window.addEventListener('message', onMessage);
    mount();
  } else {
    show(standaloneScreen());
  }
})();
