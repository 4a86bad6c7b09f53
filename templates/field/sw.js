/* Service worker of the field pages (issue 5), scope {{ scope }}. Rendered by tasks/views/field.py.
 * - shell (CSS, JS, the offline page): cache first, replaced when the shell version changes;
 * - field pages and their JSON (/field/..., /api/v1/tasks/{id}/fieldwork/, /api/v1/field/tasks/):
 *   network first, the last good answer kept for when the phone is offline;
 * - writes (POST/PATCH/DELETE) are never touched here: app.js keeps them in its outbox. */
'use strict';
var VERSION = '{{ version }}';
var SHELL_CACHE = 'tc-field-shell-' + VERSION;
var DATA_CACHE = 'tc-field-data';
var SHELL = {{ shell_json|safe }};
var OFFLINE_URL = '{{ offline_url }}';
var SCOPE = '{{ scope }}';
var STATIC_PREFIX = '{{ static_prefix }}';
var DATA_PATTERNS = [/^\/api\/v1\/tasks\/\d+\/fieldwork\/$/, /^\/api\/v1\/field\/tasks\/$/];

function usable(response) {
  return response && response.ok && response.type === 'basic' && !response.redirected;
}

self.addEventListener('install', function (event) {
  event.waitUntil(caches.open(SHELL_CACHE).then(function (cache) {
    return Promise.all(SHELL.map(function (url) {
      return fetch(url, { credentials: 'same-origin', cache: 'no-cache' }).then(function (response) {
        if (usable(response)) { return cache.put(url, response); }
      }).catch(function () {});
    }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener('activate', function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (key) {
      return key.indexOf('tc-field-shell-') === 0 && key !== SHELL_CACHE;
    }).map(function (key) { return caches.delete(key); }));
  }).then(function () { return self.clients.claim(); }));
});

function cacheFirst(request) {
  return caches.match(request, { ignoreVary: true }).then(function (hit) {
    return hit || fetch(request).then(function (response) {
      if (usable(response)) {
        var copy = response.clone();
        caches.open(SHELL_CACHE).then(function (cache) { cache.put(request, copy); });
      }
      return response;
    });
  });
}

function networkFirst(request, isPage) {
  return fetch(request).then(function (response) {
    if (usable(response)) {
      var copy = response.clone();
      caches.open(DATA_CACHE).then(function (cache) { cache.put(request.url, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(request.url, { ignoreVary: true, cacheName: DATA_CACHE }).then(function (hit) {
      if (hit) { return hit; }
      if (isPage) {
        return caches.match(OFFLINE_URL, { ignoreVary: true }).then(function (offline) {
          return offline || new Response('offline', { status: 503, headers: { 'Content-Type': 'text/plain' } });
        });
      }
      return new Response(JSON.stringify({ detail: 'offline' }), { status: 503, headers: { 'Content-Type': 'application/json' } });
    });
  });
}

self.addEventListener('fetch', function (event) {
  var request = event.request;
  if (request.method !== 'GET') { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (url.pathname.indexOf(STATIC_PREFIX) === 0) { event.respondWith(cacheFirst(request)); return; }
  if (request.mode === 'navigate' && url.pathname.indexOf(SCOPE) === 0) { event.respondWith(networkFirst(request, true)); return; }
  if (DATA_PATTERNS.some(function (re) { return re.test(url.pathname); })) { event.respondWith(networkFirst(request, false)); }
});

function precache(urls, replace) {
  var absolute = urls.map(function (u) { return new URL(u, self.location.origin).href; });
  return caches.open(DATA_CACHE).then(function (cache) {
    var pruning = !replace ? Promise.resolve() : cache.keys().then(function (requests) {
      return Promise.all(requests.filter(function (r) { return absolute.indexOf(r.url) < 0; }).map(function (r) { return cache.delete(r); }));
    });
    return pruning.then(function () {
      return Promise.all(absolute.map(function (url) {
        return fetch(url, { credentials: 'same-origin' }).then(function (response) {
          if (usable(response)) { return cache.put(url, response); }
        }).catch(function () {});
      }));
    });
  });
}

self.addEventListener('message', function (event) {
  var data = event.data || {};
  if (data.type === 'precache') { event.waitUntil(precache(data.urls || [], !!data.replace)); }
  if (data.type === 'clear') { event.waitUntil(caches.delete(DATA_CACHE)); }
});
