"""The ``infermeter`` command line."""
