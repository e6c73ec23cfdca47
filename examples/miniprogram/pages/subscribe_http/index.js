// Subscribe, report the choice, then send — over SCF Function URLs, without CloudBase.
// wx.login:                   https://developers.weixin.qq.com/miniprogram/dev/api/open-api/login/wx.login.html
// wx.request:                 https://developers.weixin.qq.com/miniprogram/dev/api/network/request/wx.request.html
// wx.requestSubscribeMessage: https://developers.weixin.qq.com/miniprogram/dev/api/open-api/subscribe-message/wx.requestSubscribeMessage.html

// The Function URLs that `scf deploy --noValidation` printed (SCF console → function → 函数 URL).
// Each function has a host of its own (https://<app-id>-<url-id>-<region>.scf.tencentcs.com):
// add all three hosts to 开发管理 → 服务器域名 → request 合法域名.
const URLS = {
  login: 'https://YOUR-LOGIN-FUNCTION-URL.scf.tencentcs.com',
  send: 'https://YOUR-SEND-FUNCTION-URL.scf.tencentcs.com',
  sendLog: 'https://YOUR-SEND-LOG-FUNCTION-URL.scf.tencentcs.com',
}
// The template id from your console (订阅消息 → 我的模板); one-time templates only here.
// Under `wxapush dev` / wxemu, the demo template "订单发货通知" is
// 'WxEmuDemo-OrderShipped-00000000000000000001'.
const TEMPLATE_ID = 'YOUR-TEMPLATE-ID'
const SESSION_KEY = 'wxapush_session' // local storage: {session, expiresAt}

// wx.request as a promise that resolves with {statusCode, data} (HTTP errors included).
function request(options) {
  return new Promise((resolve, reject) => {
    wx.request({ ...options, success: resolve, fail: reject })
  })
}

// wx.login's code -> the login function -> a session, kept until it expires. The session is
// wxapush's own signed token: WeChat's session_key never reaches the page.
async function login() {
  const { code } = await wx.login()
  const { statusCode, data } = await request({
    url: URLS.login,
    method: 'POST',
    data: { code },
  })
  if (statusCode !== 200) {
    // 40029 / 40163: the code is invalid or used (log in again); 40226: WeChat blocks the user.
    throw new Error(`login ${data.error} ${data.errcode}`)
  }
  const saved = { session: data.session, expiresAt: Date.now() + (data.expires_in - 60) * 1000 }
  wx.setStorageSync(SESSION_KEY, saved)
  return saved.session
}

async function session() {
  const saved = wx.getStorageSync(SESSION_KEY)
  return saved && saved.expiresAt > Date.now() ? saved.session : login()
}

// A call as this user: Authorization: Session <token>. A 401 (expired, or the secret was
// rotated away) logs in once more and repeats the call.
async function call(url, data, method = 'POST') {
  for (const retry of [false, true]) {
    const token = retry ? await login() : await session()
    const answer = await request({
      url,
      method,
      data,
      header: { Authorization: `Session ${token}` },
    })
    if (answer.statusCode !== 401 || retry) return answer.data
  }
}

Page({
  data: { status: '', sent: [], order: null },

  // Opened as pages/subscribe_http/index?orderId=…: the order whose shipping the user
  // subscribes to.
  onLoad(options) {
    // Replace with your own order lookup; these values fit the demo template's keywords.
    this.setData({
      order: {
        id: options.orderId || '1001',
        product: '手机保护壳', // thing1: at most 20 characters
        trackingNo: 'SF1234567890', // character_string2: letters, digits, symbols, ≤ 32
        shippedAt: '2026-11-27 10:30', // date3
        amount: '¥128.00', // amount6
      },
    })
  },

  // Bound to a button: from base library 2.8.2 the popup opens only on a user's tap.
  async onSubscribe() {
    let result
    try {
      result = await wx.requestSubscribeMessage({ tmplIds: [TEMPLATE_ID] })
    } catch (failure) {
      // {errMsg, errCode}: e.g. 20004 when the user switched subscriptions off.
      this.setData({ status: `订阅失败 ${failure.errCode}` })
      return
    }
    try {
      // Report the choice: recorded for the session's user only. Skip this call if the
      // console's message push points at receive_event: it already hears every accept.
      await call(URLS.send, { action: 'record_subscription', result })

      if (result[TEMPLATE_ID] !== 'accept') {
        this.setData({ status: '未订阅' })
        return
      }
      // Send to oneself: touser is omitted, the function takes the session's openid.
      const order = this.data.order
      const sent = await call(URLS.send, {
        template_id: TEMPLATE_ID,
        page: `pages/subscribe_http/index?orderId=${order.id}`,
        // Every keyword of the template, each within WeChat's rule for its type.
        data: {
          thing1: order.product,
          character_string2: order.trackingNo,
          date3: order.shippedAt,
          amount6: order.amount,
        },
        // One key per order and event: a retry sends nothing twice, the next order's message
        // is not mistaken for a repeat.
        idempotency_key: `order-${order.id}-shipped`,
      })
      this.setData({
        status: sent.errcode === 0 ? `已发送 (${sent.status})` : `发送失败: ${sent.error} ${sent.errcode}`,
      })
    } catch (error) {
      this.setData({ status: `发送失败: ${error.errMsg || error.message || error}` })
    }
  },

  // The user's own messages of today (send_log answers only the session's own records).
  async onHistory() {
    const today = new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10) // Asia/Shanghai
    try {
      const log = await call(URLS.sendLog, { begin_date: today, end_date: today }, 'GET')
      this.setData({ sent: log.errcode === 0 ? log.list : [] })
    } catch (error) {
      // wx.login or wx.request failed (offline, a domain not in the request 合法域名 list):
      // say so rather than leave the promise rejection unhandled.
      this.setData({ status: `查询失败: ${error.errMsg || error.message || error}` })
    }
  },
})
