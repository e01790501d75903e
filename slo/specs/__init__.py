"""Pydantic models of the input formats, one module each; no generation logic here."""
