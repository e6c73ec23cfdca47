"""SCF / CloudBase entry point of the dashboard function (handler: index.main_handler)."""

from wxapush import runtime
from wxapush.services import dashboard


def main_handler(event, context):  # type: ignore[no-untyped-def]
    return runtime.invoke(
        dashboard.run,
        event,
        context,
        auth="none",
        raw_body=True,
        methods=None,
        headers=dashboard.SECURITY_HEADERS,
    )
