"""SCF / CloudBase entry point of the get_token function (handler: index.main_handler)."""

from wxapush import runtime
from wxapush.services import get_token


def main_handler(event, context):  # type: ignore[no-untyped-def]
    return runtime.invoke(get_token.run, event, context)
