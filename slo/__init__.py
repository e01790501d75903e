"""infermeter.slo: SLO specs (Sloth, Sloth Kubernetes, OpenSLO, infermeter/v1) to Prometheus rules.

Flow: ``specs`` (input models) -> ``mapping`` -> ``model`` -> ``generate`` (pure) -> ``render``;
``service`` is the I/O edge the CLI uses. See docs/slo.md.
"""
