"""SCF entry point of the receive_event function (handler: index.main_handler).

Over HTTP (a Function URL or the API gateway), WeChat is authenticated by its signature, not
by the admin key, and the body (XML or JSON) is read raw.
"""

from wxapush import runtime
from wxapush.services import receive_event


def main_handler(event, context):  # type: ignore[no-untyped-def]
    return runtime.invoke(
        receive_event.run, event, context, auth="none", raw_body=True, methods=("GET", "POST")
    )
