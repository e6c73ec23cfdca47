"""SCF / CloudBase entry point of the send function (handler: index.main_handler)."""

from wxapush import runtime
from wxapush.services import send


def main_handler(event, context):  # type: ignore[no-untyped-def]
    return runtime.invoke(send.run, event, context)
