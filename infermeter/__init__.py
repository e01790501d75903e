"""infermeter: observability, SLOs and cost attribution for shared GPU inference fleets."""

__version__ = "0.1.0"
