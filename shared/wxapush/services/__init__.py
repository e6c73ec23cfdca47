"""One module per function: the logic each entry point calls with an ``Invocation``."""
