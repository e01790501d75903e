"""infermeter.slo"""
