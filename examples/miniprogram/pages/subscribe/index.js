// Subscribe, report the choice, then send: the page a mini-program copies.
// wx.requestSubscribeMessage: https://developers.weixin.qq.com/miniprogram/dev/api/open-api/subscribe-message/wx.requestSubscribeMessage.html
// wx.cloud.callFunction:      https://developers.weixin.qq.com/miniprogram/dev/wxcloud/reference-client-api/functions/callFunction.html

// The template id from your console (订阅消息 → 我的模板); one-time templates only here.
const TEMPLATE_ID = 'YOUR-TEMPLATE-ID'

Page({
  data: { status: '' },

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

    // Report the choice. The function records it for the calling user only (its openid comes
    // from the cloud call's context, never from the page). Skip this call if the console's
    // message push is configured: receive_event already hears every accept.
    await wx.cloud.callFunction({
      name: 'send',
      data: { action: 'record_subscription', result },
    })

    if (result[TEMPLATE_ID] !== 'accept') {
      this.setData({ status: '未订阅' })
      return
    }

    // Send to oneself: touser is omitted, the function fills in the caller's openid.
    const { result: sent } = await wx.cloud.callFunction({
      name: 'send',
      data: {
        templateId: TEMPLATE_ID,
        page: 'pages/subscribe/index',
        data: { thing1: '手机保护壳', character_string2: 'SF1234567890' },
        // The same key on a retry sends nothing twice.
        idempotencyKey: 'order-42-shipped',
      },
    })
    this.setData({
      status: sent.errcode === 0 ? `已发送 (${sent.status})` : `发送失败: ${sent.error} ${sent.errcode}`,
    })
  },
})
