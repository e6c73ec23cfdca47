// Subscribe, report the choice, then send: the page a mini-program copies.
// wx.requestSubscribeMessage: https://developers.weixin.qq.com/miniprogram/dev/api/open-api/subscribe-message/wx.requestSubscribeMessage.html
// wx.cloud.callFunction:      https://developers.weixin.qq.com/miniprogram/dev/wxcloud/reference-client-api/functions/callFunction.html

// The template id from your console (订阅消息 → 我的模板); one-time templates only here.
// Under `wxapush dev` / wxemu, the demo template "订单发货通知" is
// 'WxEmuDemo-OrderShipped-00000000000000000001'.
const TEMPLATE_ID = 'YOUR-TEMPLATE-ID'

Page({
  data: { status: '', order: null },

  // Opened as pages/subscribe/index?orderId=…: the order whose shipping the user subscribes to.
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

    // A rejected cloud call (network, the function failing) must reach the user, not end up
    // an unhandled promise rejection.
    try {
      // Report the choice. The function records it for the calling user only (its openid
      // comes from the cloud call's context, never from the page). Skip this call if the
      // console's message push is configured: receive_event already hears every accept.
      await wx.cloud.callFunction({
        name: 'send',
        data: { action: 'record_subscription', result },
      })

      if (result[TEMPLATE_ID] !== 'accept') {
        this.setData({ status: '未订阅' })
        return
      }

      // Send to oneself: touser is omitted, the function fills in the caller's openid.
      const order = this.data.order
      const { result: sent } = await wx.cloud.callFunction({
        name: 'send',
        data: {
          templateId: TEMPLATE_ID,
          page: `pages/subscribe/index?orderId=${order.id}`,
          // Every keyword of the template, each within WeChat's rule for its type.
          data: {
            thing1: order.product,
            character_string2: order.trackingNo,
            date3: order.shippedAt,
            amount6: order.amount,
          },
          // One key per order and event: a retry of this send sends nothing twice, while the
          // next order's message is not mistaken for a repeat.
          idempotencyKey: `order-${order.id}-shipped`,
        },
      })
      this.setData({
        status: sent.errcode === 0 ? `已发送 (${sent.status})` : `发送失败: ${sent.error} ${sent.errcode}`,
      })
    } catch (error) {
      this.setData({ status: `调用失败: ${error.errMsg || error.message || error}` })
    }
  },
})
