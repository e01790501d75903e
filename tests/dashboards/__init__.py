"""Tests of the Grafana dashboards (generation, provisioning, every query against real engines)."""
