"""Small PromQL builders so that every dashboard writes selectors, rates and quantiles one way."""

from __future__ import annotations

from infermeter.dashboards.grafana import conventions as c

RATE = "$__rate_interval"
QUANTILES = (0.5, 0.95, 0.99)


def sel(*matchers: str, **regex_vars: str) -> str:
    """A label selector: fixed matchers plus ``label=~"$var"`` for each ``label=var`` keyword."""
    parts = list(matchers) + [f'{label}=~"${var}"' for label, var in regex_vars.items()]
    return "{" + ", ".join(parts) + "}"


def rate(metric: str, selector: str, window: str = RATE) -> str:
    return f"rate({metric}{selector}[{window}])"


def sum_rate(metric: str, selector: str, by: str = "", window: str = RATE) -> str:
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} ({rate(metric, selector, window)})"


def quantile(q: float, histogram: str, selector: str, by: str = "") -> str:
    """``histogram_quantile`` over a classic histogram's buckets, summed by ``le`` (and ``by``)."""
    grouping = f"le, {by}" if by else "le"
    return f"histogram_quantile({q:g}, sum by ({grouping}) ({rate(histogram + '_bucket', selector)}))"


def mean(histogram: str, selector: str, by: str = "") -> str:
    return f"{sum_rate(histogram + '_sum', selector, by)} / {sum_rate(histogram + '_count', selector, by)}"


def dcgm_by_deployment(expr: str) -> str:
    """Add a ``deployment`` label to dcgm-exporter series from the ``pod`` that holds the GPU."""
    return (
        f'label_replace({expr}, "{c.LABEL_DEPLOYMENT}", "$1", "{c.DCGM_POD_LABEL}", "{c.DCGM_POD_DEPLOYMENT_RE}")'
    )


def dcgm_sel(*matchers: str, gpu_var: bool = True) -> str:
    """dcgm-exporter selector for the dashboard's ``deployment`` and ``gpu`` variables.

    With All (``.*``) every GPU matches, those without a pod too; with deployments chosen, the
    GPUs whose pod belongs to one of them (``<deployment>-<rs hash>-<pod hash>`` or ``<name>-<ordinal>``).
    """
    pod_re = f"(${c.VAR_DEPLOYMENT})(?:{c.DCGM_POD_SUFFIX_RE})?"
    parts = [*matchers, f'{c.DCGM_POD_LABEL}=~"{pod_re}"']
    if gpu_var:
        parts.append(f'{c.DCGM_UUID_LABEL}=~"${c.VAR_GPU}"')
    return "{" + ", ".join(parts) + "}"


GPU_LEGEND = "{{Hostname}}{{hostname}} GPU {{gpu}}"
