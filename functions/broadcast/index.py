"""SCF / CloudBase entry point of the broadcast function (handler: index.main_handler)."""

from wxapush import runtime
from wxapush.services import broadcast


def main_handler(event, context):  # type: ignore[no-untyped-def]
    return runtime.invoke(broadcast.run, event, context, request_limit=broadcast.MAX_REQUEST)
