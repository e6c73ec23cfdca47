"""SCF / CloudBase entry point of the refresh_code function (handler: index.main_handler)."""

from wxapush import runtime
from wxapush.services import refresh_code


def main_handler(event, context):  # type: ignore[no-untyped-def]
    return runtime.invoke(refresh_code.run, event, context)
