"""Run a child process of the test suite on the suite's clock (see tests/suite_clock.py).

On PYTHONPATH only while the suite runs; does nothing without ``SUITE_CLOCK_SHIFT``.
"""

import os

_shift = os.environ.get("SUITE_CLOCK_SHIFT")
if _shift:
    import time

    try:
        import time_machine
    except ImportError:  # an interpreter without the dev extra (the Python 3.9 syntax check)
        pass
    else:
        _traveller = time_machine.travel(time.time() + float(_shift), tick=True)
        _traveller.start()
        time.time()  # the clock starts ticking at its first reading: now, not when first read
