"""infermeter.ingest"""
