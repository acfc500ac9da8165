/* goc-loadgen's HTML report: draws the plots and tables of the runs in
 * #goc-data (the JSON reports, docs/reports.md) as inline SVG. No library,
 * no network: the page's Content-Security-Policy forbids every request.
 * When done, #status gets data-done="1" and data-errors="N", the number of
 * errors this page met (script errors and blocked requests), which the
 * browser test reads. */
(function () {
  'use strict';
  var NS = 'http://www.w3.org/2000/svg';
  var st = document.getElementById('status');
  var errors = 0;
  function count(why) {
    errors++;
    st.setAttribute('data-errors', String(errors));
    st.appendChild(document.createTextNode(' ' + why));
  }
  window.addEventListener('error', function (e) { count('error: ' + e.message); });
  document.addEventListener('securitypolicyviolation', function (e) {
    count('blocked: ' + e.blockedURI);
  });
  var COLORS = ['#1f5fa8', '#c0392b', '#27884a', '#8e44ad', '#d35400', '#16a085'];
  var W = 880, H = 330, ML = 70, MR = 20, MT = 16, MB = 46;

  function el(tag, attrs, parent, text) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.appendChild(document.createTextNode(text));
    if (parent) parent.appendChild(e);
    return e;
  }
  function h(tag, attrs, parent, text) {
    var e = document.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.appendChild(document.createTextNode(text));
    if (parent) parent.appendChild(e);
    return e;
  }
  function ms(ns) { return ns / 1e6; }
  function fmtMs(v) {
    if (v === 0) return '0';
    if (v >= 100) return v.toFixed(0);
    if (v >= 10) return v.toFixed(1);
    if (v >= 1) return v.toFixed(2);
    return v.toPrecision(2);
  }
  function fmtNs(ns) {
    if (ns >= 1e9) return (ns / 1e9).toPrecision(4) + ' s';
    if (ns >= 1e6) return (ns / 1e6).toPrecision(4) + ' ms';
    if (ns >= 1e3) return (ns / 1e3).toPrecision(4) + ' us';
    return ns + ' ns';
  }
  /* About 5 round ticks from 0 to max. */
  function niceTicks(max) {
    if (!(max > 0)) max = 1;
    var step = Math.pow(10, Math.floor(Math.log10(max / 5)));
    var f = max / 5 / step;
    step *= f > 5 ? 10 : f > 2 ? 5 : f > 1 ? 2 : 1;
    var t = [];
    for (var v = 0; v <= max * 1.0001; v += step) t.push(v);
    if (t[t.length - 1] < max) t.push(t[t.length - 1] + step);
    return t;
  }
  /* Axes and grid; returns the scales. xs, ys: [{v, label}]. */
  function frame(svg, x0, x1, y0, y1, xs, ys, xlabel, ylabel, xlog) {
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.setAttribute('width', W);
    svg.setAttribute('height', H);
    var fx = xlog ? function (v) { return Math.log10(v); } : function (v) { return v; };
    var a = fx(x0), b = fx(x1);
    if (b <= a) b = a + 1;
    if (y1 <= y0) y1 = y0 + 1;
    var sx = function (v) { return ML + (fx(v) - a) / (b - a) * (W - ML - MR); };
    var sy = function (v) { return H - MB - (v - y0) / (y1 - y0) * (H - MT - MB); };
    var g = el('g', {'class': 'axes'}, svg);
    ys.forEach(function (t) {
      el('line', {x1: ML, x2: W - MR, y1: sy(t.v), y2: sy(t.v), 'class': 'grid'}, g);
      el('text', {x: ML - 6, y: sy(t.v) + 4, 'text-anchor': 'end'}, g, t.label);
    });
    xs.forEach(function (t) {
      el('line', {x1: sx(t.v), x2: sx(t.v), y1: MT, y2: H - MB, 'class': 'grid'}, g);
      el('text', {x: sx(t.v), y: H - MB + 16, 'text-anchor': 'middle'}, g, t.label);
    });
    el('rect', {x: ML, y: MT, width: W - ML - MR, height: H - MT - MB, 'class': 'box'}, g);
    el('text', {x: (ML + W - MR) / 2, y: H - 8, 'text-anchor': 'middle', 'class': 'label'}, g, xlabel);
    el('text', {x: 14, y: (MT + H - MB) / 2, 'text-anchor': 'middle', 'class': 'label',
                transform: 'rotate(-90 14 ' + (MT + H - MB) / 2 + ')'}, g, ylabel);
    return {x: sx, y: sy};
  }
  function polyline(svg, pts, cls, color, run, extra) {
    var s = pts.map(function (p) { return p[0].toFixed(1) + ',' + p[1].toFixed(1); }).join(' ');
    var a = {points: s, 'class': cls + ' run-' + run, 'data-run': run,
             'data-points': pts.length, stroke: color, fill: 'none'};
    for (var k in extra || {}) a[k] = extra[k];
    return el('polyline', a, svg);
  }
  function legend(parent, runs, names) {
    var d = h('div', {'class': 'legend'}, parent);
    runs.forEach(function (r, i) {
      var s = h('span', {}, d);
      h('span', {'class': 'swatch', style: 'background:' + COLORS[i % COLORS.length]}, s);
      s.appendChild(document.createTextNode(names[i] + ' (' + r.start_utc + ')'));
    });
  }

  function plotTime(svg, runs) {
    var n = 0, ymax = 0;
    runs.forEach(function (r) {
      n = Math.max(n, r.series.length);
      r.series.forEach(function (s) { ymax = Math.max(ymax, ms(s.max)); });
    });
    var yt = niceTicks(ymax), xt = niceTicks(Math.max(n, 1));
    var sc = frame(svg, 0, xt[xt.length - 1], 0, yt[yt.length - 1],
                   xt.map(function (v) { return {v: v, label: v + ' s'}; }),
                   yt.map(function (v) { return {v: v, label: fmtMs(v)}; }),
                   'seconds since the start (each point: the calls that ended in that second)',
                   'latency from due time (ms)');
    runs.forEach(function (r, i) {
      var c = COLORS[i % COLORS.length];
      ['p50', 'p99', 'max'].forEach(function (k) {
        var pts = r.series.map(function (s, t) { return [sc.x(t + 0.5), sc.y(ms(s[k]))]; });
        polyline(svg, pts, 'line line-' + k, c, i);
      });
      r.series.forEach(function (s, t) {
        var to = s.codes['1001'];
        var bad = s.completed - s.codes['0'] - s.codes['1002'] - to;
        if (!to && !bad) return;
        var m = el('circle', {cx: sc.x(t + 0.5), cy: sc.y(ms(s.max)), r: 5,
                              'class': 'mark ' + (bad ? 'mark-error' : 'mark-timeout') + ' run-' + i,
                              'data-run': i, stroke: c}, svg);
        el('title', {}, m, 'second ' + t + ': ' + to + ' timeouts, ' + bad + ' errors');
      });
    });
  }

  /* Percentile spectrum: each slot at the percentile where its values
   * begin, on a 1/(1-p) axis (log), as HdrHistogram's plots. */
  function spectrumPoints(d) {
    var pts = [], cum = 0;
    d.buckets.forEach(function (b) {
      pts.push([1 / (1 - cum / d.count), b[0]]);
      cum += b[1];
    });
    return pts;
  }
  function plotSpectrum(svg, runs) {
    var xmax = 10, ymax = 0, all = [];
    runs.forEach(function (r) {
      var p = spectrumPoints(r.latency_ns);
      all.push(p);
      p.forEach(function (q) { xmax = Math.max(xmax, q[0]); ymax = Math.max(ymax, ms(q[1])); });
    });
    var decades = Math.max(2, Math.ceil(Math.log10(xmax) - 1e-9));
    xmax = Math.pow(10, decades);
    var xt = [];
    for (var k = 0; k <= decades; k++) {
      var p = 100 - 100 / Math.pow(10, k);
      xt.push({v: Math.pow(10, k), label: (k === 0 ? '0' : String(+p.toFixed(k))) + '%'});
    }
    var yt = niceTicks(ymax);
    var sc = frame(svg, 1, xmax, 0, yt[yt.length - 1], xt,
                   yt.map(function (v) { return {v: v, label: fmtMs(v)}; }),
                   'percentile (log scale of 1/(1-p))', 'latency from due time (ms)', true);
    all.forEach(function (p, i) {
      polyline(svg, p.map(function (q) { return [sc.x(q[0]), sc.y(ms(q[1]))]; }),
               'line spectrum', COLORS[i % COLORS.length], i);
    });
  }

  var NBINS = 40;
  function plotHistogram(svg, runs) {
    var lo = Infinity, hi = 0;
    runs.forEach(function (r) {
      if (r.latency_ns.count) { lo = Math.min(lo, r.latency_ns.min); hi = Math.max(hi, r.latency_ns.max); }
    });
    if (!(lo < Infinity)) { lo = 1e3; hi = 1e6; }
    lo = Math.max(lo, 1);
    if (hi <= lo) hi = lo * 2;
    var edges = [];
    for (var k = 0; k <= NBINS; k++) edges.push(lo * Math.pow(hi / lo, k / NBINS));
    var bins = runs.map(function (r) {
      var c = [], d = r.latency_ns;
      for (var k = 0; k < NBINS; k++) c.push(0);
      d.buckets.forEach(function (b) {
        var k = Math.floor(Math.log(b[0] / lo) / Math.log(hi / lo) * NBINS);
        c[Math.min(NBINS - 1, Math.max(0, k))] += b[1];
      });
      return c.map(function (v) { return d.count ? 100 * v / d.count : 0; });
    });
    var ymax = 0;
    bins.forEach(function (c) { c.forEach(function (v) { ymax = Math.max(ymax, v); }); });
    var xt = [];
    for (var e = Math.ceil(Math.log10(ms(lo))); Math.pow(10, e) <= ms(hi); e++)
      xt.push({v: Math.pow(10, e), label: fmtMs(Math.pow(10, e))});
    var yt = niceTicks(ymax);
    var sc = frame(svg, ms(lo), ms(hi), 0, yt[yt.length - 1], xt,
                   yt.map(function (v) { return {v: v, label: v + '%'}; }),
                   'latency from due time (ms, log scale)', 'share of calls', true);
    bins.forEach(function (c, i) {
      var g = el('g', {'class': 'bars run-' + i, 'data-run': i, 'data-points': NBINS}, svg);
      c.forEach(function (v, k) {
        var x0 = sc.x(ms(edges[k])), x1 = sc.x(ms(edges[k + 1]));
        var w = (x1 - x0) / runs.length;
        var b = el('rect', {x: (x0 + i * w).toFixed(1), y: sc.y(v).toFixed(1), width: Math.max(w - 0.5, 0.5).toFixed(1),
                            height: (sc.y(0) - sc.y(v)).toFixed(1), fill: COLORS[i % COLORS.length],
                            'class': 'bar run-' + i}, g);
        el('title', {}, b, fmtNs(edges[k]) + ' to ' + fmtNs(edges[k + 1]) + ': ' + v.toFixed(3) + '%');
      });
    });
  }

  function table(parent, id, head, rows) {
    var t = h('table', {id: id}, parent);
    var tr = h('tr', {}, t);
    head.forEach(function (c) { h('th', {}, tr, c); });
    rows.forEach(function (r) {
      var tr = h('tr', {}, t);
      r.forEach(function (c, i) { h(i ? 'td' : 'th', {}, tr, String(c)); });
    });
    return t;
  }
  function pct(n, of) { return of ? ' (' + (100 * n / of).toFixed(3) + '%)' : ''; }

  function tables(runs, names) {
    var head = [''].concat(names);
    function row(label, f) { return [label].concat(runs.map(f)); }
    table(document.getElementById('params'), 'table-params', head, [
      row('target', function (r) { return r.target; }),
      row('start (UTC)', function (r) { return r.start_utc; }),
      row('host', function (r) { return r.host; }),
      row('rate asked', function (r) { return r.rate + '/s'; }),
      row('duration', function (r) { return fmtNs(r.duration_ns); }),
      row('timeout', function (r) { return fmtNs(r.timeout_ns); }),
      row('max in flight', function (r) { return r.max_in_flight; }),
      row('keep-alive', function (r) { return r.keepalive ? 'on' : 'off'; }),
      row('interrupted', function (r) { return r.interrupted ? 'yes' : 'no'; }),
      row('goc-loadgen / libgoc', function (r) { return r.tool.version + ' / ' + r.library.version; })]);
    var CODES = [['0', 'Success'], ['1001', 'Call Timeout Warning'], ['1002', 'Call Canceled Warning'],
                 ['2001', 'Call Error'], ['2002', 'Response Error'], ['2003', 'Callee Error'],
                 ['3001', 'Call Fatal Error'], ['other', 'Other codes']];
    var rows = [
      row('planned', function (r) { return r.planned; }),
      row('issued', function (r) { return r.issued; }),
      row('not issued', function (r) { return r.not_issued; }),
      row('late starts (no free slot)', function (r) { return r.late + ' (' + r.late_no_slot + ')'; }),
      row('achieved rate', function (r) { return r.achieved_rate.toFixed(1) + '/s'; })];
    CODES.forEach(function (c) {
      rows.push(row(c[1] + ' (' + c[0] + ')', function (r) { return r.codes[c[0]] + pct(r.codes[c[0]], r.issued); }));
    });
    var kinds = {}, statuses = {};
    runs.forEach(function (r) {
      for (var k in r.errors) if (r.errors[k]) kinds[k] = 1;
      for (var s in r.statuses) statuses[s] = 1;
    });
    Object.keys(statuses).sort().forEach(function (s) {
      rows.push(row('HTTP ' + s, function (r) { return (r.statuses[s] || 0) + pct(r.statuses[s] || 0, r.issued); }));
    });
    Object.keys(kinds).forEach(function (k) {
      rows.push(row('error: ' + k.replace(/_/g, ' '), function (r) {
        return (r.errors[k] || 0) + (r.first_error[k] ? ' - ' + r.first_error[k] : '');
      }));
    });
    table(document.getElementById('outcomes'), 'table-outcomes', head, rows);
    var P = ['p50', 'p75', 'p90', 'p95', 'p99', 'p99.9', 'p99.99', 'p99.999', 'max', 'mean'];
    var lh = [''];
    names.forEach(function (n) { lh.push(n + ': latency'); lh.push(n + ': service'); });
    table(document.getElementById('percentiles'), 'table-percentiles', lh, P.map(function (p) {
      var r = [p];
      runs.forEach(function (x) { r.push(fmtNs(x.latency_ns[p])); r.push(fmtNs(x.service_ns[p])); });
      return r;
    }));
    ranks(runs, names);
  }

  /* A run across MPI ranks (docs/mpi.md): one row per rank. */
  function ranks(runs, names) {
    var parent = document.getElementById('ranks');
    runs.forEach(function (r, i) {
      if (!r.mpi) return;
      parent.removeAttribute('hidden');
      h('p', {'class': 'note'}, parent, names[i] + ': ' + r.mpi.ranks +
        ' ranks; offset: rank 0\'s clock minus the rank\'s (bound ' + fmtNs(r.mpi.clock_bound_ns) + ')');
      table(parent, 'table-ranks-' + i,
            ['rank', 'host', 'pid', 'offset', '\u00b1', 'issued', 'achieved rate', 'success',
             'timeouts', 'errors', 'CPU', 'state'],
            r.mpi.rows.map(function (x) {
              var err = 0;
              ['2001', '2002', '2003', '3001', 'other'].forEach(function (k) { err += x.codes[k]; });
              return [x.rank, x.host, x.pid, fmtNs(Math.abs(x.offset_ns)).replace(/^/, x.offset_ns < 0 ? '-' : ''),
                      fmtNs(x.uncertainty_ns), x.issued, x.achieved_rate.toFixed(1) + '/s', x.codes['0'],
                      x.codes['1001'], err, (x.cpu_user_s + x.cpu_sys_s).toFixed(2) + ' s',
                      x.state + (x.why ? ': ' + x.why : '')];
            }));
    });
  }

  try {
    var runs = JSON.parse(document.getElementById('goc-data').textContent);
    var names = JSON.parse(document.getElementById('goc-names').textContent);
    document.title = 'goc-loadgen: ' + names.join(' vs ');
    ['legend-time', 'legend-spectrum', 'legend-hist'].forEach(function (id) {
      legend(document.getElementById(id), runs, names);
    });
    plotTime(document.getElementById('plot-time'), runs);
    plotSpectrum(document.getElementById('plot-spectrum'), runs);
    plotHistogram(document.getElementById('plot-hist'), runs);
    tables(runs, names);
  } catch (e) {
    count('exception: ' + e);
  }
  st.setAttribute('data-errors', String(errors));
  st.setAttribute('data-done', '1');
  if (!errors) st.textContent = 'rendered ' + runs.length + ' run(s)';
})();
