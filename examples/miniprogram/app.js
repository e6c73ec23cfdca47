// The example's App. pages/subscribe/ calls the functions through CloudBase: set CLOUD_ENV to
// your environment ID (云开发控制台 → 环境 ID) to use it. pages/subscribe_http/ needs nothing here.
const CLOUD_ENV = ''

App({
  onLaunch() {
    if (CLOUD_ENV && wx.cloud) {
      wx.cloud.init({ env: CLOUD_ENV, traceUser: true })
    }
  },
})
