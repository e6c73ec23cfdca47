/* wxapush dashboard: sign-in, figures, charts and the send log.
 *
 * Every value from the log (openids, data values, errmsgs) is written with textContent, never
 * parsed as HTML. The admin key goes once to POST login and is kept nowhere: the session is an
 * HttpOnly cookie this script cannot read; the CSRF token lives in a variable only.
 */
(function () {
  "use strict";
  var state = { csrf: null, offset: 0, count: 20, total: 0, filters: {}, statuses: [] };
  var i18n = window.WxI18n;
  function $(id) { return document.getElementById(id); }
  function t() { return i18n.t.apply(null, arguments); }

  function node(tag, text, cls) {
    var n = document.createElement(tag);
    if (text !== undefined && text !== null) n.textContent = String(text);
    if (cls) n.className = cls;
    return n;
  }

  function query(params) {
    var parts = [];
    Object.keys(params).forEach(function (k) {
      var v = params[k];
      if (v !== undefined && v !== null && v !== "") {
        parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(v));
      }
    });
    return parts.length ? "?" + parts.join("&") : "";
  }

  function call(method, path, body) {
    var init = { method: method, credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (state.csrf) init.headers["X-CSRF-Token"] = state.csrf;
    return fetch(path, init).then(function (r) {
      return r.json().catch(function () { return { errcode: -1, errmsg: "HTTP " + r.status }; })
        .then(function (j) { j.httpStatus = r.status; return j; });
    });
  }

  function period() {
    return { begin_date: $("begin-date").value, end_date: $("end-date").value };
  }

  function show(signedIn) {
    $("sign-in").hidden = signedIn;
    $("dashboard").hidden = !signedIn;
    $("sign-out").hidden = !signedIn;
    if (!signedIn) { state.csrf = null; $("who").textContent = ""; $("key").focus(); }
  }

  function failed(answer) {
    if (answer.httpStatus === 401) { show(false); return true; }
    if (answer.errcode !== 0) {
      $("load-error").textContent = answer.errmsg + " (" + answer.errcode + ")";
      return true;
    }
    return false;
  }

  function start() {
    call("GET", "api/session").then(function (s) {
      if (s.errcode !== 0) { show(false); return; }
      state.csrf = s.csrf_token;
      $("who").textContent = s.appid + " · " + s.tz;
      show(true);
      loadAll();
    });
  }

  function loadAll() {
    $("load-error").textContent = "";
    loadSummary();
    loadAlerts();
    loadLog();
  }

  var ALERT_STATES = { firing: "告警 firing", cleared: "恢复 cleared", notice: "通知 notice" };

  function loadAlerts() {
    call("GET", "api/alerts" + query(period())).then(function (a) {
      if (failed(a)) return;
      var body = $("alerts").tBodies[0];
      body.textContent = "";
      if (!a.alerts.length) { body.appendChild(row(["无 none", "", "", ""])); return; }
      a.alerts.forEach(function (e) {
        body.appendChild(row([e.time, ALERT_STATES[e.state] || e.state, e.title, e.detail]));
      });
    });
  }

  function loadSummary() {
    call("GET", "api/summary" + query(period())).then(function (s) {
      if (failed(s)) return;
      $("begin-date").value = s.begin_date;
      $("end-date").value = s.end_date;
      $("period-label").textContent = s.begin_date + " – " + s.end_date + " (" + s.tz + ")";
      fillStatuses(s.statuses);
      renderTotals(s);
      renderCharts(s);
      renderErrcodes(s.errcodes);
      renderTemplates(s.templates);
    });
  }

  function fillStatuses(statuses) {
    if (state.statuses.length) return;
    state.statuses = statuses;
    statuses.forEach(function (st) {
      var o = node("option", i18n.status(st)); o.value = st; $("filter-status").appendChild(o);
    });
  }

  function relabelStatuses() {
    var options = $("filter-status").options;
    for (var i = 0; i < options.length; i++) {
      if (options[i].value) options[i].textContent = i18n.status(options[i].value);
    }
  }

  function renderTotals(s) {
    var box = $("totals");
    box.textContent = "";
    s.statuses.forEach(function (st) {
      var card = node("div", null, "total");
      var count = node("span", s.totals[st] || 0, "count");
      count.setAttribute("data-status", st);
      card.appendChild(count);
      card.appendChild(node("span", i18n.status(st), "label"));
      box.appendChild(card);
    });
    var r = s.rate.delivery_rate;
    $("delivery-rate").textContent = r === null ? "–" : (r * 100).toFixed(1) + "%";
  }

  function renderCharts(s) {
    var labels = s.days.map(function (d) { return d.date; });
    window.WxCharts.stackedBars($("chart-days"), {
      labels: labels, keys: s.statuses, series: s.days.map(function (d) { return d.counts; })
    });
    window.WxCharts.rateLine($("chart-rate"), {
      labels: labels, values: s.days.map(function (d) { return d.delivery_rate; })
    });
    var legend = $("legend");
    legend.textContent = "";
    s.statuses.forEach(function (st) {
      var item = node("span");
      item.appendChild(node("span", null, "swatch st-" + st));
      item.appendChild(document.createTextNode(i18n.status(st)));
      legend.appendChild(item);
    });
  }

  function row(cells) {
    var tr = document.createElement("tr");
    cells.forEach(function (c) {
      var td = c instanceof Node ? c : node("td", c);
      if (c instanceof Node && c.tagName !== "TD") { td = node("td"); td.appendChild(c); }
      tr.appendChild(td);
    });
    return tr;
  }

  function link(text, onClick) {
    var a = node("a", text);
    a.href = "#log";
    a.addEventListener("click", function (e) { e.preventDefault(); onClick(); });
    return a;
  }

  function dominant(statuses) {
    var best = null;
    Object.keys(statuses).forEach(function (k) {
      if (best === null || statuses[k] > statuses[best]) best = k;
    });
    return best;
  }

  function renderErrcodes(list) {
    var body = $("errcodes").tBodies[0];
    body.textContent = "";
    if (!list.length) { body.appendChild(row([t("none"), "", "", ""])); return; }
    list.forEach(function (e) {
      var status = dominant(e.statuses);
      body.appendChild(row([String(e.errcode), String(e.count), i18n.meaning(e.errcode, e.meaning),
        link(t("show_status", i18n.status(status)), function () {
          filterLog({ status: status, errcode: String(e.errcode) });
        })]));
    });
  }

  function renderTemplates(list) {
    var body = $("templates").tBodies[0];
    body.textContent = "";
    if (!list.length) { body.appendChild(row([t("none"), "", "", "", ""])); return; }
    list.forEach(function (tpl) {
      var name = tpl.title ? tpl.title + " (" + tpl.template_id + ")" : tpl.template_id;
      var refusal = tpl.top_refusal
        ? tpl.top_refusal.errcode + " ×" + tpl.top_refusal.count + " — " +
          i18n.meaning(tpl.top_refusal.errcode, tpl.top_refusal.meaning) : "–";
      body.appendChild(row([
        link(name, function () { filterLog({ template_id: tpl.template_id }); }),
        String(tpl.sent), String(tpl.delivered), String(tpl.refused), refusal
      ]));
    });
  }

  function filterLog(filters) {
    $("filter-status").value = filters.status || "";
    $("filter-template").value = filters.template_id || "";
    $("filter-openid").value = filters.touser || "";
    $("filter-errcode").value = filters.errcode || "";
    state.filters = filters;
    state.offset = 0;
    loadLog();
    $("log").scrollIntoView();
  }

  function loadLog() {
    var params = Object.assign({}, period(), state.filters,
      { offset: state.offset, count: state.count });
    call("GET", "api/log" + query(params)).then(function (page) {
      if (failed(page)) return;
      state.total = page.total;
      var body = $("log").tBodies[0];
      body.textContent = "";
      page.list.forEach(function (m) {
        var badge = node("span", i18n.status(m.status), "status st-" + m.status);
        var tr = row([m.created_at.replace("T", " ").slice(0, 19), badge, m.template_id,
          m.touser, dataText(m.data), m.errcode === null ? "" : String(m.errcode),
          m.errmsg || ""]);
        tr.cells[4].className = "data";
        tr.setAttribute("data-log-id", m.log_id);
        body.appendChild(tr);
      });
      var first = page.total ? state.offset + 1 : 0;
      $("page-label").textContent = t("page_label", first, state.offset + page.list.length,
        page.total_exact ? page.total : (page.total - 1) + "+");
      $("page-prev").disabled = state.offset === 0;
      // Past 500 matches counting stops (a lower bound): a short page is the real end.
      $("page-next").disabled = state.offset + page.list.length >= page.total ||
        page.list.length < state.count;
    });
  }

  function dataText(data) {
    return Object.keys(data || {}).map(function (k) {
      var v = data[k];
      if (v && typeof v === "object" && "value" in v) v = v.value;
      return k + ": " + v;
    }).join("\n");
  }

  function loadUser(openid) {
    call("GET", "api/user" + query(Object.assign({ openid: openid }, period(), { count: 1 })))
      .then(function (u) {
        if (failed(u)) return;
        var box = $("user-grants");
        box.textContent = t("user_total", u.total);
        box.appendChild(document.createTextNode(u.grants.length
          ? t("grants_left") + u.grants.map(function (g) {
            return (g.title || g.template_id) + " " + g.balance;
          }).join(", ")
          : t("no_grants")));
      });
    filterLog({ touser: openid });
  }

  document.addEventListener("DOMContentLoaded", function () {
    i18n.apply();
    $("lang-switch").hidden = false;
    $("lang-switch").addEventListener("click", function () {
      i18n.toggle();
      relabelStatuses();
      if (state.csrf) loadAll();  // the figures again, in the other language's words
    });
    $("sign-in-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var input = $("key");
      call("POST", "login", { key: input.value }).then(function (a) {
        input.value = "";
        if (a.errcode !== 0) {
          $("sign-in-error").textContent = a.errmsg;
          return;
        }
        $("sign-in-error").textContent = "";
        start();
      });
    });
    $("sign-out").addEventListener("click", function () {
      call("POST", "logout", {}).then(function () { show(false); });
    });
    $("period").addEventListener("submit", function (e) {
      e.preventDefault(); state.offset = 0; loadAll();
    });
    $("filters").addEventListener("submit", function (e) {
      e.preventDefault();
      filterLog({ status: $("filter-status").value, template_id: $("filter-template").value,
        touser: $("filter-openid").value, errcode: $("filter-errcode").value.trim() });
    });
    $("filter-clear").addEventListener("click", function () { filterLog({}); });
    $("user-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var openid = $("user-openid").value.trim();
      if (openid) loadUser(openid);
    });
    $("page-prev").addEventListener("click", function () {
      state.offset = Math.max(0, state.offset - state.count); loadLog();
    });
    $("page-next").addEventListener("click", function () {
      state.offset += state.count; loadLog();
    });
    start();
  });
})();
