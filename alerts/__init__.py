"""infermeter.alerts"""
