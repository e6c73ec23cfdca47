/* wxapush dashboard: the page's words in Chinese (the default) and English.
 *
 * index.html is written in Chinese, so a browser without script reads Chinese. With script, the
 * language is the one chosen with the page's switch (kept in localStorage), else English for a
 * browser whose first preferred language is not Chinese (navigator.languages, which the browser
 * builds from the same preference as Accept-Language), else Chinese. Every element carrying
 * data-i18n="<key>" gets its text from here; scripts ask t(key, args…).
 */
(function () {
  "use strict";
  var STORAGE = "wxapush_lang";
  var STRINGS = {
    zh: {
      title: "wxapush · 发送记录",
      subtitle: "发送记录",
      switch: "English",
      sign_out: "退出登录",
      sign_in: "登录",
      admin_key: "管理密钥（WXAPUSH_ADMIN_KEY）",
      sign_in_button: "登录",
      no_script: "未启用脚本：可以登录，但图表和发送记录需要启用 JavaScript 才能显示。",
      from: "从",
      to: "至",
      show: "查看",
      totals: "总计",
      delivery_rate: "送达率（已送达 ÷ 微信已接收）：",
      per_day: "每日消息数",
      rate_per_day: "每日送达率",
      top_errcodes: "常见错误码",
      errcode: "错误码",
      count: "次数",
      meaning: "含义",
      templates: "模板",
      template: "模板",
      sent: "已发送",
      delivered: "已送达",
      refused: "被拒绝",
      top_refusal: "最常见的拒绝原因",
      user_history: "用户的消息记录",
      send_log: "发送记录",
      status: "状态",
      any: "全部",
      filter: "筛选",
      clear: "清除",
      time: "时间",
      data: "内容",
      errmsg: "错误信息",
      newer: "← 较新",
      older: "较旧 →",
      none: "无",
      show_status: "查看{0}",
      page_label: "第 {0}–{1} 条，共 {2} 条",
      user_total: "该时段内 {0} 条消息。",
      grants_left: "剩余订阅次数：",
      no_grants: "没有订阅记录。",
      "st.pending": "待发送",
      "st.sent": "已发送",
      "st.delivered": "已送达",
      "st.undelivered": "未送达",
      "st.failed": "失败",
      "st.rejected": "已拒绝",
      "st.unknown": "结果未知",
      "err.-1": "微信系统繁忙，可以重试",
      "err.40001": "access_token 无效或不是最新的",
      "err.40003": "touser 不是本小程序用户的 openid",
      "err.40037": "template_id 不正确，或属于其他小程序",
      "err.41030": "page 格式不对，或不在已发布的小程序中",
      "err.42001": "access_token 已过期",
      "err.43101": "用户未订阅，或一次性订阅已用完",
      "err.43107": "该账号或模板被禁止发送订阅消息",
      "err.43108": "同时向同一用户发送了多条消息",
      "err.45009": "接口今日调用量已用完（北京时间零点恢复）",
      "err.45011": "接口每分钟调用量已用完",
      "err.45168": "内容命中敏感词",
      "err.47001": "请求体不是 JSON 对象",
      "err.47003": "参数值不符合关键词规则（长度、格式、为空）",
      "err.48001": "小程序无权调用该接口"
    },
    en: {
      title: "wxapush · send log",
      subtitle: "send log",
      switch: "中文",
      sign_out: "Sign out",
      sign_in: "Sign in",
      admin_key: "Admin key (WXAPUSH_ADMIN_KEY)",
      sign_in_button: "Sign in",
      no_script: "Script is off: you can sign in, but the charts and the send log need JavaScript.",
      from: "From",
      to: "to",
      show: "Show",
      totals: "Totals",
      delivery_rate: "Delivery rate (delivered ÷ accepted by WeChat):",
      per_day: "Messages per day",
      rate_per_day: "Delivery rate per day",
      top_errcodes: "Top errcodes",
      errcode: "errcode",
      count: "count",
      meaning: "meaning",
      templates: "Templates",
      template: "template",
      sent: "sent",
      delivered: "delivered",
      refused: "refused",
      top_refusal: "most common refusal",
      user_history: "A user's history",
      send_log: "Send log",
      status: "status",
      any: "any",
      filter: "Filter",
      clear: "Clear",
      time: "time",
      data: "data",
      errmsg: "errmsg",
      newer: "← newer",
      older: "older →",
      none: "none",
      show_status: "show {0}",
      page_label: "{0}–{1} of {2}",
      user_total: "{0} message(s) in the period. ",
      grants_left: "Subscriptions left: ",
      no_grants: "No subscriptions recorded."
    }
  };

  function preferred() {
    try {
      var chosen = window.localStorage.getItem(STORAGE);
      if (chosen === "zh" || chosen === "en") return chosen;
    } catch (e) { /* storage blocked: the browser's preference decides */ }
    var first = (navigator.languages && navigator.languages[0]) || navigator.language || "";
    return first === "" || /^zh\b/i.test(first) ? "zh" : "en";
  }

  var lang = preferred();

  function t(key) {
    var table = STRINGS[lang];
    var text = Object.prototype.hasOwnProperty.call(table, key) ? table[key] : null;
    if (text === null) return null;
    var args = Array.prototype.slice.call(arguments, 1);
    return text.replace(/\{(\d)\}/g, function (_, i) { return String(args[Number(i)]); });
  }

  /* A status's name on the page ("delivered" in English, 已送达 in Chinese). */
  function status(name) { return t("st." + name) || name; }

  /* An errcode's meaning: the page's own words in Chinese, else the server's. */
  function meaning(errcode, fallback) { return t("err." + errcode) || fallback; }

  function apply() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.title = t("title");
    var nodes = document.querySelectorAll("[data-i18n]");
    for (var i = 0; i < nodes.length; i++) {
      var text = t(nodes[i].getAttribute("data-i18n"));
      if (text !== null) nodes[i].textContent = text;
    }
  }

  function toggle() {
    lang = lang === "zh" ? "en" : "zh";
    try { window.localStorage.setItem(STORAGE, lang); } catch (e) { /* kept for this page */ }
    apply();
  }

  window.WxI18n = {
    t: t, status: status, meaning: meaning, apply: apply, toggle: toggle,
    lang: function () { return lang; }
  };
})();
