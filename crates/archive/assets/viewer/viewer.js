/* The offline viewer of a hiatus export archive.
 *
 * index.html is opened straight from the unpacked archive (a file:// URL): no server, no
 * network, no fetch. The data arrive as scripts this file inserts:
 *   viewer/data/<category>.js            calls HIATUS.load("<category>", <data>)
 *   viewer/messages/<thread id>-<n>.js   calls HIATUS.messages("<thread id>", n, [messages])
 * A category file that is absent (incremental exports leave some out) is shown as "not in this
 * archive". Message parts are loaded only when their thread is opened, one part (up to 500
 * messages) a page. Every piece of data is written with textContent / createElement, never as
 * markup, and no inline script or handler is used, so the page also runs under a strict CSP.
 *
 * Stable hooks, for people and for tests:
 *   window.HIATUS              load(category, data), messages(threadId, n, list),
 *                              data (category -> data), status (category -> "loaded" |
 *                              "missing" | "broken"), CATEGORIES, SECTIONS
 *   window.HIATUS_READY        true once every data script has settled and the first view is drawn
 *   window.HIATUS_ERRORS       array of strings: script errors, unhandled rejections, data files
 *                              that did not hand over their data, views that failed to draw
 *   #nav-<section>             navigation links; sections: profile, contracts, payments,
 *                              invoices, messages, submissions, reviews, proposals, audit
 *                              (the current one has aria-current="page")
 *   #view                      the main element: data-section (current section), data-state
 *                              ("loading", then "ready" once the section is drawn)
 *   #missing-categories        notice naming the categories not in this archive (only if any)
 *   .missing                   "not in this archive" placeholder inside a section
 *   .pager .pager-prev .pager-next .pager-status   paging controls of long lists
 *   #thread-filter             filter box above the thread list
 *   #thread-list               the thread list, 100 threads a page, most recent first; one
 *                              a.thread-link[data-thread-id] per thread
 *   #thread-view               the open thread: data-thread-id, data-part (0-based part shown),
 *                              data-parts (number of parts), data-state ("loading", "ready", or
 *                              "missing" when the part's file is not in the archive)
 *   .message[data-message-id]  one message in #thread-view, with .message-author,
 *                              .message-time and .message-body (the text as written)
 *   #thread-oldest #thread-older #thread-newer #thread-newest   links between parts
 *   article.contract#contract-<id>   one contract in the Contracts section
 *   a.file-link                a link to an uploaded file; a.file-link.renamed[download]
 *                              [data-renamed] one stored under a neutral name, followed by a
 *                              .warning (see docs/archive-format.md)
 * Routes are URL fragments: #<section>, #contract/<id>, #thread/<id>[/<part>].
 */
