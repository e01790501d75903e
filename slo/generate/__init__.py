"""Pure generators: an SLO and its window table in, Prometheus rules out (no I/O here)."""

from infermeter.slo.generate.pipeline import GenerateOptions, generate_group, generate_slo

__all__ = ["GenerateOptions", "generate_group", "generate_slo"]
