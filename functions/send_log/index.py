"""SCF / CloudBase entry point of the send_log function (handler: index.main_handler)."""

from wxapush import runtime
from wxapush.services import send_log


def main_handler(event, context):  # type: ignore[no-untyped-def]
    return runtime.invoke(send_log.run, event, context, methods=("GET", "POST"))
