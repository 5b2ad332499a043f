"""The ``backprop`` command line: local checks now, the service's commands as they land."""
