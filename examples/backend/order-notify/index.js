// An order service's hook: when an order ships, tell its buyer with a subscribe message sent
// through wxapush's `send` function — once, however often the event is delivered.
//
// Runs as a CloudBase or SCF Node.js function (exports.main; Node 18+, no dependencies: the
// global fetch), or is required by any Node service (notifyOrderShipped).
'use strict'

// The send function's Function URL (SCF console → send → 函数 URL), the admin key, and your
// template. Keep the key in the function's environment (or SSM), never in a mini-program.
const SEND_URL = process.env.WXAPUSH_SEND_URL
const ADMIN_KEY = process.env.WXAPUSH_ADMIN_KEY
const TEMPLATE_ID = process.env.ORDER_SHIPPED_TEMPLATE_ID
// Waits longer than this are left to the event's redelivery (e.g. WeChat's daily quota, whose
// retry_after runs to midnight Beijing time).
const MAX_WAIT_SECONDS = 30

const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000))

// The request for one order: every keyword of the template, each within WeChat's rule for its
// type (the values here fit wxemu's demo template 订单发货通知).
function shippedMessage(order) {
  return {
    touser: order.openid,
    template_id: TEMPLATE_ID,
    page: `pages/order/detail?id=${encodeURIComponent(order.id)}`,
    data: {
      thing1: order.product.slice(0, 20), // thing: at most 20 characters
      character_string2: order.trackingNo,
      date3: order.shippedAt, // 'YYYY-MM-DD HH:mm'
      amount6: order.amount,
    },
    // One key per order and event. A redelivered event, a retry after a timeout, two workers
    // racing: all carry the same key, and wxapush sends once and answers the first outcome
    // again ("duplicate": true). The next order's key differs, so it is never mistaken for one.
    idempotency_key: `order-${order.id}-shipped`,
  }
}

async function postOnce(body) {
  const response = await fetch(SEND_URL, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN_KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  })
  return response.json()
}

// Send, retrying what may pass later. errcode 0 is success, now or before ("duplicate": true).
// A refusal (not_subscribed, invalid_argument …) is returned as it is: retrying cannot help.
async function notifyOrderShipped(order, { attempts = 3 } = {}) {
  const body = shippedMessage(order)
  for (let attempt = 1; ; attempt += 1) {
    let answer
    try {
      answer = await postOnce(body)
    } catch (error) {
      // No answer (network, timeout): the request may or may not have arrived. Sending it
      // again is safe because of the idempotency key.
      if (attempt >= attempts) throw error
      await sleep(attempt)
      continue
    }
    if (answer.errcode === 0 || !answer.retryable || attempt >= attempts) return answer
    const wait = answer.retry_after !== undefined ? answer.retry_after : attempt
    if (wait > MAX_WAIT_SECONDS) return answer // let the event come back later
    await sleep(wait)
  }
}

// The function's entry: the event is the order service's `{type, order}`.
exports.main = async (event) => {
  if (!event || event.type !== 'order.shipped') return { skipped: true }
  return notifyOrderShipped(event.order)
}
exports.notifyOrderShipped = notifyOrderShipped
exports.shippedMessage = shippedMessage
