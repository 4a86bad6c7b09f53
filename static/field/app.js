/* Field pages (issue 5): countdowns, the on-device outbox, and the service worker.
 *
 * Every form on a field page becomes one JSON write to /api/v1/tasks/{id}/... . Before it is sent, the
 * write is put in an outbox kept in localStorage (per account), with a UUID made here as its
 * idempotency key and the task version the form was based on. The outbox is sent in order: at once,
 * when the connection returns ("online"), every 20 s while something waits, and on "Send now".
 * A resend after a lost answer carries the same key, so the server returns the record it already has.
 * 409 (the task was transferred, returned, re-assigned... meanwhile) is shown to the user, who decides:
 * discard, or send again on the current version. Nothing is overwritten silently.
 * No inline scripts (strict CSP): texts come from a JSON data block rendered by the server.
 */
(function () {
  'use strict';

  var app = document.getElementById('field-app');
  if (!app) { return; }
  var M = JSON.parse(document.getElementById('field-messages').textContent);
  var pageEl = document.getElementById('field-task');
  var page = pageEl ? JSON.parse(pageEl.textContent) : null;
  var userId = app.getAttribute('data-user') || 'anon';
  var OUTBOX_KEY = 'tc.field.outbox.' + userId;
  var VERSIONS_KEY = 'tc.field.versions.' + userId;
  var dirty = false;

  // --- small helpers ------------------------------------------------------------------------------

  function fmt(text, params) {
    return String(text).replace(/%\((\w+)\)(0?)(\d*)[sd]/g, function (_m, key, zero, width) {
      var value = String(params[key]);
      var n = parseInt(width || '0', 10);
      while (value.length < n) { value = (zero ? '0' : ' ') + value; }
      return value;
    });
  }

  function load(key, fallback) {
    try {
      var raw = window.localStorage.getItem(key);
      return raw ? JSON.parse(raw) : fallback;
    } catch (e) { return fallback; }
  }

  function store(key, value) {
    try { window.localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* storage full or disabled */ }
  }

  function uuid() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    var b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) { return decodeURIComponent(match[1]); }
    var input = document.querySelector('input[name=csrfmiddlewaretoken]');
    return input ? input.value : '';
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  // Form times are Beijing time (UTC+8, no daylight saving) whatever zone the phone is set to.
  var BEIJING_MS = 8 * 3600 * 1000;
  function localInputValue(date) {
    var pad = function (n) { return (n < 10 ? '0' : '') + n; };
    var b = new Date(date.getTime() + BEIJING_MS);
    return b.getUTCFullYear() + '-' + pad(b.getUTCMonth() + 1) + '-' + pad(b.getUTCDate()) + 'T' + pad(b.getUTCHours()) + ':' + pad(b.getUTCMinutes());
  }
  function beijingInputToIso(value) {
    var parts = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value);
    if (!parts) { return new Date(value).toISOString(); }
    return new Date(Date.UTC(+parts[1], +parts[2] - 1, +parts[3], +parts[4], +parts[5], +(parts[6] || 0)) - BEIJING_MS).toISOString();
  }

  // --- countdowns ---------------------------------------------------------------------------------

  function tick() {
    var now = Date.now();
    document.querySelectorAll('.countdown[data-due]').forEach(function (node) {
      var due = Date.parse(node.getAttribute('data-due'));
      if (isNaN(due)) { return; }
      var seconds = Math.round((due - now) / 1000);
      var abs = Math.abs(seconds);
      var hm = fmt(M.hm, { h: Math.floor(abs / 3600), m: Math.floor((abs % 3600) / 60) });
      node.textContent = seconds < 0 ? fmt(M.overdue, { time: hm }) : fmt(M.left, { time: hm });
      node.classList.toggle('breach', seconds < 0);
      node.classList.toggle('warning', seconds >= 0 && seconds < 3600);
      var card = node.closest('.task-card');
      if (card) {
        card.classList.toggle('breach', seconds < 0);
        card.classList.toggle('warning', seconds >= 0 && seconds < 3600);
      }
    });
  }

  // --- versions -----------------------------------------------------------------------------------

  function knownVersion(task) {
    var versions = load(VERSIONS_KEY, {});
    var v = versions[task] || 0;
    if (page && String(page.task) === String(task)) { v = Math.max(v, page.version); }
    return v;
  }

  function learnVersion(task, version) {
    var versions = load(VERSIONS_KEY, {});
    versions[task] = Math.max(versions[task] || 0, version);
    store(VERSIONS_KEY, versions);
    if (page && String(page.task) === String(task)) { page.version = Math.max(page.version, version); }
  }

  // --- the outbox ---------------------------------------------------------------------------------

  function outbox() { return load(OUTBOX_KEY, []); }

  function saveOutbox(items) { store(OUTBOX_KEY, items); render(); }

  function update(id, changes) {
    var items = outbox();
    items.forEach(function (item) { if (item.id === id) { Object.keys(changes).forEach(function (k) { item[k] = changes[k]; }); } });
    saveOutbox(items);
  }

  function removeItem(id) { saveOutbox(outbox().filter(function (item) { return item.id !== id; })); }

  // A write that succeeded moved the task from `from` to `to` (its own milestone): the forms queued on
  // the same version were filled on the same state, so they follow.
  function rebase(task, from, to) {
    learnVersion(task, to);
    if (from === to) { return; }
    var items = outbox();
    items.forEach(function (item) {
      if (String(item.task) === String(task) && item.state === 'queued' && item.version === from) { item.version = to; }
    });
    saveOutbox(items);
  }

  function errorText(body) {
    if (!body) { return ''; }
    if (body.errors) {
      return Object.keys(body.errors).map(function (k) { return k + ': ' + [].concat(body.errors[k]).join('; '); }).join('\n');
    }
    return body.detail || '';
  }

  function send(item) {
    var body = Object.assign({}, item.body, { version: item.version });
    return fetch(item.url, {
      method: item.method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json', 'X-CSRFToken': csrfToken() },
      body: JSON.stringify(body)
    });
  }

  var flushing = null;

  function flush() {
    if (!flushing) {
      flushing = doFlush().then(function (result) { flushing = null; return result; }, function () { flushing = null; return { sent: {}, results: {} }; });
    }
    return flushing;
  }

  function doFlush() {
    var result = { sent: {}, results: {} };
    var blocked = {};
    var queue = outbox().filter(function (item) { return item.state === 'queued'; });
    var i = 0;
    function next() {
      if (i >= queue.length) { return Promise.resolve(result); }
      var item = queue[i++];
      if (blocked[item.task]) { return next(); }
      update(item.id, { state: 'sending' });
      return send(item).then(function (response) {
        return response.json().catch(function () { return null; }).then(function (body) {
          if (response.ok) {
            removeItem(item.id);
            if (body && body.task) { rebase(item.task, item.version, body.task.version); }
            result.sent[item.task] = true;
            result.results[item.id] = { ok: true, body: body };
            return next();
          }
          if (response.status === 409) {
            update(item.id, { state: 'conflict', message: (body && body.detail) || M.conflict, current: body && body.task ? body.task.version : null });
            blocked[item.task] = true;
            result.results[item.id] = { conflict: true, body: body };
            return next();
          }
          if (response.status === 400 || response.status === 404) {
            update(item.id, { state: 'invalid', message: response.status === 404 ? M.not_found : errorText(body), errors: body && body.errors });
            result.results[item.id] = { invalid: true, body: body };
            return next();
          }
          if (response.status === 401 || response.status === 403) {
            update(item.id, { state: 'queued', message: M.login_again });
            result.results[item.id] = { denied: true, body: body };
            return result;
          }
          update(item.id, { state: 'queued', message: M.server_error });
          result.results[item.id] = { retry: true };
          return result;
        });
      }, function () {
        // No connection: stays queued; the next "online" event or timer sends it.
        update(item.id, { state: 'queued' });
        result.results[item.id] = { offline: true };
        return result;
      });
    }
    return next();
  }

  function kindLabel(kind) { return M['kind_' + kind] || kind; }

  function render() {
    var box = document.getElementById('outbox');
    var list = document.getElementById('outbox-list');
    if (!box || !list) { return; }
    var items = outbox();
    box.hidden = items.length === 0;
    document.getElementById('outbox-count').textContent = String(items.length);
    list.textContent = '';
    items.forEach(function (item) {
      var li = el('li', item.state);
      li.setAttribute('data-testid', 'outbox-item');
      li.appendChild(el('span', 'state', M[item.state] || item.state));
      li.appendChild(document.createTextNode((item.ref || 'T' + item.task) + ' · ' + kindLabel(item.kind) + (item.summary ? ' · ' + item.summary : '')));
      if (item.message) { li.appendChild(el('span', 'message', item.message)); }
      if (item.state === 'conflict' || item.state === 'invalid') {
        var discard = el('button', 'secondary small', M.discard);
        discard.type = 'button';
        discard.addEventListener('click', function () { removeItem(item.id); renderPending(); });
        li.appendChild(discard);
      }
      if (item.state === 'conflict' && item.current) {
        var retry = el('button', 'secondary small', M.retry);
        retry.type = 'button';
        retry.addEventListener('click', function () {
          update(item.id, { state: 'queued', version: item.current, message: '' });
          flush().then(afterFlush);
        });
        li.appendChild(retry);
      }
      list.appendChild(li);
    });
    renderPending();
    renderNet();
  }

  // Trajectory entries waiting to be sent appear in the timeline, marked as waiting.
  function renderPending() {
    if (!page) { return; }
    var timeline = document.querySelector('[data-testid=timeline]');
    if (!timeline) { return; }
    timeline.querySelectorAll('.tl-entry.pending').forEach(function (node) { node.remove(); });
    outbox().forEach(function (item) {
      if (String(item.task) !== String(page.task) || item.kind !== 'trajectory') { return; }
      var li = el('li', 'tl-entry pending');
      li.setAttribute('data-testid', 'pending-entry');
      li.appendChild(el('span', 'tl-time', (item.body.started_at_local || '') + ' – ' + (item.body.ended_at_local || '')));
      li.appendChild(el('strong', 'tl-place', item.body.place_name || ''));
      li.appendChild(el('span', 'state', M[item.state] || item.state));
      timeline.appendChild(li);
    });
  }

  function renderNet() {
    var status = document.getElementById('net-status');
    if (!status) { return; }
    if (navigator.onLine) {
      status.hidden = true;
    } else {
      status.hidden = false;
      status.className = 'net-status';
      status.textContent = M.offline;
    }
  }

  function afterFlush(result) {
    if (!result) { return; }
    if (dueList) { checkinsSent(result); return; }
    var sentHere = page ? result.sent[page.task] : Object.keys(result.sent).length > 0;
    if (sentHere && !dirty) { window.location.reload(); }
  }

  // --- forms --------------------------------------------------------------------------------------

  function formData(form) {
    var data = {};
    Array.prototype.forEach.call(form.elements, function (input) {
      if (!input.name || input.disabled) { return; }
      if ((input.type === 'radio' || input.type === 'checkbox') && !input.checked) { return; }
      var value = input.value;
      if (input.type === 'datetime-local') {
        data[input.name + '_local'] = value.replace('T', ' ');
        value = value ? beijingInputToIso(value) : '';
      }
      if (input.type === 'checkbox') { value = true; }
      data[input.name] = value;
    });
    Object.keys(data).forEach(function (key) {
      if (/_other$/.test(key)) {
        if (data[key]) { data[key.slice(0, -6)] = data[key].trim(); }
        delete data[key];
      }
    });
    return data;
  }

  function summarize(kind, data) {
    var parts = [data.place_name, data.name, data.measure, data.method, data.result, data.found, data.arrived_from];
    var when = data.started_at_local || data.attempted_at_local || data.controlled_at_local || data.sampled_at_local || data.last_contact_at_local || data.arrived_at_local;
    return parts.filter(Boolean).concat(when ? [when] : []).join(' · ');
  }

  function clearErrors(form) {
    form.querySelectorAll('.field-error').forEach(function (node) { node.remove(); });
    var box = form.querySelector('.form-errors');
    if (box) { box.hidden = true; box.textContent = ''; }
  }

  function showErrors(form, body) {
    var box = form.querySelector('.form-errors');
    var errors = (body && body.errors) || {};
    var loose = [];
    Object.keys(errors).forEach(function (name) {
      var text = [].concat(errors[name]).join('; ');
      var input = form.querySelector('[name="' + name + '"]');
      if (input && input.type !== 'hidden') {
        var holder = input.closest('fieldset') || input;
        holder.insertAdjacentElement('afterend', el('span', 'field-error', text));
      } else {
        loose.push(text);
      }
    });
    if (box) {
      box.textContent = M.fix_errors + (loose.length ? '\n' + loose.join('\n') : '') + (!Object.keys(errors).length && body ? '\n' + (body.detail || '') : '');
      box.hidden = false;
    }
  }

  function flash(form, text) {
    var note = el('p', 'flash', text);
    note.setAttribute('role', 'status');
    form.parentNode.insertBefore(note, form);
    window.setTimeout(function () { note.remove(); }, 6000);
  }

  function fillDefaults(root) {
    root.querySelectorAll('input[type=datetime-local][data-default=now]').forEach(function (input) {
      if (!input.value) { input.value = localInputValue(new Date()); }
    });
  }

  function resetForm(form) {
    form.reset();
    clearErrors(form);
    if (form.id === 'trajectory-form') { stopEditing(); }
    fillDefaults(form);
  }

  function enqueue(form) {
    var kind = form.getAttribute('data-kind');
    var data = formData(form);
    var item = {
      id: uuid(),
      task: page.task,
      kind: kind,
      method: form.getAttribute('data-method') || 'POST',
      url: form.getAttribute('data-url'),
      body: data,
      version: knownVersion(page.task),
      summary: summarize(kind, data),
      state: 'queued',
      created: Date.now()
    };
    if (form.id === 'trajectory-form' && form.getAttribute('data-editing')) {
      item.kind = 'trajectory_edit';
      item.method = 'PATCH';
      item.url = form.getAttribute('data-entry-url') + form.getAttribute('data-editing') + '/';
      data.revision = parseInt(form.getAttribute('data-revision'), 10);
    }
    data.idempotency_key = item.id;
    var items = outbox();
    items.push(item);
    saveOutbox(items);
    return item;
  }

  function onSubmit(event) {
    var form = event.target;
    event.preventDefault();
    clearErrors(form);
    if (!form.reportValidity()) { return; }
    var item = enqueue(form);
    var button = form.querySelector('button[type=submit]');
    if (button) { button.disabled = true; }
    flush().then(function (result) {
      if (button) { button.disabled = false; }
      var outcome = result.results[item.id];
      if (outcome && outcome.invalid) {
        removeItem(item.id);
        showErrors(form, outcome.body);
        return;
      }
      dirty = false;
      if (outcome && outcome.ok) {
        resetForm(form);
        flash(form, M.saved);
        afterFlush(result);
        return;
      }
      resetForm(form);
      if (!outcome || outcome.offline || outcome.retry || outcome.denied) { flash(form, M.saved_offline); }
      afterFlush(result);
    });
  }

  // --- trajectory edit / delete -------------------------------------------------------------------

  function stopEditing() {
    var form = document.getElementById('trajectory-form');
    if (!form) { return; }
    form.removeAttribute('data-editing');
    form.removeAttribute('data-revision');
    var summary = document.getElementById('trajectory-summary');
    if (summary) { summary.textContent = M.add_entry; }
    var cancel = form.querySelector('.tl-cancel');
    if (cancel) { cancel.hidden = true; }
    document.querySelectorAll('.tl-entry.editing').forEach(function (node) { node.classList.remove('editing'); });
  }

  function startEditing(entryId) {
    var form = document.getElementById('trajectory-form');
    var entry = (page.entries || []).filter(function (e) { return String(e.id) === String(entryId); })[0];
    if (!form || !entry) { return; }
    form.reset();
    clearErrors(form);
    Object.keys(entry).forEach(function (name) {
      var input = form.querySelector('[name="' + name + '"]');
      if (input) { input.value = entry[name]; }
    });
    var select = form.querySelector('select[name=division_code]');
    var other = form.querySelector('[name=division_code_other]');
    if (select && other && entry.division_code && select.value !== entry.division_code) { select.value = ''; other.value = entry.division_code; }
    form.setAttribute('data-editing', entry.id);
    form.setAttribute('data-revision', entry.revision);
    document.getElementById('trajectory-summary').textContent = M.edit_entry;
    form.querySelector('.tl-cancel').hidden = false;
    var details = document.getElementById('trajectory-details');
    if (details) { details.open = true; }
    var node = document.querySelector('.tl-entry[data-entry="' + entry.id + '"]');
    if (node) { node.classList.add('editing'); }
    form.scrollIntoView({ behavior: 'smooth', block: 'start' });
  }

  function deleteEntry(button) {
    if (!window.confirm(M.confirm_delete)) { return; }
    var entryId = button.getAttribute('data-entry');
    var entry = (page.entries || []).filter(function (e) { return String(e.id) === String(entryId); })[0];
    var key = uuid();
    var items = outbox();
    items.push({
      id: key, task: page.task, kind: 'trajectory_delete', method: 'DELETE', url: button.getAttribute('data-url'),
      body: { idempotency_key: key, revision: entry ? entry.revision : undefined },
      version: knownVersion(page.task), summary: entry ? entry.place_name : '', state: 'queued', created: Date.now()
    });
    saveOutbox(items);
    var node = button.closest('.tl-entry');
    if (node) { node.classList.add('pending'); }
    flush().then(afterFlush);
  }

  // --- geolocation --------------------------------------------------------------------------------

  function locate(button) {
    var form = button.closest('form');
    var status = form.querySelector('.geo-status');
    if (!navigator.geolocation) { status.textContent = M.no_location; return; }
    status.textContent = M.locating;
    navigator.geolocation.getCurrentPosition(function (position) {
      form.querySelector('[name=latitude]').value = position.coords.latitude.toFixed(6);
      form.querySelector('[name=longitude]').value = position.coords.longitude.toFixed(6);
      var accuracy = form.querySelector('[name=location_accuracy_m]');
      if (accuracy) { accuracy.value = Math.round(position.coords.accuracy || 0); }
      status.textContent = fmt(M.located, { m: Math.round(position.coords.accuracy || 0) }) + ' ' +
        position.coords.latitude.toFixed(5) + ', ' + position.coords.longitude.toFixed(5);
    }, function () {
      status.textContent = M.no_location;
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }

  // --- service worker -----------------------------------------------------------------------------

  function precacheUrls() {
    var urls = [window.location.pathname];
    var list = document.getElementById('task-list');
    if (list && list.getAttribute('data-precache')) {
      urls = urls.concat(list.getAttribute('data-precache').split(' ').filter(Boolean));
    }
    if (page && page.fieldwork_url) { urls.push(page.fieldwork_url); }
    return urls;
  }

  function registerServiceWorker() {
    if (!('serviceWorker' in navigator)) { return; }
    navigator.serviceWorker.register(app.getAttribute('data-sw'), { scope: app.getAttribute('data-scope') }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      if (registration.active && navigator.onLine) {
        registration.active.postMessage({ type: 'precache', urls: precacheUrls(), replace: !page && !dueList });
      }
    }).catch(function () { /* no service worker: the pages still work online */ });
  }

  // --- health check-ins: the "due today" list ------------------------------------------------------
  // One tap "normal" or the full form per person: each becomes one check-in write in the same outbox
  // (its UUID is the check-in's idempotency key, so a replayed write is recorded once). The list is not
  // reloaded after a write: the person's row shows the outcome.

  var dueList = document.getElementById('monitoring-due');

  function checkinData(form) {
    var data = { symptoms: [] };
    Array.prototype.forEach.call(form.elements, function (input) {
      if (!input.name || input.disabled || input.name === 'csrfmiddlewaretoken' || input.name === 'idempotency_key') { return; }
      if (input.type === 'checkbox') { if (input.checked) { data.symptoms.push(input.value); } return; }
      data[input.name] = input.value;
    });
    return data;
  }

  function markRow(period, state, text) {
    var row = dueList && dueList.querySelector('[data-period="' + period + '"]');
    if (!row) { return; }
    row.setAttribute('data-state', state);
    var status = row.querySelector('.checkin-status');
    if (status) { status.textContent = text; }
  }

  function markDone(body) {
    var text = '✓ ' + fmt(M.checked_in, { time: body.recorded_at || '' });
    if (body.temperature) { text += ' · ' + body.temperature + ' °C'; }
    if (body.abnormal) { text += ' · ' + M.abnormal; }
    markRow(body.period, body.abnormal ? 'abnormal' : 'done', text);
    var count = document.getElementById('done-count');
    if (count) { count.textContent = String(dueList.querySelectorAll('[data-state=done], [data-state=abnormal]').length); }
    var row = dueList.querySelector('[data-period="' + body.period + '"]');
    if (row) {
      var details = row.querySelector('details.full');
      if (details) { details.open = false; }
    }
  }

  function checkinsSent(result) {
    Object.keys(result.results).forEach(function (id) {
      var outcome = result.results[id];
      if (outcome && outcome.ok && outcome.body && outcome.body.period) { markDone(outcome.body); }
    });
  }

  function onCheckin(event) {
    var form = event.target;
    event.preventDefault();
    clearErrors(form);
    if (!form.reportValidity()) { return; }
    var period = form.getAttribute('data-period');
    var data = checkinData(form);
    var item = {
      id: uuid(), task: 'M' + period, ref: form.getAttribute('data-label') || ('M' + period), kind: 'checkin',
      method: 'POST', url: form.getAttribute('data-url'), body: data, version: 0,
      summary: data.temperature ? data.temperature + ' °C' : '', period: period, state: 'queued', created: Date.now()
    };
    data.idempotency_key = item.id;
    var items = outbox();
    items.push(item);
    saveOutbox(items);
    markRow(period, 'waiting', M.checkin_waiting);
    var buttons = form.querySelectorAll('button[type=submit]');
    buttons.forEach(function (b) { b.disabled = true; });
    flush().then(function (result) {
      buttons.forEach(function (b) { b.disabled = false; });
      var outcome = result.results[item.id];
      if (outcome && outcome.invalid) {
        removeItem(item.id);
        markRow(period, 'due', '');
        var details = form.closest('details');
        if (details) { details.open = true; }
        showErrors(form, outcome.body);
        return;
      }
      form.reset();
      var open = form.closest('details');
      if (open) { open.open = false; }
      if (outcome && outcome.ok) { checkinsSent(result); return; }
      markRow(period, 'waiting', M.saved_offline);
      checkinsSent(result);
    });
  }

  if (dueList) {
    dueList.querySelectorAll('form.checkin-form').forEach(function (form) { form.addEventListener('submit', onCheckin); });
    outbox().forEach(function (item) {
      if (item.kind === 'checkin' && item.period) { markRow(item.period, 'waiting', M.checkin_waiting); }
    });
  }

  // --- start --------------------------------------------------------------------------------------

  // A write interrupted while sending (page closed) is still waiting.
  var items = outbox();
  items.forEach(function (item) { if (item.state === 'sending') { item.state = 'queued'; } });
  store(OUTBOX_KEY, items);

  if (page) {
    learnVersion(page.task, page.version);
    fillDefaults(document);
    document.querySelectorAll('form.field-form').forEach(function (form) {
      form.addEventListener('submit', onSubmit);
      form.addEventListener('input', function () { dirty = true; });
    });
    document.querySelectorAll('.tl-edit').forEach(function (button) {
      button.addEventListener('click', function () { startEditing(button.getAttribute('data-entry')); });
    });
    document.querySelectorAll('.tl-delete').forEach(function (button) {
      button.addEventListener('click', function () { deleteEntry(button); });
    });
    document.querySelectorAll('.tl-cancel').forEach(function (button) {
      button.addEventListener('click', function () { resetForm(button.closest('form')); });
    });
    document.querySelectorAll('button.locate').forEach(function (button) {
      button.addEventListener('click', function () { locate(button); });
    });
  }

  var sendNow = document.getElementById('outbox-send');
  if (sendNow) { sendNow.addEventListener('click', function () { flush().then(afterFlush); }); }

  var logout = document.querySelector('form[action*="logout"]');
  if (logout) {
    logout.addEventListener('submit', function (event) {
      var waiting = outbox().length;
      if (waiting && !window.confirm(fmt(M.confirm_logout, { n: waiting }))) { event.preventDefault(); return; }
      if (navigator.serviceWorker && navigator.serviceWorker.controller) { navigator.serviceWorker.controller.postMessage({ type: 'clear' }); }
    });
  }

  window.addEventListener('online', function () { renderNet(); flush().then(afterFlush); });
  window.addEventListener('offline', renderNet);
  window.setInterval(function () {
    if (navigator.onLine && outbox().some(function (item) { return item.state === 'queued'; })) { flush().then(afterFlush); }
  }, 20000);
  window.setInterval(tick, 15000);

  tick();
  render();
  registerServiceWorker();
  if (navigator.onLine && outbox().some(function (item) { return item.state === 'queued'; })) { flush().then(afterFlush); }
}());
