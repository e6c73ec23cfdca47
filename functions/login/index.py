"""SCF / CloudBase entry point of the login function (handler: index.main_handler).

Over HTTP anyone may call it: the ``wx.login`` code in the body is the credential.
"""

from wxapush import runtime
from wxapush.services import login


def main_handler(event, context):  # type: ignore[no-untyped-def]
    return runtime.invoke(login.run, event, context, auth="none")