(function () {
  'use strict';

  var CATEGORIES = [
    'account', 'profile', 'people', 'job_posts', 'proposals', 'contracts', 'milestones',
    'payments', 'payouts', 'balances', 'invoices', 'disputes', 'threads', 'submissions',
    'files', 'reviews', 'audit', 'client_notices', 'restorations'
  ];
  var SECTIONS = [
    ['profile', 'Profile'],
    ['contracts', 'Contracts'],
    ['payments', 'Payments & payouts'],
    ['invoices', 'Invoices'],
    ['messages', 'Messages'],
    ['submissions', 'Work submissions'],
    ['reviews', 'Reviews'],
    ['proposals', 'Proposals & job posts'],
    ['audit', 'Audit history']
  ];
  var PAGE_SIZE = 100;
  var CONTRACTS_PAGE_SIZE = 20;
  var PART_SIZE = 500;
  var THREADS_KEPT = 6; // threads whose loaded message parts stay in memory

  // ---- errors and readiness ----------------------------------------------------------------

  var errors = Array.isArray(window.HIATUS_ERRORS) ? window.HIATUS_ERRORS : [];
  var started = false; // errors are listed on the page from then on
  window.HIATUS_ERRORS = errors;
  window.HIATUS_READY = false;

  function describe(e) {
    if (e instanceof Error) return e.name + ': ' + e.message;
    try { return typeof e === 'string' ? e : JSON.stringify(e); } catch (_) { return String(e); }
  }
  function recordError(message) {
    errors.push(String(message));
    var box = started ? document.getElementById('viewer-errors') : null;
    if (box) {
      box.hidden = false;
      box.appendChild(h('li', null, String(message)));
    }
  }
  window.addEventListener('error', function (ev) {
    var where = ev.filename ? ' (' + ev.filename + ':' + ev.lineno + ')' : '';
    recordError((ev.message || 'error') + where);
  });
  window.addEventListener('unhandledrejection', function (ev) {
    recordError('unhandled rejection: ' + describe(ev.reason));
  });

  // ---- what the data scripts hand over -----------------------------------------------------

  var data = Object.create(null);
  var status = Object.create(null);
  var parts = new Map(); // "<thread id>/<n>" -> array of messages
  var inflight = new Map(); // same keys -> Promise
  var recentThreads = [];

  window.HIATUS = {
    CATEGORIES: CATEGORIES.slice(),
    SECTIONS: SECTIONS.map(function (s) { return s[0]; }),
    data: data,
    status: status,
    load: function (category, value) {
      data[String(category)] = value;
    },
    messages: function (threadId, n, list) {
      parts.set(String(threadId) + '/' + Number(n), Array.isArray(list) ? list : []);
    }
  };

  function loadScript(src) {
    return new Promise(function (resolve) {
      var s = document.createElement('script');
      s.src = src;
      s.async = true;
      s.onload = function () { s.remove(); resolve(true); };
      s.onerror = function () { s.remove(); resolve(false); };
      (document.head || document.documentElement).appendChild(s);
    });
  }

  var dataSettled = Promise.all(CATEGORIES.map(function (c) {
    var src = 'viewer/data/' + c + '.js';
    return loadScript(src).then(function (found) {
      if (!found) {
        status[c] = 'missing';
      } else if (Object.prototype.hasOwnProperty.call(data, c)) {
        status[c] = 'loaded';
      } else {
        status[c] = 'broken';
        recordError(src + ' did not hand over its data');
      }
    });
  }));
  var domReady = new Promise(function (resolve) {
    if (document.readyState === 'loading') {
      document.addEventListener('DOMContentLoaded', function () { resolve(); });
    } else {
      resolve();
    }
  });

  Promise.all([dataSettled, domReady]).then(start).catch(function (e) {
    recordError('starting the viewer: ' + describe(e));
    window.HIATUS_READY = true;
  });

  // ---- small DOM helpers (text only, never markup) -----------------------------------------

  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = String(v);
        else el.setAttribute(k, v === true ? '' : String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) add(el, arguments[i]);
    return el;
  }
  function add(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { add(el, c); }); return; }
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  // A link inside the viewer (a route).
  function route(hash, label, attrs) {
    var a = h('a', attrs || null, label);
    a.setAttribute('href', '#' + hash);
    return a;
  }
  // A relative path of the archive as a link target, or null if it is not one.
  function archiveHref(path) {
    if (typeof path !== 'string' || path === '') return null;
    if (path.charAt(0) === '/' || path.indexOf('\\') >= 0) return null;
    var segments = path.split('/');
    for (var i = 0; i < segments.length; i++) {
      if (segments[i] === '' || segments[i] === '.' || segments[i] === '..') return null;
    }
    return segments.map(encodeURIComponent).join('/');
  }
  function fileLink(path, label) {
    var href = archiveHref(path);
    if (!href) return h('span', { class: 'unavailable', title: 'not in this archive' }, label);
    var a = h('a', { class: 'file-link', target: '_blank', rel: 'noopener noreferrer' }, label);
    a.setAttribute('href', href);
    return a;
  }
  // Invisible and direction-changing characters (U+202E turns "fdp.html" into "lmth.pdf"),
  // written out as [U+XXXX] so a name shows what it holds.
  var INVISIBLE = /[\u0000-\u001F\u007F-\u009F\u00AD\u061C\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF\uFFF9-\uFFFB]/g;
  function visible(s) {
    if (s === null || s === undefined) return s;
    return String(s).replace(INVISIBLE, function (c) {
      return '[U+' + ('000' + c.charCodeAt(0).toString(16).toUpperCase()).slice(-4) + ']';
    });
  }
  // An uploaded file: a link that opens it, or, for a file a browser could run (stored under
  // a neutral .txt name, f.renamed says why), a download with a warning.
  function uploadedFile(f) {
    var label = visible(f.name || f.path || shortId(f.id));
    if (!f.renamed) return fileLink(f.path, label);
    var href = archiveHref(f.path);
    if (!href) return h('span', { class: 'unavailable', title: 'not in this archive' }, label);
    var stored = String(f.path).split('/').pop();
    var a = h('a', { class: 'file-link renamed', download: stored, 'data-renamed': f.renamed }, label);
    a.setAttribute('href', href);
    return h('span', { class: 'renamed-file' }, a, ' ',
      h('span', { class: 'warning', role: 'note' },
        'This file could run code in a browser; it was renamed to ' + stored +
        ' and is offered as a download. Open it only with a program you trust.'));
  }

  // ---- formatting ------------------------------------------------------------------------------

  var dateFormat = (function () {
    try {
      return new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    } catch (_) {
      return null;
    }
  })();
  var numberFormat = (function () {
    try {
      return new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    } catch (_) {
      return null;
    }
  })();
  var countFormat = (function () {
    try { return new Intl.NumberFormat(); } catch (_) { return null; }
  })();

  function when(value) {
    if (value === null || value === undefined || value === '') return '—';
    var d = new Date(value);
    if (isNaN(d.getTime())) return String(value);
    return dateFormat ? dateFormat.format(d) : d.toLocaleString();
  }
  function time(value) {
    if (value === null || value === undefined || value === '') return h('span', { class: 'none' }, '—');
    return h('time', { datetime: value, title: value }, when(value));
  }
  function money(minor, currency) {
    if (minor === null || minor === undefined || minor === '') return '—';
    var n = Number(minor);
    if (!isFinite(n)) return String(minor);
    var shown = numberFormat ? numberFormat.format(n / 100) : (n / 100).toFixed(2);
    return currency ? shown + '\u00a0' + currency : shown;
  }
  function count(n) {
    return countFormat ? countFormat.format(n) : String(n);
  }
  function plain(v) {
    if (v === null || v === undefined || v === '') return '—';
    if (v === true) return 'yes';
    if (v === false) return 'no';
    if (typeof v === 'object') {
      // A flat object (settings) reads as "key: value, …"; anything deeper as JSON.
      var keys = Array.isArray(v) ? null : Object.keys(v);
      var flat = keys && keys.every(function (k) { return v[k] === null || typeof v[k] !== 'object'; });
      if (flat && keys.length > 0) {
        return keys.map(function (k) { return words(k) + ': ' + plain(v[k]); }).join(', ');
      }
      try { return JSON.stringify(v); } catch (_) { return String(v); }
    }
    return String(v);
  }
  function words(v) {
    if (v === null || v === undefined || v === '') return '—';
    return String(v).replace(/_/g, ' ');
  }
  function bytes(n) {
    var v = Number(n);
    if (!isFinite(v)) return '—';
    if (v < 1024) return v + ' B';
    if (v < 1024 * 1024) return (v / 1024).toFixed(1) + ' KiB';
    if (v < 1024 * 1024 * 1024) return (v / 1024 / 1024).toFixed(1) + ' MiB';
    return (v / 1024 / 1024 / 1024).toFixed(1) + ' GiB';
  }
  function shortId(id) {
    var s = String(id);
    return s.length > 8 ? s.slice(0, 8) + '…' : s;
  }
  function byNewest(field) {
    return function (a, b) {
      var x = String((a && a[field]) || '');
      var y = String((b && b[field]) || '');
      return x < y ? 1 : x > y ? -1 : 0;
    };
  }
  function byOldest(field) {
    var newest = byNewest(field);
    return function (a, b) { return -newest(a, b); };
  }

  // ---- the data, indexed once -----------------------------------------------------------------

  var db = null;

  function list(category) {
    var v = data[category];
    return Array.isArray(v) ? v.filter(function (x) { return x && typeof x === 'object'; }) : [];
  }
  function object(category) {
    var v = data[category];
    return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
  }
  function groupBy(items, field) {
    var m = new Map();
    items.forEach(function (x) {
      var k = x[field];
      if (k === null || k === undefined) return;
      if (!m.has(k)) m.set(k, []);
      m.get(k).push(x);
    });
    return m;
  }
  function indexBy(items, field) {
    var m = new Map();
    items.forEach(function (x) { if (x[field] !== null && x[field] !== undefined) m.set(x[field], x); });
    return m;
  }

  function buildDb() {
    var d = {
      account: object('account'),
      profile: object('profile'),
      people: list('people'),
      jobPosts: list('job_posts').sort(byNewest('created_at')),
      proposals: list('proposals').sort(byNewest('created_at')),
      contracts: list('contracts').sort(byNewest('created_at')),
      milestones: list('milestones').sort(byOldest('created_at')),
      payments: list('payments').sort(byNewest('created_at')),
      payouts: list('payouts').sort(byNewest('created_at')),
      balances: list('balances'),
      invoices: list('invoices').sort(byNewest('issued_at')),
      disputes: list('disputes').sort(byNewest('created_at')),
      threads: list('threads'),
      submissions: list('submissions').sort(byNewest('created_at')),
      files: list('files').sort(byNewest('created_at')),
      reviews: list('reviews').sort(byNewest('created_at')),
      audit: list('audit').sort(byNewest('created_at')),
      clientNotices: list('client_notices').sort(byNewest('sent_at')),
      restorations: list('restorations').sort(byNewest('created_at'))
    };
    // Most recent first; a thread without messages counts from when it was opened.
    var activity = new Map();
    d.threads.forEach(function (t) { activity.set(t, String(t.last_message_at || t.created_at || '')); });
    d.threads.sort(function (a, b) {
      var x = activity.get(a), y = activity.get(b);
      return x < y ? 1 : x > y ? -1 : 0;
    });
    d.peopleById = indexBy(d.people, 'id');
    d.contractsById = indexBy(d.contracts, 'id');
    d.milestonesById = indexBy(d.milestones, 'id');
    d.jobPostsById = indexBy(d.jobPosts, 'id');
    d.threadsById = indexBy(d.threads, 'id');
    d.filesById = indexBy(d.files, 'id');
    // Files name the message or submission they belong to; lists of ids on those records,
    // where an archive has them, take precedence.
    d.fileIdsBy = { message_id: new Map(), submission_id: new Map() };
    d.files.forEach(function (f) {
      ['message_id', 'submission_id'].forEach(function (k) {
        if (f[k] === null || f[k] === undefined) return;
        var m = d.fileIdsBy[k];
        if (!m.has(f[k])) m.set(f[k], []);
        m.get(f[k]).push(f.id);
      });
    });
    d.byContract = {
      milestones: groupBy(d.milestones, 'contract_id'),
      payments: groupBy(d.payments, 'contract_id'),
      invoices: groupBy(d.invoices, 'contract_id'),
      disputes: groupBy(d.disputes, 'contract_id'),
      submissions: groupBy(d.submissions, 'contract_id'),
      reviews: groupBy(d.reviews, 'contract_id'),
      threads: groupBy(d.threads, 'contract_id')
    };
    d.selfId = d.account ? d.account.id : null;
    d.people.forEach(function (p) { if (p.relation === 'self' && !d.selfId) d.selfId = p.id; });
    d.threadSearch = new Map();
    return d;
  }

  function personName(id) {
    if (id === null || id === undefined || id === '') return '—';
    var p = db.peopleById.get(id);
    var self = id === db.selfId || (p && p.relation === 'self');
    var name = p && p.display_name ? String(p.display_name) : null;
    if (!name && self && db.profile && db.profile.display_name) name = String(db.profile.display_name);
    if (!name) name = shortId(id);
    name = visible(name);
    return self ? name + ' (you)' : name;
  }
  function person(id) {
    return h('span', { class: 'person', title: id === null || id === undefined ? null : String(id) }, personName(id));
  }
  function contractLink(id) {
    if (id === null || id === undefined) return h('span', { class: 'none' }, '—');
    var c = db.contractsById.get(id);
    var label = c && c.title ? String(c.title) : 'Contract ' + shortId(id);
    return route('contract/' + encodeURIComponent(id), label, { class: 'contract-link' });
  }
  function fileItem(fileId) {
    var f = db.filesById.get(fileId);
    if (!f) return h('span', { class: 'unavailable', title: String(fileId) }, 'File ' + shortId(fileId) + ' (not in this archive)');
    return h('span', { class: 'file' },
      uploadedFile(f),
      ' ', h('span', { class: 'meta' }, '(' + [f.content_type, bytes(f.size_bytes)].filter(Boolean).join(', ') + ')'));
  }
  function fileList(ids) {
    if (!Array.isArray(ids) || ids.length === 0) return null;
    return h('ul', { class: 'files' }, ids.map(function (id) { return h('li', null, fileItem(id)); }));
  }
  function threadSubject(t) {
    return t.subject ? String(t.subject) : '(no subject)';
  }
  function threadParts(t) {
    var n = Number(t.message_parts);
    if (isFinite(n) && n >= 0) return Math.floor(n);
    var c = Number(t.message_count);
    return isFinite(c) && c > 0 ? Math.ceil(c / PART_SIZE) : 0;
  }

  // ---- building blocks of the sections ----------------------------------------------------

  function missing(category, what) {
    return h('p', { class: 'missing', 'data-category': category }, (what || words(category)) + ': not in this archive.');
  }
  function isMissing(category) {
    return status[category] === 'missing';
  }
  function empty(text) {
    return h('p', { class: 'empty' }, text);
  }
  function details(pairs) {
    var dl = h('dl', { class: 'details' });
    pairs.forEach(function (p) {
      if (!p) return;
      dl.appendChild(h('dt', null, p[0]));
      var v = p[1];
      dl.appendChild(h('dd', null, v instanceof Node ? v : plain(v)));
    });
    return dl;
  }
  // columns: [title, function (row) -> Node | string, optional class]
  function table(columns, rows, caption) {
    var t = h('table');
    if (caption) t.appendChild(h('caption', null, caption));
    var head = h('tr');
    columns.forEach(function (c) { head.appendChild(h('th', { scope: 'col', class: c[2] || null }, c[0])); });
    t.appendChild(h('thead', null, head));
    var body = h('tbody');
    rows.forEach(function (r) {
      var tr = h('tr');
      columns.forEach(function (c) {
        var v = c[1](r);
        tr.appendChild(h('td', { class: c[2] || null }, v instanceof Node ? v : plain(v)));
      });
      body.appendChild(tr);
    });
    t.appendChild(body);
    return h('div', { class: 'table-wrap' }, t);
  }

  var pages = Object.create(null); // list key -> page shown

  // A list shown a page at a time. draw(items) returns the node for one page.
  function paged(key, items, size, draw, noun) {
    var wrap = h('div', { class: 'paged', 'data-list': key });
    var last = Math.max(0, Math.ceil(items.length / size) - 1);
    function pagerNav(where) {
      var page = Math.min(pages[key] || 0, last);
      var from = items.length === 0 ? 0 : page * size + 1;
      var to = Math.min(items.length, (page + 1) * size);
      var prev = h('button', { type: 'button', class: 'pager-prev' }, '‹ Previous');
      var next = h('button', { type: 'button', class: 'pager-next' }, 'Next ›');
      prev.disabled = page === 0;
      next.disabled = page >= last;
      prev.addEventListener('click', function () { go(page - 1, where, 'prev'); });
      next.addEventListener('click', function () { go(page + 1, where, 'next'); });
      return h('nav', { class: 'pager', 'aria-label': noun + ' pages' },
        prev,
        h('span', { class: 'pager-status', 'aria-live': where === 'top' ? 'polite' : null },
          count(from) + '–' + count(to) + ' of ' + count(items.length) + ' ' + noun),
        next);
    }
    function go(page, where, which) {
      pages[key] = Math.max(0, Math.min(page, last));
      redraw();
      if (where !== 'top') wrap.scrollIntoView({ block: 'start' });
      // Keep the keyboard where it was: on the same button of the top pager, or its twin.
      var top = wrap.querySelector('.pager');
      var button = top && top.querySelector('.pager-' + which);
      if (button && button.disabled) button = top.querySelector('.pager-' + (which === 'next' ? 'prev' : 'next'));
      if (button) button.focus({ preventScroll: where !== 'top' });
    }
    function redraw() {
      var page = Math.min(pages[key] || 0, last);
      wrap.textContent = '';
      var showPager = items.length > size;
      if (showPager) wrap.appendChild(pagerNav('top'));
      wrap.appendChild(draw(items.slice(page * size, (page + 1) * size)));
      if (showPager) wrap.appendChild(pagerNav('bottom'));
    }
    redraw();
    return wrap;
  }

  // ---- sections --------------------------------------------------------------------------------

  function renderProfile(view) {
    view.appendChild(h('h2', { tabindex: '-1' }, 'Profile'));
    var a = db.account;
    view.appendChild(h('h3', null, 'Account'));
    if (a) {
      view.appendChild(details([
        ['Legal name', a.legal_name],
        ['Email', a.email],
        ['Kind', words(a.kind)],
        ['Role', words(a.role)],
        ['State', words(a.state)],
        ['Member since', time(a.created_at)],
        ['State since', time(a.state_changed_at)],
        a.deletion_due_at ? ['Deletion due', time(a.deletion_due_at)] : null,
        ['Account id', h('code', null, plain(a.id))]
      ]));
    } else {
      view.appendChild(isMissing('account') ? missing('account', 'Account') : empty('No account details.'));
    }

    var p = db.profile;
    view.appendChild(h('h3', null, 'Public profile'));
    if (p) {
      var photo = null;
      var photoFile = p.photo_file_id ? db.filesById.get(p.photo_file_id) : null;
      var photoHref = photoFile && !photoFile.renamed ? archiveHref(photoFile.path) : null;
      if (photoHref) {
        photo = h('img', { class: 'photo', alt: 'Profile photo', width: '96', height: '96' });
        photo.setAttribute('src', photoHref);
      }
      add(view, photo);
      view.appendChild(details([
        ['Display name', visible(p.display_name)],
        ['Headline', visible(p.headline)],
        ['About', h('div', { class: 'text' }, plain(p.bio))],
        ['Visibility', words(p.visibility)],
        ['Availability', words(p.availability)],
        p.paused_until ? ['Paused until', time(p.paused_until)] : null,
        ['Notifications', p.notifications],
        ['Away message', h('div', { class: 'text' }, plain(p.away_message))],
        ['Hourly rate', money(p.hourly_rate_minor, p.currency)]
      ]));
    } else {
      view.appendChild(isMissing('profile') ? missing('profile', 'Profile') : empty('No profile.'));
    }

    view.appendChild(h('h3', null, 'Balances'));
    if (isMissing('balances')) view.appendChild(missing('balances', 'Balances'));
    else if (db.balances.length === 0) view.appendChild(empty('No balances.'));
    else {
      view.appendChild(table([
        ['Currency', function (b) { return b.currency; }],
        ['Available', function (b) { return money(b.available_minor, b.currency); }, 'num'],
        ['Owed', function (b) { return money(b.debt_minor, b.currency); }, 'num']
      ], db.balances));
    }

    view.appendChild(h('h3', null, 'Clients told about your break'));
    if (isMissing('client_notices')) view.appendChild(missing('client_notices', 'Client notices'));
    else if (db.clientNotices.length === 0) view.appendChild(empty('No client was notified.'));
    else {
      view.appendChild(paged('client_notices', db.clientNotices, PAGE_SIZE, function (rows) {
        return table([
          ['Client', function (n) { return person(n.client_id); }],
          ['Sent', function (n) { return time(n.sent_at); }]
        ], rows);
      }, 'notices'));
    }

    view.appendChild(h('h3', null, 'About this archive'));
    view.appendChild(table([
      ['Category', function (c) { return words(c); }],
      ['Records', function (c) {
        if (status[c] === 'missing') return h('span', { class: 'missing-inline' }, 'not in this archive');
        if (status[c] === 'broken') return h('span', { class: 'error' }, 'unreadable');
        var v = data[c];
        return Array.isArray(v) ? count(v.length) : v ? '1' : '0';
      }, 'num']
    ], CATEGORIES, null));
  }

  function milestoneTable(rows) {
    return table([
      ['Milestone', function (m) { return m.title; }],
      ['Amount', function (m) { return money(m.amount_minor, m.currency); }, 'num'],
      ['Status', function (m) { return words(m.status); }],
      ['Created', function (m) { return time(m.created_at); }]
    ], rows);
  }
  function paymentTable(rows, withContract) {
    var cols = [
      ['Date', function (p) { return time(p.created_at); }],
      ['Amount', function (p) { return money(p.amount_minor, p.currency); }, 'num'],
      ['Status', function (p) { return words(p.status); }],
      ['From', function (p) { return person(p.payer_id); }],
      ['To', function (p) { return person(p.payee_id); }],
      ['Milestone', function (p) {
        var m = p.milestone_id ? db.milestonesById.get(p.milestone_id) : null;
        return m ? m.title : p.milestone_id ? shortId(p.milestone_id) : '—';
      }],
      ['Updated', function (p) { return time(p.updated_at); }]
    ];
    if (withContract) cols.splice(3, 0, ['Contract', function (p) { return contractLink(p.contract_id); }]);
    return table(cols, rows);
  }
  function invoiceTable(rows, withContract) {
    var cols = [
      ['Number', function (i) { return i.number; }, 'nowrap'],
      ['Description', function (i) { return i.description; }],
      ['Amount', function (i) { return money(i.amount_minor, i.currency); }, 'num'],
      ['Status', function (i) { return words(i.status); }],
      ['Issued', function (i) { return time(i.issued_at); }],
      ['Due', function (i) { return time(i.due_at); }],
      ['Paid', function (i) { return time(i.paid_at); }],
      ['From', function (i) { return person(i.issuer_id); }],
      ['To', function (i) { return person(i.recipient_id); }],
      ['PDF', function (i) {
        return i.pdf ? fileLink(i.pdf, 'PDF') : h('span', { class: 'none' }, '—');
      }]
    ];
    if (withContract) cols.splice(2, 0, ['Contract', function (i) { return contractLink(i.contract_id); }]);
    return table(cols, rows);
  }
  function disputeTable(rows) {
    return table([
      ['Opened', function (d) { return time(d.created_at); }],
      ['Opened by', function (d) { return person(d.opened_by); }],
      ['Status', function (d) { return words(d.status); }],
      ['Resolved', function (d) { return time(d.resolved_at); }]
    ], rows);
  }
  function stars(rating) {
    var r = Number(rating);
    if (!isFinite(r)) return h('span', { class: 'rating' }, plain(rating));
    var full = Math.max(0, Math.min(5, Math.round(r)));
    return h('span', { class: 'rating', title: r + ' of 5' },
      h('span', { 'aria-hidden': 'true' }, '★★★★★'.slice(0, full) + '☆☆☆☆☆'.slice(0, 5 - full)),
      ' ', h('span', { class: 'rating-value' }, r + '/5'));
  }
  function reviewCard(r, withContract) {
    return h('article', { class: 'review card', 'data-review-id': r.id },
      h('p', { class: 'card-head' }, stars(r.rating), ' ', person(r.author_id), ' about ', person(r.subject_id),
        ' · ', time(r.created_at)),
      withContract ? h('p', { class: 'meta' }, 'Contract: ', contractLink(r.contract_id)) : null,
      h('div', { class: 'text' }, plain(r.body)));
  }
  function submissionCard(s, withContract) {
    return h('article', { class: 'submission card', 'data-submission-id': s.id },
      h('p', { class: 'card-head' }, person(s.freelancer_id), ' · ', time(s.created_at)),
      withContract ? h('p', { class: 'meta' }, 'Contract: ', contractLink(s.contract_id)) : null,
      s.note ? h('div', { class: 'text' }, String(s.note)) : null,
      fileList(Array.isArray(s.files) ? s.files : db.fileIdsBy.submission_id.get(s.id)) || h('p', { class: 'empty' }, 'No files.'));
  }
  function threadItem(t) {
    var a = route('thread/' + encodeURIComponent(t.id), threadSubject(t), { class: 'thread-link', 'data-thread-id': t.id });
    var who = Array.isArray(t.participants)
      ? t.participants.filter(function (id) { return id !== db.selfId; }).map(personName).join(', ')
      : '';
    return h('li', { class: 'thread' }, a,
      h('span', { class: 'meta' },
        (who ? who + ' · ' : '') + count(Number(t.message_count) || 0) + ' messages · ', time(t.last_message_at || t.created_at)));
  }

  function contractArticle(c, asPage) {
    var art = h('article', { class: 'contract card', id: 'contract-' + c.id, 'data-contract-id': c.id });
    art.appendChild(asPage
      ? h('h2', { tabindex: '-1' }, c.title ? String(c.title) : 'Contract ' + shortId(c.id))
      : h('h3', null, contractLink(c.id)));
    art.appendChild(details([
      ['Status', words(c.status)],
      ['Client', person(c.client_id)],
      ['Freelancer', person(c.freelancer_id)],
      ['Currency', c.currency],
      ['Started', time(c.created_at)],
      ['Ended', time(c.ended_at)]
    ]));
    function part(title, category, rows, draw) {
      var sec = h('section', { class: 'contract-part', 'data-part': category });
      sec.appendChild(h(asPage ? 'h3' : 'h4', null, title));
      if (isMissing(category)) sec.appendChild(missing(category, title));
      else if (!rows || rows.length === 0) sec.appendChild(empty('None.'));
      else sec.appendChild(draw(rows));
      art.appendChild(sec);
    }
    var by = db.byContract;
    part('Milestones', 'milestones', by.milestones.get(c.id), milestoneTable);
    part('Payments', 'payments', by.payments.get(c.id), function (r) { return paymentTable(r, false); });
    part('Invoices', 'invoices', by.invoices.get(c.id), function (r) { return invoiceTable(r, false); });
    part('Work submissions', 'submissions', by.submissions.get(c.id), function (r) {
      return h('div', { class: 'cards' }, r.map(function (s) { return submissionCard(s, false); }));
    });
    part('Disputes', 'disputes', by.disputes.get(c.id), disputeTable);
    part('Reviews', 'reviews', by.reviews.get(c.id), function (r) {
      return h('div', { class: 'cards' }, r.map(function (x) { return reviewCard(x, false); }));
    });
    part('Messages', 'threads', by.threads.get(c.id), function (r) {
      return h('ul', { class: 'threads' }, r.map(threadItem));
    });
    return art;
  }

  function renderContracts(view, r) {
    if (r.id) {
      view.appendChild(h('p', { class: 'back' }, route('contracts', '← All contracts', { id: 'contracts-back' })));
      var c = db.contractsById.get(r.id);
      if (!c) {
        view.appendChild(h('h2', { tabindex: '-1' }, 'Contract not found'));
        view.appendChild(empty('No contract ' + r.id + ' in this archive.'));
        return;
      }
      view.appendChild(contractArticle(c, true));
      return;
    }
    view.appendChild(h('h2', { tabindex: '-1' }, 'Contracts'));
    if (isMissing('contracts')) { view.appendChild(missing('contracts', 'Contracts')); return; }
    if (db.contracts.length === 0) { view.appendChild(empty('No contracts.')); return; }
    view.appendChild(paged('contracts', db.contracts, CONTRACTS_PAGE_SIZE, function (rows) {
      return h('div', { class: 'contracts' }, rows.map(function (c) { return contractArticle(c, false); }));
    }, 'contracts'));
  }

  function renderPayments(view) {
    view.appendChild(h('h2', { tabindex: '-1' }, 'Payments & payouts'));
    view.appendChild(h('h3', null, 'Payments'));
    if (isMissing('payments')) view.appendChild(missing('payments', 'Payments'));
    else if (db.payments.length === 0) view.appendChild(empty('No payments.'));
    else view.appendChild(paged('payments', db.payments, PAGE_SIZE, function (rows) { return paymentTable(rows, true); }, 'payments'));

    view.appendChild(h('h3', null, 'Payouts'));
    if (isMissing('payouts')) view.appendChild(missing('payouts', 'Payouts'));
    else if (db.payouts.length === 0) view.appendChild(empty('No payouts.'));
    else {
      view.appendChild(paged('payouts', db.payouts, PAGE_SIZE, function (rows) {
        return table([
          ['Date', function (p) { return time(p.created_at); }],
          ['Amount', function (p) { return money(p.amount_minor, p.currency); }, 'num'],
          ['Status', function (p) { return words(p.status); }],
          ['Settles', function (p) { return time(p.settles_at); }]
        ], rows);
      }, 'payouts'));
    }
  }

  function renderInvoices(view) {
    view.appendChild(h('h2', { tabindex: '-1' }, 'Invoices'));
    if (isMissing('invoices')) { view.appendChild(missing('invoices', 'Invoices')); return; }
    if (db.invoices.length === 0) { view.appendChild(empty('No invoices.')); return; }
    view.appendChild(h('p', { class: 'hint' }, 'Each PDF opens from the archive\u2019s invoices folder.'));
    view.appendChild(paged('invoices', db.invoices, PAGE_SIZE, function (rows) { return invoiceTable(rows, true); }, 'invoices'));
  }

  var threadFilter = '';

  function threadSearchText(t) {
    var s = db.threadSearch.get(t.id);
    if (s === undefined) {
      var names = Array.isArray(t.participants) ? t.participants.map(personName).join(' ') : '';
      var c = t.contract_id ? db.contractsById.get(t.contract_id) : null;
      s = (threadSubject(t) + ' ' + names + ' ' + (c && c.title ? c.title : '')).toLowerCase();
      db.threadSearch.set(t.id, s);
    }
    return s;
  }

  function renderThreadList(view) {
    view.appendChild(h('h2', { tabindex: '-1' }, 'Messages'));
    if (isMissing('threads')) { view.appendChild(missing('threads', 'Messages')); return; }
    if (db.threads.length === 0) { view.appendChild(empty('No messages.')); return; }
    var input = h('input', {
      type: 'search', id: 'thread-filter', autocomplete: 'off', spellcheck: 'false',
      placeholder: 'Subject, name or contract'
    });
    input.value = threadFilter;
    view.appendChild(h('p', { class: 'filter' }, h('label', { for: 'thread-filter' }, 'Filter threads '), input));
    var holder = h('div', { id: 'thread-list-holder' });
    view.appendChild(holder);

    function draw() {
      var q = threadFilter.trim().toLowerCase();
      var items = q ? db.threads.filter(function (t) { return threadSearchText(t).indexOf(q) >= 0; }) : db.threads;
      holder.textContent = '';
      if (items.length === 0) { holder.appendChild(empty('No thread matches \u201c' + threadFilter.trim() + '\u201d.')); return; }
      holder.appendChild(paged('threads', items, PAGE_SIZE, function (rows) {
        return h('ul', { id: 'thread-list', class: 'threads' }, rows.map(threadItem));
      }, 'threads'));
    }
    var timer = null;
    input.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        threadFilter = input.value;
        pages.threads = 0;
        draw();
      }, 120);
    });
    draw();
  }

  function touchThread(id) {
    recentThreads = recentThreads.filter(function (x) { return x !== id; });
    recentThreads.unshift(id);
    recentThreads.splice(THREADS_KEPT).forEach(function (old) {
      Array.from(parts.keys()).forEach(function (k) {
        if (k.slice(0, k.lastIndexOf('/')) === old) parts.delete(k);
      });
    });
  }

  // Resolves to the part's messages, or null if its file is not in the archive.
  function loadPart(threadId, n) {
    var key = threadId + '/' + n;
    if (parts.has(key)) return Promise.resolve(parts.get(key));
    if (inflight.has(key)) return inflight.get(key);
    var src = 'viewer/messages/' + encodeURIComponent(threadId) + '-' + n + '.js';
    var p = loadScript(src).then(function (found) {
      inflight.delete(key);
      if (!found) return null;
      if (!parts.has(key)) {
        recordError(src + ' did not hand over its messages');
        return null;
      }
      return parts.get(key);
    });
    inflight.set(key, p);
    return p;
  }

  function messageItem(m) {
    var self = m.author_id === db.selfId;
    return h('li', { class: 'message' + (self ? ' message-self' : ''), 'data-message-id': m.id },
      h('p', { class: 'message-meta' },
        h('span', { class: 'message-author' }, personName(m.author_id)),
        ' ',
        h('time', { class: 'message-time', datetime: m.created_at, title: m.created_at }, when(m.created_at))),
      h('div', { class: 'message-body' }, m.body === null || m.body === undefined ? '' : String(m.body)),
      fileList(Array.isArray(m.attachments) ? m.attachments : db.fileIdsBy.message_id.get(m.id)));
  }

  var renderToken = 0;

  function renderThread(view, threadId, partWanted) {
    view.appendChild(h('p', { class: 'back' }, route('messages', '← All threads', { id: 'thread-back' })));
    var t = db.threadsById.get(threadId);
    if (!t) {
      view.appendChild(h('h2', { tabindex: '-1' }, 'Thread not found'));
      view.appendChild(isMissing('threads') ? missing('threads', 'Messages') : empty('No thread ' + threadId + ' in this archive.'));
      return;
    }
    touchThread(t.id);
    var total = threadParts(t);
    var part = Math.max(0, Math.min(isFinite(partWanted) ? partWanted : 0, Math.max(0, total - 1)));
    var box = h('section', {
      id: 'thread-view', 'data-thread-id': t.id, 'data-part': String(part),
      'data-parts': String(total), 'data-state': 'loading', 'aria-busy': 'true'
    });
    view.appendChild(box);
    box.appendChild(h('h2', { tabindex: '-1' }, threadSubject(t)));
    var who = Array.isArray(t.participants) ? t.participants.map(personName).join(', ') : '—';
    box.appendChild(details([
      ['Between', who],
      t.contract_id ? ['Contract', contractLink(t.contract_id)] : null,
      ['Messages', count(Number(t.message_count) || 0)],
      ['Started', time(t.created_at)],
      ['Last message', time(t.last_message_at)]
    ]));

    function partNav() {
      if (total <= 1) return null;
      function step(id, label, n, enabled) {
        if (!enabled) return h('span', { id: id, class: 'step disabled', 'aria-disabled': 'true' }, label);
        return route('thread/' + encodeURIComponent(t.id) + '/' + n, label, { id: id, class: 'step' });
      }
      return h('nav', { class: 'pager thread-pager', 'aria-label': 'Parts of this thread' },
        step('thread-oldest', '« Oldest', 0, part > 0),
        step('thread-older', '‹ Older', part - 1, part > 0),
        h('span', { class: 'pager-status' }, 'Part ' + (part + 1) + ' of ' + total),
        step('thread-newer', 'Newer ›', part + 1, part < total - 1),
        step('thread-newest', 'Newest »', total - 1, part < total - 1));
    }
    add(box, partNav());
    var state = h('p', { id: 'thread-status', class: 'status', role: 'status' }, total === 0 ? 'No messages.' : 'Loading messages…');
    box.appendChild(state);
    var listEl = h('ol', { id: 'message-list', class: 'messages', start: String(part * PART_SIZE + 1) });
    box.appendChild(listEl);

    if (total === 0) {
      box.setAttribute('data-state', 'ready');
      box.removeAttribute('aria-busy');
      return;
    }
    var token = ++renderToken;
    loadPart(t.id, part).then(function (msgs) {
      if (token !== renderToken) return;
      box.removeAttribute('aria-busy');
      if (msgs === null) {
        state.textContent = 'Part ' + (part + 1) + ' of this thread is not in this archive.';
        state.className = 'status missing';
        box.setAttribute('data-state', 'missing');
        return;
      }
      var frag = document.createDocumentFragment();
      msgs.forEach(function (m) { if (m && typeof m === 'object') frag.appendChild(messageItem(m)); });
      listEl.appendChild(frag);
      state.textContent = total > 1
        ? 'Showing ' + count(msgs.length) + ' messages, part ' + (part + 1) + ' of ' + total + '.'
        : 'Showing ' + count(msgs.length) + ' messages.';
      add(box, partNav());
      box.setAttribute('data-state', 'ready');
      // Have the neighbouring parts at hand.
      if (part + 1 < total) loadPart(t.id, part + 1);
      if (part > 0) loadPart(t.id, part - 1);
    }).catch(function (e) {
      recordError('showing thread ' + t.id + ': ' + describe(e));
    });
  }

  function renderMessages(view, r) {
    if (r.id) renderThread(view, r.id, r.part);
    else renderThreadList(view);
  }

  function renderSubmissions(view) {
    view.appendChild(h('h2', { tabindex: '-1' }, 'Work submissions'));
    if (isMissing('submissions')) view.appendChild(missing('submissions', 'Work submissions'));
    else if (db.submissions.length === 0) view.appendChild(empty('No work submissions.'));
    else {
      view.appendChild(paged('submissions', db.submissions, PAGE_SIZE, function (rows) {
        return h('div', { class: 'cards' }, rows.map(function (s) { return submissionCard(s, true); }));
      }, 'submissions'));
    }
    view.appendChild(h('h3', null, 'All files'));
    if (isMissing('files')) { view.appendChild(missing('files', 'Files')); return; }
    if (db.files.length === 0) { view.appendChild(empty('No files.')); return; }
    view.appendChild(paged('files', db.files, PAGE_SIZE, function (rows) {
      return table([
        ['Name', function (f) { return uploadedFile(f); }],
        ['Kind', function (f) { return words(f.kind); }],
        ['Type', function (f) { return f.content_type; }],
        ['Size', function (f) { return bytes(f.size_bytes); }, 'num'],
        ['Owner', function (f) { return person(f.owner_id); }],
        ['Added', function (f) { return time(f.created_at); }],
        ['SHA-256', function (f) { return h('code', { class: 'hash', title: plain(f.sha256) }, f.sha256 ? String(f.sha256).slice(0, 12) + '…' : '—'); }]
      ], rows);
    }, 'files'));
  }

  function renderReviews(view) {
    view.appendChild(h('h2', { tabindex: '-1' }, 'Reviews'));
    if (isMissing('reviews')) { view.appendChild(missing('reviews', 'Reviews')); return; }
    if (db.reviews.length === 0) { view.appendChild(empty('No reviews.')); return; }
    view.appendChild(paged('reviews', db.reviews, PAGE_SIZE, function (rows) {
      return h('div', { class: 'cards' }, rows.map(function (r) { return reviewCard(r, true); }));
    }, 'reviews'));
  }

  function renderProposals(view) {
    view.appendChild(h('h2', { tabindex: '-1' }, 'Proposals & job posts'));
    view.appendChild(h('h3', null, 'Proposals'));
    if (isMissing('proposals')) view.appendChild(missing('proposals', 'Proposals'));
    else if (db.proposals.length === 0) view.appendChild(empty('No proposals.'));
    else {
      view.appendChild(paged('proposals', db.proposals, PAGE_SIZE, function (rows) {
        return table([
          ['Date', function (p) { return time(p.created_at); }],
          ['Kind', function (p) { return words(p.kind); }],
          ['Job post', function (p) {
            var j = p.job_post_id ? db.jobPostsById.get(p.job_post_id) : null;
            return j ? j.title : p.job_post_id ? shortId(p.job_post_id) : '—';
          }],
          ['Sent by', function (p) { return person(p.sender_id); }],
          ['Freelancer', function (p) { return person(p.freelancer_id); }],
          ['Client', function (p) { return person(p.client_id); }],
          ['Status', function (p) { return words(p.status); }],
          ['Cover letter', function (p) { return h('div', { class: 'text' }, plain(p.cover_letter)); }, 'wide']
        ], rows);
      }, 'proposals'));
    }
    view.appendChild(h('h3', null, 'Job posts'));
    if (isMissing('job_posts')) view.appendChild(missing('job_posts', 'Job posts'));
    else if (db.jobPosts.length === 0) view.appendChild(empty('No job posts.'));
    else {
      view.appendChild(paged('job_posts', db.jobPosts, PAGE_SIZE, function (rows) {
        return table([
          ['Posted', function (j) { return time(j.created_at); }],
          ['Title', function (j) { return j.title; }],
          ['Client', function (j) { return person(j.client_id); }],
          ['Status', function (j) { return words(j.status); }]
        ], rows);
      }, 'job posts'));
    }
  }

  function renderAudit(view) {
    view.appendChild(h('h2', { tabindex: '-1' }, 'Audit history'));
    if (isMissing('audit')) { view.appendChild(missing('audit', 'Audit history')); return; }
    if (db.audit.length === 0) { view.appendChild(empty('No recorded events.')); return; }
    view.appendChild(paged('audit', db.audit, PAGE_SIZE, function (rows) {
      return table([
        ['When', function (e) { return time(e.created_at); }],
        ['Who', function (e) { return e.actor_id ? person(e.actor_id) : 'system'; }],
        ['What', function (e) { return words(e.action); }],
        ['Why', function (e) { return e.reason; }],
        ['Details', function (e) {
          var d = e.detail;
          var blank = d === null || d === undefined || (typeof d === 'object' && Object.keys(d).length === 0);
          return blank ? h('span', { class: 'none' }, '—') : h('code', { class: 'detail' }, plain(d));
        }, 'wide']
      ], rows);
    }, 'events'));

    view.appendChild(h('h3', null, 'Requests to support to restore the account'));
    if (isMissing('restorations')) { view.appendChild(missing('restorations', 'Restoration requests')); return; }
    if (db.restorations.length === 0) { view.appendChild(empty('No restoration requests.')); return; }
    view.appendChild(paged('restorations', db.restorations, PAGE_SIZE, function (rows) {
      return table([
        ['Asked', function (r) { return time(r.created_at); }],
        ['Status', function (r) { return words(r.status); }],
        ['What you wrote', function (r) { return r.explanation; }, 'wide'],
        ['Decided', function (r) { return r.decided_at ? time(r.decided_at) : h('span', { class: 'none' }, '—'); }],
        ['Support\'s note', function (r) { return r.decision_note; }, 'wide']
      ], rows);
    }, 'requests'));
  }

  var RENDERERS = {
    profile: renderProfile,
    contracts: renderContracts,
    payments: renderPayments,
    invoices: renderInvoices,
    messages: renderMessages,
    submissions: renderSubmissions,
    reviews: renderReviews,
    proposals: renderProposals,
    audit: renderAudit
  };

  // ---- routing -------------------------------------------------------------------------------

  function currentRoute() {
    var raw = location.hash.replace(/^#/, '');
    var bits = raw.split('/').map(function (b) {
      try { return decodeURIComponent(b); } catch (_) { return b; }
    });
    if (bits[0] === 'thread' && bits[1]) {
      return { section: 'messages', id: bits[1], part: bits[2] ? parseInt(bits[2], 10) : 0 };
    }
    if (bits[0] === 'contract' && bits[1]) return { section: 'contracts', id: bits[1] };
    if (Object.prototype.hasOwnProperty.call(RENDERERS, bits[0])) return { section: bits[0] };
    return { section: 'profile' };
  }

  var view = null;

  function render(focus) {
    var r = currentRoute();
    renderToken++;
    view.setAttribute('data-state', 'loading');
    view.setAttribute('data-section', r.section);
    view.textContent = '';
    SECTIONS.forEach(function (s) {
      var link = document.getElementById('nav-' + s[0]);
      if (!link) return;
      if (s[0] === r.section) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    });
    try {
      RENDERERS[r.section](view, r);
    } catch (e) {
      recordError('showing ' + r.section + ': ' + describe(e));
      view.appendChild(h('p', { class: 'error' }, 'This part of the archive could not be shown: ' + describe(e)));
    }
    var label = SECTIONS.filter(function (s) { return s[0] === r.section; })[0][1];
    document.title = label + ' · ' + baseTitle;
    view.setAttribute('data-state', 'ready');
    if (focus) {
      var heading = view.querySelector('h2');
      if (heading) heading.focus({ preventScroll: true });
      window.scrollTo(0, 0);
    }
  }

  var baseTitle = 'hiatus archive';

  function start() {
    db = buildDb();
    view = document.getElementById('view');
    if (!view) {
      view = h('main', { id: 'view', tabindex: '-1' });
      document.body.appendChild(view);
    }

    var name = (db.profile && db.profile.display_name) || (db.account && db.account.legal_name) || null;
    if (name) baseTitle = 'hiatus archive of ' + name;
    var title = document.getElementById('title');
    if (title) title.textContent = baseTitle;
    var subtitle = document.getElementById('subtitle');
    if (subtitle && db.account) {
      subtitle.textContent = [db.account.email, words(db.account.state)].filter(function (x) { return x && x !== '—'; }).join(' · ');
    }

    var nav = document.getElementById('nav');
    if (!nav) {
      nav = h('nav', { id: 'nav', 'aria-label': 'Sections' });
      document.body.insertBefore(nav, view);
    }
    nav.textContent = '';
    nav.appendChild(h('ul', null, SECTIONS.map(function (s) {
      return h('li', null, route(s[0], s[1], { id: 'nav-' + s[0] }));
    })));

    var absent = CATEGORIES.filter(function (c) { return status[c] === 'missing'; });
    var notices = document.getElementById('notices') || view.parentNode.insertBefore(h('div', { id: 'notices' }), view);
    if (absent.length > 0) {
      notices.appendChild(h('p', { id: 'missing-categories', class: 'notice' },
        'Not in this archive: ',
        absent.map(words).join(', '), '.'));
    }

    started = true;
    var box = document.getElementById('viewer-errors');
    if (box && errors.length > 0) {
      box.hidden = false;
      errors.forEach(function (e) { box.appendChild(h('li', null, e)); });
    }

    window.addEventListener('hashchange', function () { render(true); });
    render(false);
    window.HIATUS_READY = true;
  }
})();
